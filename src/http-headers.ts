/**
 * HTTP headers carried end to end by events and replies (SPEC §9): which ones travel, how many,
 * how big, and what is a valid one. Pure functions over Node's flat `rawHeaders` form
 * (name, value, name, value…; the wire's HeaderList).
 *
 * Not carried: the hop-by-hop headers (RFC 9110 §7.6.1: Connection and every header it names,
 * Keep-Alive, Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, TE, Trailer,
 * Transfer-Encoding, Upgrade), and what the pipe carries itself: Host (it names the gateway),
 * Content-Length (the head's body_length), Content-Type (the mimetype), Expect (the gateway
 * answers it), X-Event-Timeout (the head's timeout_ms) and X-Event-Return-Code (the reply's code).
 */

/** At most this many headers per event or reply. */
export const MAX_HEADER_COUNT = 100;
/** The longest header name, bytes. */
export const MAX_HEADER_NAME_BYTES = 256;
/** The longest header value, bytes: Node's own limit for all of a request's headers (16 KiB), so a request the gateway accepts never fails for the size of one header. */
export const MAX_HEADER_VALUE_BYTES = 16 * 1024;
/** All names and values of one event's or reply's headers together, bytes. */
export const MAX_HEADERS_BYTES = 32 * 1024;

const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** Headers the pipe carries in fields of its own, in either direction. */
const CARRIED_BY_THE_PIPE: ReadonlySet<string> = new Set(['host', 'content-length', 'content-type', 'expect', 'x-event-timeout', 'x-event-return-code']);

/** RFC 9110 §5.1 token: a header name. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Node's rule for header values (its `checkInvalidHeaderChar`): no CR, LF, NUL or other controls but tab. */
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Whether a header of this (lower-case) name stops at the gateway: hop-by-hop, or carried by
 * the pipe in a field of its own.
 */
export function isNotCarried(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName) || CARRIED_BY_THE_PIPE.has(lowerName);
}

/**
 * The headers of an HTTP message that travel with its event or reply: names in lower case,
 * without those of {@link isNotCarried} and those its Connection header names. `rawHeaders` is
 * Node's flat list. Returns the list, or a problem (too many, too big) to refuse it with.
 */
export function carriedHeaders(rawHeaders: readonly string[]): string[] | { problem: string } {
  let named: Set<string> | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() !== 'connection') continue;
    for (const token of rawHeaders[i + 1]!.split(',')) {
      const t = token.trim().toLowerCase();
      if (t !== '') (named ??= new Set()).add(t);
    }
  }
  const out: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    if (isNotCarried(name) || named?.has(name) === true) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  const problem = headerListProblem(out);
  return problem === undefined ? out : { problem };
}

/**
 * The headers of a gateway request's event: {@link carriedHeaders}, and its `Host` (which names
 * the gateway, so it does not travel as such) as `x-forwarded-host` unless a proxy in front set
 * one (SPEC §10: a forward's upstream sees what its caller asked for).
 */
export function gatewayEventHeaders(rawHeaders: readonly string[], host: string | undefined): string[] | { problem: string } {
  const list = carriedHeaders(rawHeaders);
  if (!Array.isArray(list) || host === undefined) return list;
  for (let i = 0; i < list.length; i += 2) if (list[i] === 'x-forwarded-host') return list;
  list.push('x-forwarded-host', host);
  const problem = headerListProblem(list);
  return problem === undefined ? list : { problem };
}

/**
 * Why a header list may not travel, or undefined: more than {@link MAX_HEADER_COUNT} headers, a
 * name or value or the whole over its size, a name that is not a lower-case token, a value
 * with characters HTTP does not allow, or a header that is not carried. The receiving node
 * checks a peer's list with this too (a peer may be hostile; an honest one never sends such).
 */
export function headerListProblem(list: readonly string[]): string | undefined {
  if (list.length % 2 !== 0) return 'a header without a value';
  if (list.length / 2 > MAX_HEADER_COUNT) return `${list.length / 2} headers (at most ${MAX_HEADER_COUNT})`;
  let total = 0;
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    const value = list[i + 1]!;
    if (typeof name !== 'string' || typeof value !== 'string') return 'a header name or value that is not a string';
    if (name.length > MAX_HEADER_NAME_BYTES || !TOKEN.test(name) || name !== name.toLowerCase()) return `the header name ${JSON.stringify(name.slice(0, 64))}`;
    if (value.length > MAX_HEADER_VALUE_BYTES) return `a value of ${value.length} bytes for header ${name} (at most ${MAX_HEADER_VALUE_BYTES})`;
    if (!VALUE.test(value)) return `a value with characters HTTP does not allow for header ${name}`;
    if (isNotCarried(name)) return `header ${name}, which does not travel through the pipe`;
    total += name.length + value.length;
  }
  if (total > MAX_HEADERS_BYTES) return `${total} bytes of headers (at most ${MAX_HEADERS_BYTES})`;
  return undefined;
}

/** Whether an event is a WebSocket handshake: a `get` with the `sec-websocket-key` the gateway passes on. */
export function isWebSocketHandshake(verb: string, list: readonly string[] | undefined): boolean {
  if (verb !== 'get' || list === undefined) return false;
  for (let i = 0; i < list.length; i += 2) if (list[i] === 'sec-websocket-key') return true;
  return false;
}

/**
 * A header list as a handler's `ctx.headers`: lower-case names to values, repeated headers
 * joined with `, ` (`cookie` with `; `, as Node's IncomingMessage does). An object without a
 * prototype, so a header named `__proto__` or `constructor` is just a header.
 */
export function headerRecord(list: readonly string[]): Record<string, string> {
  const out = Object.create(null) as Record<string, string>;
  for (let i = 0; i + 1 < list.length; i += 2) {
    const name = list[i]!;
    const value = list[i + 1]!;
    const before = out[name];
    out[name] = before === undefined ? value : `${before}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return out;
}

/** What a handler may give as reply headers: `{ name: value | [values] }` or `[[name, value], …]`. */
export type HeadersInit = Readonly<Record<string, string | number | readonly string[]>> | readonly (readonly [string, string])[];

/**
 * A handler's reply headers (or, with `what` = 'event', a caller's event headers) as a header
 * list (names lower-cased).
 * @throws TypeError naming the problem: not an object or list of pairs, a non-string value, or
 *   what {@link headerListProblem} refuses (a header the pipe does not carry included, such as
 *   Content-Length: give `length` instead).
 */
export function headerListFrom(init: HeadersInit, what: 'reply' | 'event' = 'reply'): string[] {
  const out: string[] = [];
  if (Array.isArray(init)) {
    for (const pair of init as readonly unknown[]) {
      if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
        throw new TypeError(`invalid ${what} headers: a list of headers must hold [name, value] pairs of strings`);
      }
      out.push(pair[0].toLowerCase(), pair[1]);
    }
  } else if (typeof init === 'object' && init !== null) {
    for (const [name, value] of Object.entries(init)) {
      const lower = name.toLowerCase();
      if (typeof value === 'string') out.push(lower, value);
      else if (typeof value === 'number' && Number.isFinite(value)) out.push(lower, String(value));
      else if (Array.isArray(value) && value.every((v) => typeof v === 'string')) for (const v of value as string[]) out.push(lower, v);
      else throw new TypeError(`invalid ${what} headers: the value of ${JSON.stringify(name)} must be a string, a number or a list of strings`);
    }
  } else {
    throw new TypeError(`invalid ${what} headers: give an object of names to values, or a list of [name, value] pairs`);
  }
  const problem = headerListProblem(out);
  if (problem !== undefined) throw new TypeError(`invalid ${what} headers: ${problem}`);
  return out;
}
