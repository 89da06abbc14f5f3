import type { Readable } from 'node:stream';
import { isBodyStream, toReadable, type BodyStream } from './bodies.js';
import { ErrorCode, RestpipeError } from './errors.js';
import { headerListFrom } from './http-headers.js';
import { clampTimerMs, isPositiveDuration } from './options/validate.js';
import { truncate } from './text.js';

/**
 * The verbs an event may carry (SPEC §4: the HTTP method in lower case). `head` and `options`
 * came with forwarding (SPEC §10): a `head` event with no `head_NOUN` handler runs `get_NOUN`
 * and its reply keeps only the body's length.
 */
export const VERBS = ['get', 'post', 'put', 'delete', 'patch', 'head', 'options'] as const;
export type Verb = (typeof VERBS)[number];

const VERB_SET: ReadonlySet<string> = new Set(VERBS);

/** True for one of the {@link VERBS}. */
export function isVerb(value: string): value is Verb {
  return VERB_SET.has(value);
}

/** Return codes of a reply (the original's numbers, and restpipe's own from 250 up). */
export const ReturnCode = {
  OK: 0,
  /** restpipe's own: the event's body does not parse as its mimetype says (JSON); data is a JSON error. */
  BAD_REQUEST: 250,
  /** The handler threw; data is `{"exception": {"message", "traceback", "class"}}`. */
  HANDLER_EXCEPTION: 251,
  /**
   * restpipe's own: a body was over the limit of the node that had to buffer it (a request body
   * for a handler that takes it whole, over the receiving node's `--max-body`); data is a JSON error.
   */
  REPLY_TOO_LARGE: 252,
  /** restpipe's own: the receiving node had too many events in flight on this pipe. */
  BUSY: 253,
  /** restpipe's own: the receiving node's access rules refuse this caller this event; data is a JSON error `forbidden`. */
  FORBIDDEN: 254,
  /** No handler for this verb and noun (or a verb or noun no handler can have). */
  NO_HANDLER: 255,
  /**
   * restpipe's own: a forward's upstream (SPEC §10) could not be reached or did not answer in
   * time; data is a JSON error `upstream_unreachable` (HTTP 502) or `upstream_timeout` (504).
   */
  UPSTREAM_FAILED: 256,
} as const;

/**
 * HTTP headers as they travel with events and replies (SPEC §9): a flat list of name, value,
 * name, value… (as Node's `rawHeaders`), names in lower case, hop-by-hop ones left out
 * (http-headers.ts).
 */
export type HeaderList = readonly string[];


/** What a caller sends: the event of SPEC §1. */
export interface EventRequest {
  verb: Verb;
  /** A path such as `time` or `cat//hello%20/world` (parameters after `//`, percent-encoded). */
  noun: string;
  /** @default '' (no body) */
  mimetype?: string;
  /** The body: bytes, a string (sent as UTF-8), or a stream of any size (streamed, SPEC §9). */
  data?: Uint8Array | string | BodyStream;
  /** The stream's size in bytes when known (the far side sees it as Content-Length); checked. */
  length?: number;
  /** HTTP headers for the far side's `ctx.headers`: `{ name: value }` or `[[name, value], …]`. */
  headers?: Readonly<Record<string, string | number | readonly string[]>> | readonly (readonly [string, string])[];
  /** A URL query string without the leading `?`, passed to the handler. */
  query?: string;
}

/**
 * What comes back: the far side's answer. A handler's failure is a reply too (code 251).
 * From `send()` the body is in `data`, whole (up to `--max-body`); with `{ stream: true }` it is
 * in `body` (see StreamReply).
 */
export interface Reply {
  code: number;
  mimetype: string;
  /** The body, when it is in memory; empty when `body` streams it. */
  data: Uint8Array;
  /** An HTTP status the handler chose; the gateway derives one from `code` when absent. */
  status?: number;
  /** HTTP headers the handler set (lower-case names, flat list); absent when none. */
  headers?: HeaderList;
  /** The body as a stream, when it is not in memory. */
  body?: Readable;
  /** The body's size in bytes when known (`data`'s, or the stream's `Content-Length`). */
  length?: number;
}

/** A reply whose body arrives as a stream (`send(event, { stream: true })`). */
export interface StreamReply extends Reply {
  /** The reply body: ends cleanly only when all of it arrived; any abnormal end is an 'error'. */
  body: Readable;
}

/**
 * An event's head, parsed and checked once, where the event enters a node: the gateway or
 * `send()` for an event this node sends, the pipe for one a peer sent (a peer may be hostile).
 * Everything after that point (the pipe, the dispatcher, the handler table) trusts it.
 */
export interface EventHead {
  verb: Verb;
  /** The noun as sent, parameters still percent-encoded: `cat//hello%20/world`. */
  noun: string;
  /** The noun without its parameters: `cat`. */
  path: string;
  /** The percent-decoded parameters after `//`: `['hello ', 'world']`. */
  params: string[];
  /**
   * The handler method the event goes to: `get_cat` (SPEC §5); '' for a noun no handler can
   * have (a URL path such as `files/docs/a.pdf`: only a forward, SPEC §10, can take it).
   */
  method: string;
  /** The query string without the `?` ('' when none). */
  query: string;
}

/** A parsed event with its body: what the pipe sends and the dispatcher receives. */
export interface ParsedEvent extends EventHead {
  /** '' when the event has none. */
  mimetype: string;
  /** The body, when it is in memory; empty when `body` streams it. */
  data: Uint8Array;
  /** The body as a stream (SPEC §9), when it is not in memory. */
  body?: Readable;
  /** The body's size in bytes when known (a stream's declared length). */
  length?: number;
  /** HTTP headers that travel with the event (lower-case names, flat list); absent when none. */
  headers?: HeaderList;
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
  /** The request's HTTP headers (lower-case names; repeated ones joined with `, `). */
  headers: Readonly<Record<string, string>>;
  /**
   * The request body as a stream: the live body for a handler marked `streaming(fn)`, else the
   * buffered bytes replayed. Ends with an 'error' (never cleanly) when the body broke off.
   */
  body: Readable;
}

/** Gives an event's AbortSignal when asked: the pipe makes one only for a handler that looks at it. */
export interface SignalSource {
  readonly signal: AbortSignal;
  /** Whether the signal has fired, without making it. */
  readonly aborted?: boolean;
}

/**
 * Turns an inbound event into a reply; the pipe session calls it for every event it receives
 * (the dispatcher). `signal` is the event's AbortSignal, or a {@link SignalSource} that makes it
 * on demand. Never rejects in practice: every outcome is a reply.
 */
export type EventHandlerFn = (event: ParsedEvent, peer: PeerInfo, signal: AbortSignal | SignalSource) => Promise<Reply>;

/** What a caller may pass with an event to `send()`. */
export interface SendOptions {
  /**
   * Resolve as soon as the reply's head arrives, with its body as a stream (a StreamReply)
   * instead of buffered in `data` (which is limited to `--max-body`). @default false
   */
  stream?: boolean;
  /** Gives up on the event: rejects with `aborted`, and the far side's handler sees its signal fire. */
  signal?: AbortSignal;
  /** How long to wait for the reply, ms (clamped to a timer's range). @default the node's eventTimeoutMs */
  timeoutMs?: number;
  /** How long to wait for a missing pipe, ms; 0 = do not wait. @default the node's connectWaitMs */
  connectWaitMs?: number;
}

/** {@link SendOptions} checked once at the edge, defaults applied: what the pipe trusts. */
export interface ResolvedSendOptions {
  signal: AbortSignal | undefined;
  stream: boolean;
  timeoutMs: number;
  connectWaitMs: number;
}

const NOUN_PATH = /^[A-Za-z0-9_-]+(?:\/[A-Za-z0-9_-]+)*$/;
const EMPTY = new Uint8Array(0);

/** A noun split into the handler path and its decoded parameters. */
export interface ParsedNoun {
  path: string;
  params: string[];
  /** False for a noun only a forward can take: `path` is then the whole noun, unparsed. */
  handler: boolean;
}

/**
 * RFC 3986 path characters (pchar and `/`): what a noun may hold at all, since forwarded
 * nouns are URL paths (SPEC §10). `%` must start a two-hex-digit escape (checked apart).
 */
const URL_PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@%/]*$/;
const BAD_ESCAPE = /%(?![0-9A-Fa-f]{2})/;
// A segment that is `.` or `..`, also when written `%2e` / `%2E` (RFC 3986 §6.2.2.2 says they
// are the same; a proxy in front of us may well decode them).
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2[eE]){1,2}(?=\/|$)/;

/**
 * Splits `cat//hello%20/world` into path `cat` and parameters `['hello ', 'world']`: a noun a
 * handler can have (SPEC §5). The path is segments of letters, digits, `_` and `-` joined by
 * `/`: no dot segments, no empty segments, nothing that could name a prototype internal once
 * mapped to a method name; the parameters after `//` must percent-decode.
 *
 * A noun whose path is not such (`files/docs/a.pdf`) but is a safe URL path (RFC 3986 path
 * characters, well-formed escapes, no `.`/`..` segment, not starting with `/`) is taken as it
 * is, with `handler` false: a forward (SPEC §10) may take it, no handler can; the node that
 * receives it says why ({@link handlerNounProblem}) when no forward does.
 * @throws RestpipeError `bad_request` naming what is wrong, for a noun that is neither.
 */
export function parseNoun(noun: string): ParsedNoun {
  const split = noun.indexOf('//');
  const path = split === -1 ? noun : noun.slice(0, split);
  if (NOUN_PATH.test(path)) {
    if (split === -1) return { path, params: [], handler: true };
    const rest = noun.slice(split + 2);
    return { path, params: rest === '' ? [] : rest.split('/').map(decodeParam), handler: true };
  }
  if (path === '' || noun.charCodeAt(0) === 0x2f /* / */ || !URL_PATH_CHARS.test(noun) || BAD_ESCAPE.test(noun) || DOT_SEGMENT.test(noun)) {
    throw new RestpipeError(ErrorCode.BAD_REQUEST, handlerNounProblem(noun) ?? `invalid noun ${JSON.stringify(truncate(noun))}`);
  }
  return { path: noun, params: [], handler: false };
}

/**
 * Why a noun may not become a URL path (a forward's, SPEC §10), or undefined: characters other
 * than RFC 3986's path characters, a `%` not starting an escape, a `.` or `..` segment (also
 * `%2e`), or a leading `/`. A noun a handler can have passes parseNoun with its parameters
 * decoded (`files//../x` is the parameters `..` and `x` to a handler): a forward checks it here
 * too, so that no noun climbs out of its prefix.
 */
export function urlPathProblem(noun: string): string | undefined {
  if (noun.charCodeAt(0) === 0x2f || !URL_PATH_CHARS.test(noun)) return `noun ${JSON.stringify(truncate(noun))} is not a URL path (RFC 3986 path characters only)`;
  if (BAD_ESCAPE.test(noun)) return `malformed percent-encoding in noun ${JSON.stringify(truncate(noun))}`;
  if (DOT_SEGMENT.test(noun)) return `noun ${JSON.stringify(truncate(noun))} contains a '.' or '..' segment`;
  return undefined;
}

/**
 * Why no handler can have this noun (the message of the `bad_request` it gets when no forward
 * takes it either), or undefined when one can.
 */
export function handlerNounProblem(noun: string): string | undefined {
  const split = noun.indexOf('//');
  const path = split === -1 ? noun : noun.slice(0, split);
  if (NOUN_PATH.test(path)) return undefined;
  return path === '' ? 'empty noun' : `invalid noun ${JSON.stringify(truncate(path))}: use letters, digits, '_' and '-' in '/'-separated segments`;
}

// decodeURIComponent fails on a `%` not followed by two hex digits, or on bytes that are not
// UTF-8 (`%c0%af`, `%ff`): the caller deserves to know which of the two it was.
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

/**
 * Parses and checks an event's head: a known verb, a well-formed noun whose parameters decode.
 * `verb` is any string (a peer's is whatever it put on the wire).
 * @throws RestpipeError `method_not_allowed` for another verb, `bad_request` for a bad noun.
 */
export function parseEventHead(verb: string, noun: string, query: string): EventHead {
  return parseEventWithBody(verb, noun, query, undefined, undefined);
}

/**
 * {@link parseEventHead} and the body in one object (no second object on the hot path): with
 * `mimetype` and `data` it is a {@link ParsedEvent}.
 * @throws RestpipeError as parseEventHead.
 */
export function parseEventWithBody(verb: string, noun: string, query: string, mimetype: string, data: Uint8Array): ParsedEvent;
export function parseEventWithBody(verb: string, noun: string, query: string, mimetype: undefined, data: undefined): EventHead;
export function parseEventWithBody(verb: string, noun: string, query: string, mimetype: string | undefined, data: Uint8Array | undefined): EventHead | ParsedEvent {
  if (!isVerb(verb)) {
    throw new RestpipeError(ErrorCode.METHOD_NOT_ALLOWED, `unknown verb ${JSON.stringify(truncate(verb))}: use one of ${VERBS.join(', ')}`);
  }
  const { path, params, handler } = parseNoun(noun);
  const method = handler ? handlerMethodName(verb, path) : '';
  return mimetype === undefined ? { verb, noun, path, params, method, query } : { verb, noun, path, params, method, query, mimetype, data: data! };
}

/**
 * A library caller's event, checked and parsed once, as `send()` takes it: an object with a
 * known verb, a well-formed noun, a body of bytes or text (text becomes UTF-8), string mimetype
 * and query.
 * @throws RestpipeError `bad_request` (`method_not_allowed` is `bad_request` here too: a
 *   caller's typo, not an HTTP method).
 */
export function parseEvent(event: EventRequest): ParsedEvent {
  if (typeof event !== 'object' || event === null) throw new RestpipeError(ErrorCode.BAD_REQUEST, 'an event must be an object');
  const { verb, noun, mimetype = '', data, query = '', length, headers } = event;
  if (typeof verb !== 'string' || !isVerb(verb)) {
    throw new RestpipeError(ErrorCode.BAD_REQUEST, `unknown verb ${JSON.stringify(truncate(String(verb)))}: use one of ${VERBS.join(', ')}`);
  }
  if (typeof noun !== 'string') throw new RestpipeError(ErrorCode.BAD_REQUEST, 'the noun must be a string');
  if (typeof mimetype !== 'string') throw new RestpipeError(ErrorCode.BAD_REQUEST, 'the mimetype must be a string');
  if (typeof query !== 'string') throw new RestpipeError(ErrorCode.BAD_REQUEST, 'the query must be a string');
  if (length !== undefined && (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0)) {
    throw new RestpipeError(ErrorCode.BAD_REQUEST, 'the length must be a whole number of bytes');
  }
  let bytes: Uint8Array = EMPTY;
  let stream: Readable | undefined;
  if (data === undefined) bytes = EMPTY;
  else if (typeof data === 'string') bytes = Buffer.from(data);
  else if (data instanceof Uint8Array) bytes = data;
  else if (isBodyStream(data)) stream = toReadable(data);
  else throw new RestpipeError(ErrorCode.BAD_REQUEST, 'event data must be a string, bytes, or a stream (Readable, async iterable, ReadableStream)');
  if (stream === undefined && length !== undefined && length !== bytes.byteLength) {
    throw new RestpipeError(ErrorCode.BAD_REQUEST, `the length ${length} does not match the ${bytes.byteLength} bytes of data`);
  }
  let headerList: string[] | undefined;
  if (headers !== undefined) {
    try {
      headerList = headerListFrom(headers, 'event');
    } catch (err) {
      throw new RestpipeError(ErrorCode.BAD_REQUEST, (err as Error).message);
    }
  }
  const parsed = parseEventWithBody(verb, noun, query, mimetype, bytes);
  if (stream !== undefined) parsed.body = stream;
  if (length !== undefined) parsed.length = length;
  if (headerList !== undefined && headerList.length > 0) parsed.headers = headerList;
  return parsed;
}

/**
 * A caller's {@link SendOptions}, checked once where the event enters the node: `timeoutMs` a
 * positive number of ms and `connectWaitMs` a non-negative one (both clamped to a timer's
 * range), `signal` an AbortSignal; the node's defaults fill in what is absent.
 * @throws RestpipeError `bad_request` naming the option.
 */
export function resolveSendOptions(options: SendOptions, defaults: { eventTimeoutMs: number; connectWaitMs: number }): ResolvedSendOptions {
  if (typeof options !== 'object' || options === null) throw new RestpipeError(ErrorCode.BAD_REQUEST, 'send options must be an object');
  const { signal, timeoutMs, connectWaitMs, stream = false } = options;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new RestpipeError(ErrorCode.BAD_REQUEST, 'signal must be an AbortSignal');
  if (typeof stream !== 'boolean') throw new RestpipeError(ErrorCode.BAD_REQUEST, 'stream must be true or false');
  return {
    signal,
    stream,
    timeoutMs: timeoutMs === undefined ? defaults.eventTimeoutMs : checkedMs('timeoutMs', timeoutMs, false),
    connectWaitMs: connectWaitMs === undefined ? defaults.connectWaitMs : checkedMs('connectWaitMs', connectWaitMs, true),
  };
}

function checkedMs(name: string, value: number, allowZero: boolean): number {
  if (allowZero && value === 0) return 0;
  if (!isPositiveDuration(value)) {
    throw new RestpipeError(ErrorCode.BAD_REQUEST, `${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds, got ${String(value)}`);
  }
  return clampTimerMs(value);
}

/** True for `application/json` and `…+json` mimetypes, parameters ignored. */
export function isJsonMimetype(mimetype: string): boolean {
  const base = mimetype.split(';', 1)[0]!.trim().toLowerCase();
  return base === 'application/json' || base.endsWith('+json');
}
