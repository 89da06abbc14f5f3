/**
 * The closed set of error codes a user of restpipe can see: a RestpipeError's `code`, and the
 * `error.code` of every JSON error body (the gateway's and the far side's). Callers match on
 * `code`, never on `instanceof` (a handler module may load its own copy of restpipe). The
 * gateway maps each code to one HTTP status in `gateway/http-errors.ts`; the README lists them
 * all (a test keeps the three in step).
 */
export const ErrorCode = {
  /** No pipe to the target node appeared within connect-wait. */
  NO_CONNECTION: 'no_connection',
  /** The pipe broke (heartbeat timeout, reset, protocol error, replaced) while the event was in flight. */
  PIPE_BROKEN: 'pipe_broken',
  /** No reply within the event's deadline. */
  EVENT_TIMEOUT: 'event_timeout',
  /** The node is shutting down and takes no new events. */
  CLOSED: 'closed',
  /** The per-pipe limit of events in flight is reached. */
  TOO_MANY_IN_FLIGHT: 'too_many_in_flight',
  /** A body over the configured maximum. */
  BODY_TOO_LARGE: 'body_too_large',
  /** Malformed path, percent-encoding, node name, JSON body or timeout. */
  BAD_REQUEST: 'bad_request',
  /** The request line and headers exceed the HTTP parser's limit. */
  HEADERS_TOO_LARGE: 'headers_too_large',
  /** The request's headers, or the whole request, did not arrive within the gateway's timeouts. */
  REQUEST_TIMEOUT: 'request_timeout',
  /** An HTTP method other than GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS. */
  METHOD_NOT_ALLOWED: 'method_not_allowed',
  /** The gateway route does not exist. */
  NOT_FOUND: 'not_found',
  /** A request refused by the gateway's Host/Origin checks, or an event refused by the receiving node's access rules (return code 254). */
  FORBIDDEN: 'forbidden',
  /** The caller's AbortSignal fired. */
  ABORTED: 'aborted',
  /** The peer broke the wire protocol; the pipe is closed. */
  PROTOCOL_ERROR: 'protocol_error',
  /** The peer speaks another protocol version. */
  VERSION_MISMATCH: 'version_mismatch',
  /** A TLS peer was refused (certificate, handshake). */
  TLS_REFUSED: 'tls_refused',
  /** An option, flag or config value is invalid. */
  INVALID_OPTION: 'invalid_option',
  /** An identity file (key, certificate, CA) failed validation. */
  IDENTITY_INVALID: 'identity_invalid',
  /** A handler module could not be loaded or has no handler methods. */
  HANDLER_INVALID: 'handler_invalid',
  /**
   * The far side has no handler for the event's verb and noun: the error body of its code 255
   * reply (an answer, not a failure: `send()` resolves with it).
   */
  NO_HANDLER: 'no_handler',
  /**
   * A streamed body ended abnormally after its head had gone: the far side's handler or its
   * source failed mid-stream (SPEC §9). The reader gets this error, never a clean end.
   */
  STREAM_RESET: 'stream_reset',
  /**
   * A forward's upstream (SPEC §10) refused or reset the connection, failed TLS, or sent a
   * response that cannot be passed on, before its response head: the error body of a return
   * code 256 reply (HTTP 502).
   */
  UPSTREAM_UNREACHABLE: 'upstream_unreachable',
  /** A forward's upstream sent no response head within `--forward-timeout` (return code 256, HTTP 504). */
  UPSTREAM_TIMEOUT: 'upstream_timeout',
  /** A failure that is none of the above: a bug, reported rather than hidden. */
  INTERNAL_ERROR: 'internal_error',
} as const;

export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The one error class callers see; `code` says what happened. */
export class RestpipeError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'RestpipeError';
  }
}

/** A wire-protocol violation; `reason` is what the log and the goaway say. */
export class ProtocolError extends RestpipeError {
  constructor(readonly reason: string) {
    super(ErrorCode.PROTOCOL_ERROR, reason);
    this.name = 'ProtocolError';
  }
}

/** A key, certificate or CA file that failed a check; names the file and the problem. */
export class IdentityError extends RestpipeError {
  constructor(
    readonly file: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(ErrorCode.IDENTITY_INVALID, `${file}: ${problem}`, options);
    this.name = 'IdentityError';
  }
}

/** The `aborted` error of an event whose caller's AbortSignal fired; the signal's reason is its cause. */
export function callerAborted(reason: unknown): RestpipeError {
  return new RestpipeError(ErrorCode.ABORTED, 'the caller gave up on the event', { cause: reason });
}

/** True when `err` is a restpipe error with that code (works across copies of the package). */
export function hasErrorCode(err: unknown, code: ErrorCode): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}
