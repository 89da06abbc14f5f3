import { ErrorCode, RestpipeError } from './errors.js';
import { truncate } from './text.js';

/** The five verbs an event may carry (SPEC §4: the HTTP method in lower case). */
export const VERBS = ['get', 'post', 'put', 'delete', 'patch'] as const;
export type Verb = (typeof VERBS)[number];

export function isVerb(value: string): value is Verb {
  return (VERBS as readonly string[]).includes(value);
}

/** Return codes of a reply (the original's numbers). */
export const ReturnCode = {
  OK: 0,
  /** The handler threw; data is `{"exception": {"message", "traceback", "class"}}`. */
  HANDLER_EXCEPTION: 251,
  /** restpipe's own: the reply body was over the limit; data is a JSON error (HTTP 413). */
  REPLY_TOO_LARGE: 252,
  /** restpipe's own: the receiving node had too many events in flight on this pipe (HTTP 503). */
  BUSY: 253,
  /** No handler for this verb and noun. */
  NO_HANDLER: 255,
} as const;

/** What a caller sends: the event of SPEC §1. */
export interface EventRequest {
  verb: Verb;
  /** A path such as `time` or `cat//hello%20/world` (parameters after `//`, percent-encoded). */
  noun: string;
  /** @default '' (no body) */
  mimetype?: string;
  /** The body; a string is sent as UTF-8. */
  data?: Uint8Array | string;
  /** A URL query string without the leading `?`, passed to the handler. */
  query?: string;
}

/** What comes back: the far side's answer. A handler's failure is a reply too (code 251). */
export interface Reply {
  code: number;
  mimetype: string;
  data: Uint8Array;
  /** An HTTP status the handler chose; the gateway derives one from `code` when absent. */
  status?: number;
}

/** Who sent an event to this node. */
export interface PeerInfo {
  /** The client's certificate CN, or the server's. */
  name: string;
  /** The peer's IP address as this node sees it. */
  address: string;
}

/** The first argument of every handler call (SPEC §5). */
export interface HandlerContext {
  peer: PeerInfo;
  verb: Verb;
  /** The noun without its parameters: `cat` for `cat//hello/world`. */
  noun: string;
  /** The percent-decoded parameters after `//`. */
  params: string[];
  query: URLSearchParams;
  /** Fires when the caller gives up (cancel, timeout) or the pipe drops. */
  signal: AbortSignal;
}

/** An inbound event as the pipe hands it to dispatch. */
export interface InboundEvent {
  verb: Verb;
  noun: string;
  mimetype: string;
  data: Uint8Array;
  query: string;
}

/** Gives an event's AbortSignal when asked: the pipe makes one only for a handler that looks at it. */
export interface SignalSource {
  readonly signal: AbortSignal;
}

/**
 * Turns an inbound event into a reply; the pipe session calls it for every event it receives.
 * `signal` is the event's AbortSignal, or a {@link SignalSource} that makes it on demand.
 */
export type EventHandlerFn = (event: InboundEvent, peer: PeerInfo, signal: AbortSignal | SignalSource) => Promise<Reply>;

const NOUN_PATH = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/;

/** A noun split into the handler path and its decoded parameters. */
export interface ParsedNoun {
  path: string;
  params: string[];
}

/**
 * Splits `cat//hello%20/world` into path `cat` and parameters `['hello ', 'world']`.
 * The path is segments of letters, digits, `_` and `-` joined by `/`: no dot segments, no empty
 * segments, nothing that could name a prototype internal once mapped to a method name.
 * @throws RestpipeError `bad_request` naming what is wrong.
 */
export function parseNoun(noun: string): ParsedNoun {
  const split = noun.indexOf('//');
  const path = split === -1 ? noun : noun.slice(0, split);
  if (!NOUN_PATH.test(path)) {
    throw new RestpipeError(
      ErrorCode.BAD_REQUEST,
      path === ''
        ? 'empty noun'
        : `invalid noun ${JSON.stringify(truncate(path))}: use letters, digits, '_' and '-' in '/'-separated segments`,
    );
  }
  if (split === -1) return { path, params: [] };
  const rest = noun.slice(split + 2);
  const params = rest === '' ? [] : rest.split('/').map(decodeParam);
  return { path, params };
}

// `%` not followed by two hex digits; the other way decodeURIComponent fails is bytes that
// are not UTF-8 (`%c0%af`, `%ff`), and the caller deserves to know which of the two it was.
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;

function decodeParam(raw: string): string {
  let param: string;
  try {
    param = decodeURIComponent(raw);
  } catch {
    const what = BAD_ESCAPE.test(raw) ? 'malformed percent-encoding' : 'percent-encoded bytes that are not valid UTF-8';
    throw new RestpipeError(ErrorCode.BAD_REQUEST, `${what} in parameter ${JSON.stringify(truncate(raw))}`);
  }
  // A NUL cuts C strings and file names short (`report%00.pdf`), and Node's fs throws on it
  // anyway: refuse it here, with a message, rather than deep inside some handler.
  if (param.includes('\0')) {
    throw new RestpipeError(ErrorCode.BAD_REQUEST, `parameter ${JSON.stringify(truncate(raw))} decodes to a NUL character (%00)`);
  }
  return param;
}

/** The handler method an event goes to: GET `time/utc` → `get_time_utc` (SPEC §5). */
export function handlerMethodName(verb: Verb, path: string): string {
  return `${verb}_${path.replaceAll('/', '_')}`;
}

/** True for `application/json` and `…+json` mimetypes, parameters ignored. */
export function isJsonMimetype(mimetype: string): boolean {
  const base = mimetype.split(';', 1)[0]!.trim().toLowerCase();
  return base === 'application/json' || base.endsWith('+json');
}

/**
 * Checks an event before it is sent: a known verb, a well-formed noun, a body of bytes or text.
 * @throws RestpipeError `bad_request`.
 */
export function validateEventRequest(event: EventRequest): void {
  if (typeof event !== 'object' || event === null) throw new RestpipeError(ErrorCode.BAD_REQUEST, 'an event must be an object');
  if (typeof event.verb !== 'string' || !isVerb(event.verb)) {
    throw new RestpipeError(ErrorCode.BAD_REQUEST, `unknown verb ${JSON.stringify(String(event.verb))}: use one of ${VERBS.join(', ')}`);
  }
  if (typeof event.noun !== 'string') throw new RestpipeError(ErrorCode.BAD_REQUEST, 'the noun must be a string');
  parseNoun(event.noun);
  const { data } = event;
  if (data !== undefined && typeof data !== 'string' && !(data instanceof Uint8Array)) {
    throw new RestpipeError(ErrorCode.BAD_REQUEST, 'event data must be a string, a Buffer or a Uint8Array');
  }
}
