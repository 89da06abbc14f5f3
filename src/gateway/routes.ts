import { isIP } from 'node:net';
import { ErrorCode, RestpipeError } from '../errors.js';
import { parseEventHead, type EventHead, type Verb } from '../event.js';
import { isHostname, isValidNodeName } from '../names.js';
import { clampTimerMs } from '../options/validate.js';
import { truncate } from '../text.js';

/**
 * Gateway routing (SPEC §4), pure: method + request target → what to do. No I/O, no URL
 * resolution: the path is checked as the caller sent it, never normalised, so `..` cannot walk
 * anywhere and what the handler sees is what the caller wrote.
 */

/**
 * A request that becomes an event: its head parsed once, here, where the event enters the
 * node (verb, the noun as sent with its path and decoded parameters, the handler method, the
 * query), and the node it goes to.
 */
export interface EventRoute extends EventHead {
  kind: 'event';
  /** The NAME of `/client/NAME/NOUN` (percent-decoded, IPv6 brackets removed) on a server node; undefined on a client node. */
  target: string | undefined;
}

/** One of the gateway's own GET endpoints. */
export interface InfoRoute {
  kind: 'healthz' | 'status' | 'metrics';
}

export type GatewayRoute = EventRoute | InfoRoute;

/**
 * A refused request. `allow` is set for `method_not_allowed` (the HTTP `Allow` header a 405
 * must carry, RFC 9110 §15.5.6).
 */
export class GatewayRouteError extends RestpipeError {
  constructor(
    code: ErrorCode,
    message: string,
    readonly allow?: string,
  ) {
    super(code, message);
    this.name = 'GatewayRouteError';
  }
}

/** The methods that become events (SPEC §4); the verb is the method in lower case. */
export const EVENT_METHODS = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS';
/** The methods `/healthz`, `/status` and `/metrics` answer. */
export const INFO_METHODS = 'GET';

const VERB_BY_METHOD: ReadonlyMap<string, Verb> = new Map<string, Verb>([
  ['GET', 'get'],
  ['POST', 'post'],
  ['PUT', 'put'],
  ['DELETE', 'delete'],
  ['PATCH', 'patch'],
  ['HEAD', 'head'],
  ['OPTIONS', 'options'],
]);

const INFO_KINDS: ReadonlyMap<string, InfoRoute> = new Map<string, InfoRoute>([
  ['/healthz', Object.freeze({ kind: 'healthz' as const })],
  ['/status', Object.freeze({ kind: 'status' as const })],
  ['/metrics', Object.freeze({ kind: 'metrics' as const })],
]);

// `%` must start a two-hex-digit escape; anything else is malformed percent-encoding.
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;
// A segment that is `.` or `..`, also when written `%2e` / `%2E` (RFC 3986 §6.2.2.2 says they
// are the same; a proxy in front of us may well decode them).
const DOT_SEGMENT = /(?:^|\/)(?:\.|%2[eE]){1,2}(?=\/|$)/;

/**
 * Parses a gateway request. On a client node the event route is `/server/NOUN`; on the server
 * node `/client/NAME/NOUN`. `GET /healthz`, `GET /status` and `GET /metrics` exist on both.
 *
 * Returns the route, or (never throws) a {@link GatewayRouteError}:
 * - `bad_request` (400): a request target that is not a path, malformed percent-encoding
 *   anywhere in the path, a `.`/`..` segment (also percent-encoded), an empty noun, noun path
 *   characters other than letters, digits, `_`, `-` in `/`-separated segments, parameters
 *   that do not percent-decode, a NAME that is neither a node name, an IP address nor a DNS
 *   host name (a noun that is a URL path but no handler's, `files/a.pdf`, passes: the far
 *   node forwards it or refuses it, SPEC §10);
 * - `method_not_allowed` (405): a method other than GET, HEAD, POST, PUT, DELETE, PATCH,
 *   OPTIONS on an event route, or other than GET on the info routes;
 * - `not_found` (404): any other path (naming the prefix this node serves).
 *
 * @param method the request method as Node reports it (upper case).
 * @param rawUrl the request target exactly as received (`req.url`).
 * @param role which node this gateway fronts.
 */
export function parseGatewayRequest(
  method: string | undefined,
  rawUrl: string | undefined,
  role: 'server' | 'client',
): GatewayRoute | GatewayRouteError {
  const url = rawUrl ?? '';
  if (url.charCodeAt(0) !== 0x2f /* '/' */) {
    // Absolute-form (`http://host/path`) would carry its own authority, which the Host check
    // does not look at; `*` (OPTIONS) names no resource. A local gateway needs neither.
    return badRequest(`request target ${JSON.stringify(truncate(url))} is not a path`);
  }
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q + 1);

  if (BAD_PERCENT.test(path)) return badRequest(`malformed percent-encoding in path ${JSON.stringify(truncate(path))}`);
  if (DOT_SEGMENT.test(path)) return badRequest(`path ${JSON.stringify(truncate(path))} contains a '.' or '..' segment`);

  const info = INFO_KINDS.get(path);
  if (info !== undefined) {
    if (method !== 'GET') return methodNotAllowed(method, path, INFO_METHODS);
    return info;
  }

  const prefix = role === 'client' ? '/server' : '/client';
  if (!path.startsWith(prefix) || (path.length > prefix.length && path.charCodeAt(prefix.length) !== 0x2f)) {
    return notFound(path, role);
  }
  const verb = VERB_BY_METHOD.get(method ?? '');
  if (verb === undefined) return methodNotAllowed(method, path, EVENT_METHODS);

  let target: string | undefined;
  let noun: string;
  if (role === 'client') {
    noun = path.slice(prefix.length + 1); // '' for '/server' and '/server/'
  } else {
    const nameStart = prefix.length + 1;
    const nameEnd = path.indexOf('/', nameStart);
    const rawName = nameEnd === -1 ? path.slice(nameStart) : path.slice(nameStart, nameEnd);
    if (rawName === '') return badRequest(`missing client NAME: use /client/NAME/NOUN`);
    const name = checkName(rawName);
    if (name instanceof GatewayRouteError) return name;
    target = name;
    noun = nameEnd === -1 ? '' : path.slice(nameEnd + 1);
  }
  if (noun === '') return badRequest(`empty noun: use ${role === 'client' ? '/server/NOUN' : '/client/NAME/NOUN'}`);
  try {
    return { kind: 'event', target, ...parseEventHead(verb, noun, query) };
  } catch (err) {
    return new GatewayRouteError(ErrorCode.BAD_REQUEST, (err as Error).message);
  }
}

/** NAME of `/client/NAME/NOUN`: percent-decoded, then a node name, an IP literal or a host name. */
function checkName(raw: string): string | GatewayRouteError {
  let name: string;
  try {
    name = raw.includes('%') ? decodeURIComponent(raw) : raw;
  } catch {
    return badRequest(`malformed percent-encoding in client name ${JSON.stringify(truncate(raw))}`);
  }
  // `[::1]`, as a URL authority writes an IPv6 address, is accepted too.
  if (name.length > 2 && name.charCodeAt(0) === 0x5b && name.charCodeAt(name.length - 1) === 0x5d) {
    const inner = name.slice(1, -1);
    if (isIP(inner) === 6) return inner;
  }
  if (isValidNodeName(name) || isIP(name) !== 0 || isHostname(name)) return name;
  return badRequest(
    `invalid client name ${JSON.stringify(truncate(name))}: use a client's certificate name, an IP address or a host name`,
  );
}

function badRequest(message: string): GatewayRouteError {
  return new GatewayRouteError(ErrorCode.BAD_REQUEST, message);
}

function methodNotAllowed(method: string | undefined, path: string, allow: string): GatewayRouteError {
  return new GatewayRouteError(
    ErrorCode.METHOD_NOT_ALLOWED,
    `method ${truncate(String(method))} is not allowed on ${JSON.stringify(truncate(path))}: use ${allow}`,
    allow,
  );
}

function notFound(path: string, role: 'server' | 'client'): GatewayRouteError {
  const serves =
    role === 'client'
      ? 'this is a client node: events go to /server/NOUN'
      : 'this is the server node: events go to /client/NAME/NOUN';
  return new GatewayRouteError(
    ErrorCode.NOT_FOUND,
    `no route for ${JSON.stringify(truncate(path))}; ${serves} (also GET /healthz, /status, /metrics)`,
  );
}

// X-Event-Timeout: plain decimal seconds. `Number()` alone would take '0x10', '1e3', ' '.
const TIMEOUT_SYNTAX = /^\s*(?:\d+(?:\.\d*)?|\.\d+)\s*$/;

/**
 * X-Event-Timeout: S → milliseconds (positive, finite, clamped to a timer's range), the
 * default when absent, a `bad_request` error otherwise.
 */
export function parseEventTimeout(value: string | string[] | undefined, fallbackMs: number): number | RestpipeError {
  if (value === undefined) return fallbackMs;
  if (typeof value === 'string' && TIMEOUT_SYNTAX.test(value)) {
    const ms = Number(value) * 1000;
    if (ms > 0 && Number.isFinite(ms)) return clampTimerMs(ms);
  }
  return new RestpipeError(
    ErrorCode.BAD_REQUEST,
    `X-Event-Timeout ${JSON.stringify(truncate(String(value)))} is not a positive number of seconds`,
  );
}

/** Whether the request target is `prefix` or under it (`/inspect`, `/inspect/…`, `/inspect?…`): pages another module serves. */
export function isUnder(url: string | undefined, prefix: string): boolean {
  if (url === undefined || !url.startsWith(prefix)) return false;
  const next = url.charCodeAt(prefix.length);
  return Number.isNaN(next) || next === 0x2f /* / */ || next === 0x3f /* ? */;
}
