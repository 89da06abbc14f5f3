import { isBodyStream, toReadable } from '../bodies.js';
import { type Reply, ReturnCode } from '../event.js';
import { headerListFrom, type HeadersInit } from '../http-headers.js';
import { exceptionReply } from '../replies.js';

/** The largest `code` the wire carries (`uint32` in proto/restpipe.proto). */
const MAX_CODE = 0xffff_ffff;
const JSON_MIMETYPE = 'application/json';
const BYTES_MIMETYPE = 'application/octet-stream';
const TEXT_MIMETYPE = 'text/plain; charset=utf-8';
const EMPTY = new Uint8Array(0);
const REPLY_KEYS = new Set(['mimetype', 'code', 'data', 'status', 'headers', 'length']);
/**
 * The characters Node's `setHeader` accepts (its `checkInvalidHeaderChar`): the gateway copies
 * the mimetype into `Content-Type`, and a CR/LF there would throw in the gateway, or worse.
 */
const HEADER_SAFE = /^[\t\x20-\x7e\x80-\xff]*$/;

/**
 * Brands reply objects made by {@link reply}; a Symbol cannot come out of `JSON.parse`, so a
 * handler relaying a peer's JSON cannot produce one by accident. Registered (`Symbol.for`) so
 * that a handler module importing its own copy of restpipe still makes replies this copy knows.
 */
const REPLY_BRAND: unique symbol = Symbol.for('restpipe.reply');

/** What a handler passes to {@link reply}. */
export interface ReplyInit {
  /**
   * @default `application/octet-stream` for bytes, `text/plain; charset=utf-8` for a string,
   * `''` when `data` is absent, `application/json` otherwise
   */
  mimetype?: string;
  /** The return code (0 success; 251 and 255 are the library's). An integer 0 to 2^32−1. @default 0 */
  code?: number;
  /**
   * Bytes, a string (sent as UTF-8), a stream of bytes (a Node Readable, an async iterable, a web
   * ReadableStream: streamed to the caller, SPEC §9), or anything JSON can encode.
   * @default an empty body
   */
  data?: unknown;
  /** The HTTP status the gateway answers with, an integer 100 to 599. @default derived from `code` */
  status?: number;
  /**
   * HTTP headers for the caller: `{ name: value | [values] }` or `[[name, value], …]`; not the
   * hop-by-hop ones, nor Content-Length (give `length`) or Content-Type (give `mimetype`).
   */
  headers?: HeadersInit;
  /**
   * A stream's size in bytes, when known: the caller gets it as Content-Length, and a stream that
   * produces another number of bytes is cut off (an abnormal end) rather than sent as if whole.
   */
  length?: number;
}

/** A reply built by {@link reply}: frozen, already encoded, and branded so {@link toReply} trusts it. */
export interface BrandedReply extends Readonly<Reply> {
  readonly [REPLY_BRAND]: true;
}

/**
 * Builds a reply object for a handler to return, e.g.
 * `return reply({ mimetype: 'image/png', data: png })` or `return reply({ status: 201, data: { id } })`.
 * Validates and encodes at once, so a mistake throws from the handler's own line.
 * @throws TypeError for a non-string or header-unsafe mimetype, a code that is not an integer
 *   0 to 2^32−1, or a status that is not an integer 100 to 599; whatever `JSON.stringify` throws
 *   (BigInt, cycles) for data it cannot encode.
 */
export function reply(init: ReplyInit): BrandedReply {
  const data = init.data;
  const mimetype = init.mimetype ?? defaultMimetype(data);
  const r = withBody({ code: checkCode(init.code ?? ReturnCode.OK), mimetype: checkMimetype(mimetype), data: EMPTY }, data, init.length);
  if (init.status !== undefined) r.status = checkStatus(init.status);
  if (init.headers !== undefined) r.headers = headerListFrom(init.headers);
  return Object.freeze(Object.assign(r, { [REPLY_BRAND]: true as const }));
}

/**
 * Turns whatever a handler returned into a {@link Reply}, following SPEC §5's return forms:
 *
 * | handler returns | reply |
 * |---|---|
 * | a plain value (`undefined` counts as `null`) | JSON, `application/json`, code 0 |
 * | a bare `Buffer`/`Uint8Array` (or other binary view, `ArrayBuffer`) | the bytes, `application/octet-stream`, code 0 |
 * | the tuple `[mimetype: string, code: integer, data]` (the original's form) | that mimetype and code |
 * | `reply({ mimetype, code, data, status })` | those fields |
 * | a plain object whose keys are a subset of `mimetype`, `code`, `data`, `status` including `data` and `mimetype` | those fields |
 *
 * In the explicit forms, bytes are used as they are (no copy), a string is UTF-8, `undefined`
 * is an empty body, and anything else is JSON-encoded; `code` defaults to 0.
 *
 * An ordinary JSON result that happens to look like a tuple (a 3-element array of string,
 * integer, anything) or like a reply object is read as one; to send such a value as JSON,
 * return `['application/json', 0, value]`.
 *
 * Never throws: a value it cannot turn into a reply (a BigInt or a cycle, a non-string or
 * header-unsafe mimetype, a code outside 0 to 2^32−1, a status outside 100 to 599) becomes a
 * code 251 exception reply, as if the handler had thrown.
 */
export function toReply(returned: unknown): Reply {
  try {
    return convertReturn(returned);
  } catch (err) {
    return exceptionReply(err);
  }
}

/**
 * {@link toReply} without the safety net, for the dispatcher, which logs the failure under the
 * handler's name before building the 251 reply itself.
 * @throws TypeError for an invalid reply object or tuple field; whatever `JSON.stringify` throws.
 */
export function convertReturn(returned: unknown): Reply {
  if (typeof returned !== 'object' || returned === null) {
    return { code: ReturnCode.OK, mimetype: JSON_MIMETYPE, data: encodeJson(returned) };
  }
  if (REPLY_BRAND in returned) {
    const b = returned as BrandedReply;
    const r: Reply = { code: b.code, mimetype: b.mimetype, data: b.data };
    if (b.status !== undefined) r.status = b.status;
    if (b.headers !== undefined) r.headers = b.headers;
    if (b.body !== undefined) r.body = b.body;
    if (b.length !== undefined) r.length = b.length;
    return r;
  }
  if (Array.isArray(returned)) {
    if (returned.length === 3 && typeof returned[0] === 'string' && Number.isInteger(returned[1])) {
      const [mimetype, code, data] = returned as [string, number, unknown];
      return withBody({ code: checkCode(code), mimetype: checkMimetype(mimetype), data: EMPTY }, data, undefined);
    }
  } else if (isBodyStream(returned)) {
    // A stream returned as it is: its bytes, streamed (SPEC §9).
    return { code: ReturnCode.OK, mimetype: BYTES_MIMETYPE, data: EMPTY, body: toReadable(returned) };
  } else if (isPlainReplyObject(returned)) {
    const o = returned as { mimetype: unknown; code?: unknown; data: unknown; status?: unknown; headers?: unknown; length?: unknown };
    if (typeof o.mimetype !== 'string') {
      throw new TypeError(`invalid reply object: mimetype must be a string, got ${describe(o.mimetype)}`);
    }
    const r = withBody(
      { code: o.code === undefined ? ReturnCode.OK : checkCode(o.code), mimetype: checkMimetype(o.mimetype), data: EMPTY },
      o.data,
      o.length,
    );
    if (o.status !== undefined) r.status = checkStatus(o.status);
    if (o.headers !== undefined) r.headers = headerListFrom(o.headers as HeadersInit);
    return r;
  } else {
    const bytes = asBytes(returned);
    if (bytes !== undefined) return { code: ReturnCode.OK, mimetype: BYTES_MIMETYPE, data: bytes };
  }
  return { code: ReturnCode.OK, mimetype: JSON_MIMETYPE, data: encodeJson(returned) };
}

function isPlainReplyObject(o: object): boolean {
  const proto = Object.getPrototypeOf(o) as unknown;
  if (proto !== Object.prototype && proto !== null) return false;
  const keys = Object.keys(o);
  if (keys.length < 2 || keys.length > REPLY_KEYS.size) return false;
  for (const k of keys) if (!REPLY_KEYS.has(k)) return false;
  return Object.hasOwn(o, 'data') && Object.hasOwn(o, 'mimetype');
}

function defaultMimetype(data: unknown): string {
  if (data === undefined) return '';
  if (typeof data === 'string') return TEXT_MIMETYPE;
  return asBytes(data) === undefined && !isBodyStream(data) ? JSON_MIMETYPE : BYTES_MIMETYPE;
}

/**
 * `r` with its body: a stream as `body` (with `length` when given), anything else encoded into
 * `data` (then `length`, if given, must match it).
 * @throws TypeError for a length that is not a whole number of bytes, or one bytes contradict.
 */
function withBody(r: Reply, data: unknown, length: unknown): Reply {
  if (length !== undefined && (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0)) {
    throw new TypeError(`invalid reply: length must be a whole number of bytes, got ${describe(length)}`);
  }
  if (isBodyStream(data)) {
    r.body = toReadable(data);
    if (length !== undefined) r.length = length;
    return r;
  }
  r.data = data === undefined ? EMPTY : encodeData(data);
  if (length !== undefined && length !== r.data.byteLength) {
    throw new TypeError(`invalid reply: length ${length} does not match the ${r.data.byteLength} bytes of data`);
  }
  return r;
}

/** Bytes as they are, a string as UTF-8, anything else as JSON. */
function encodeData(data: unknown): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  return asBytes(data) ?? encodeJson(data);
}

/**
 * A view of binary data without copying: a Uint8Array (Buffer included) as it is, any other
 * typed array, DataView or ArrayBuffer as a Uint8Array over the same memory. JSON-encoding a
 * Float32Array would give `{"0":…}`, which nobody wants.
 */
function asBytes(data: unknown): Uint8Array | undefined {
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || data instanceof SharedArrayBuffer) return new Uint8Array(data);
  return undefined;
}

/**
 * `JSON.stringify` returns `undefined` (not a string) for `undefined`, functions and symbols;
 * those become `null` so the body is always valid JSON.
 */
function encodeJson(value: unknown): Uint8Array {
  const text = JSON.stringify(value) as string | undefined;
  return Buffer.from(text ?? 'null', 'utf8');
}

function checkCode(code: unknown): number {
  if (typeof code !== 'number' || !Number.isInteger(code) || code < 0 || code > MAX_CODE) {
    throw new TypeError(`invalid reply: code must be an integer from 0 to ${MAX_CODE}, got ${describe(code)}`);
  }
  return code;
}

function checkStatus(status: unknown): number {
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    throw new TypeError(`invalid reply: status must be an integer from 100 to 599, got ${describe(status)}`);
  }
  return status;
}

function checkMimetype(mimetype: unknown): string {
  if (typeof mimetype !== 'string') {
    throw new TypeError(`invalid reply: mimetype must be a string, got ${describe(mimetype)}`);
  }
  if (!HEADER_SAFE.test(mimetype)) {
    throw new TypeError(`invalid reply: mimetype ${describe(mimetype)} contains characters not allowed in a header`);
  }
  return mimetype;
}

/** A short, never-throwing rendering of a bad value for an error message. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return String(value);
  return typeof value;
}
