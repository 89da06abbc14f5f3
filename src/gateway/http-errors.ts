import { ErrorCode, type RestpipeError } from '../errors.js';
import { ReturnCode, type Reply } from '../event.js';

/**
 * THE one place error codes meet HTTP (SPEC §4): every {@link ErrorCode} has exactly one
 * status here, and the JSON error body has one shape. A unit test holds the table to the
 * closed set of codes, so a new code cannot ship without a status.
 */
export const HTTP_STATUS_BY_ERROR_CODE: Readonly<Record<ErrorCode, number>> = Object.freeze({
  [ErrorCode.NO_CONNECTION]: 503,
  [ErrorCode.PIPE_BROKEN]: 502,
  [ErrorCode.EVENT_TIMEOUT]: 504,
  [ErrorCode.CLOSED]: 503,
  [ErrorCode.TOO_MANY_IN_FLIGHT]: 503,
  [ErrorCode.BODY_TOO_LARGE]: 413,
  [ErrorCode.BAD_REQUEST]: 400,
  [ErrorCode.HEADERS_TOO_LARGE]: 431,
  [ErrorCode.REQUEST_TIMEOUT]: 408,
  [ErrorCode.METHOD_NOT_ALLOWED]: 405,
  [ErrorCode.NOT_FOUND]: 404,
  [ErrorCode.FORBIDDEN]: 403,
  // The far side could not be spoken to properly: the gateway is a gateway to it (RFC 9110 §15.6.3).
  [ErrorCode.PROTOCOL_ERROR]: 502,
  [ErrorCode.VERSION_MISMATCH]: 502,
  [ErrorCode.TLS_REFUSED]: 502,
  // `aborted` means the caller hung up: nobody reads the status. The others are this node's
  // own misconfiguration, never a caller's fault.
  [ErrorCode.ABORTED]: 500,
  [ErrorCode.INVALID_OPTION]: 500,
  [ErrorCode.IDENTITY_INVALID]: 500,
  [ErrorCode.HANDLER_INVALID]: 500,
  [ErrorCode.NO_HANDLER]: 404,
  [ErrorCode.STREAM_RESET]: 502,
  [ErrorCode.UPSTREAM_UNREACHABLE]: 502,
  [ErrorCode.UPSTREAM_TIMEOUT]: 504,
  [ErrorCode.INTERNAL_ERROR]: 500,
});

const STATUS_BY_CODE: ReadonlyMap<string, number> = new Map(Object.entries(HTTP_STATUS_BY_ERROR_CODE));

/** True when `code` is one of restpipe's {@link ErrorCode}s. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && STATUS_BY_CODE.has(code);
}

/**
 * The HTTP status for an error code; 500 for a string that is not an {@link ErrorCode}
 * (an error from a foreign copy of the library or a plain `Error`).
 */
export function httpStatusOf(code: string): number {
  return STATUS_BY_CODE.get(code) ?? 500;
}

/**
 * The code and message a failed request is answered with. Matched on the code, not the class:
 * a handler module or sender may use its own copy of restpipe. A system error's code
 * (ECONNRESET, …) is not one of ours: `internal_error`, and `unexpected` (the gateway logs it).
 * `aborted` while the gateway is not closing means the body broke off but the socket lives (or
 * the sender gave up on its own): the request is unusable, `bad_request`.
 */
export function errorAnswer(err: unknown, closing: boolean): { code: string; message: string; unexpected: boolean } {
  if (err instanceof Error && isErrorCode((err as RestpipeError).code)) {
    const code = (err as RestpipeError).code;
    return { code: code === ErrorCode.ABORTED && !closing ? ErrorCode.BAD_REQUEST : code, message: err.message, unexpected: false };
  }
  return { code: ErrorCode.INTERNAL_ERROR, message: `internal error: ${err instanceof Error ? err.message : String(err)}`, unexpected: true };
}

/** SPEC §4's JSON error body, serialised: `{"error": {"code": "no_connection", "message": "…"}}`. */
export function errorBody(code: string, message: string): string {
  return JSON.stringify({ error: { code, message } });
}

/**
 * The HTTP status for a far-side reply (SPEC §4): the status the handler chose when it is a
 * usable final status (200–599), else by return code: 0 → 200, 255 (no handler) → 404,
 * 250 (the body does not parse) → 400, 251 (handler threw) → 500, 252 (reply too large) →
 * 413, 253 (far side busy) → 503, 254 (refused by the far side's access rules) → 403, 256
 * (a forward's upstream failed; its reply carries 502 or 504) → 502, any other code → 200 (the handler returned normally and chose that code; the caller reads it in
 * `X-Event-Return-Code`).
 *
 * A status of 1xx is never used as given: it is not a final status, and a peer could otherwise
 * make the gateway write an interim response followed by a body.
 */
export function replyStatus(reply: Reply): number {
  const s = reply.status;
  if (s !== undefined && Number.isInteger(s) && s >= 200 && s <= 599) return s;
  switch (reply.code) {
    case ReturnCode.OK:
      return 200;
    case ReturnCode.NO_HANDLER:
      return 404;
    case ReturnCode.BAD_REQUEST:
      return 400;
    case ReturnCode.HANDLER_EXCEPTION:
      return 500;
    case ReturnCode.REPLY_TOO_LARGE:
      return 413;
    case ReturnCode.BUSY:
      return 503;
    case ReturnCode.FORBIDDEN:
      return 403;
    case ReturnCode.UPSTREAM_FAILED:
      return 502;
    default:
      return 200;
  }
}

/** A JSON error response: status, headers (Content-Type, Content-Length) and body. */
export interface ErrorResponse {
  status: number;
  /** The error code of the body (SPEC §4). */
  code: string;
  headers: string[];
  body: Buffer;
  message: string;
  /** Not one of our errors (a bug, or a system error): worth an error log line. */
  unexpected: boolean;
}

/** SPEC §4's JSON error for `err` (its code and message as errorAnswer gives them). */
export function errorResponse(err: unknown, closing: boolean): ErrorResponse {
  const { code, message, unexpected } = errorAnswer(err, closing);
  const body = Buffer.from(errorBody(code, message));
  return { status: httpStatusOf(code), code, headers: ['Content-Type', 'application/json', 'Content-Length', String(body.byteLength)], body, message, unexpected };
}
