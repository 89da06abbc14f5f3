import type { IncomingHttpHeaders } from 'node:http';
import type { BodyHeadTap, EventSettledMessage, GatewayEventMessage } from '../diagnostics.js';
import { replyStatus } from '../gateway/http-errors.js';
import { truncate } from '../text.js';

/**
 * One recorded event as the inspector keeps it (SPEC §13), and how it is made from the
 * diagnostics messages: secrets redacted and bodies cut to their first bytes before anything
 * is kept, every string of a peer's bounded.
 */

/** The header values never kept: they are credentials. */
export const REDACTED_HEADERS: ReadonlySet<string> = new Set(['authorization', 'proxy-authorization', 'cookie', 'set-cookie']);
/** What a redacted header's value reads. */
export const REDACTED = '[redacted]';
/** How many bytes of each body are kept with --inspect-bodies. */
export const BODY_CAPTURE_BYTES = 10 * 1024;
/** The header a replay carries: which event it replays (`ID.N`). */
export const REPLAY_HEADER = 'x-restpipe-replay-of';

/** The replay body of an event without one (zero bytes: nothing to share or change). */
const NO_BODY = Buffer.alloc(0);

// Bounds on what a record keeps of strings a caller or a peer chose.
const MAX_NOUN_CHARS = 300;
const MAX_HEADER_CHARS = 2_000;
const MAX_HEADERS = 100;

/** A body's first bytes: UTF-8 text when they decode as such, else base64. */
export interface BodyView {
  encoding: 'utf8' | 'base64';
  data: string;
  /** The whole body's size. */
  bytes: number;
  /** Only the first bytes are here. */
  truncated: boolean;
}

/** What the event list shows of an event. */
export interface EventSummary {
  /** Increasing from 1 in the order events ended. */
  id: number;
  /** When it started (epoch ms). */
  time: number;
  /** outbound: sent by this node (a request on its gateway); inbound: handled by this node for its peer. */
  direction: 'outbound' | 'inbound';
  peer: string;
  verb: string;
  noun: string;
  /** The HTTP status (outbound: written by the gateway; inbound: what the far side's gateway makes of the reply); null: none was written. */
  status: number | null;
  /** The reply's return code; null when no reply came. */
  returnCode: number | null;
  /** The error code when the event failed without a reply (no_connection, event_timeout, …). */
  error: string | null;
  durationMs: number;
  requestBytes: number;
  replyBytes: number;
  /** Whether it can be sent again: an outbound event whose request body is known whole. */
  replayable: boolean;
  /** The event this one replays. */
  replayOf: number | null;
}

/** An event's detail: its summary, headers and (with --inspect-bodies) the first bytes of each body. */
export interface EventDetail extends EventSummary {
  method: string;
  url: string;
  query: string;
  requestHeaders: Array<[string, string]>;
  responseHeaders: Array<[string, string]>;
  requestMimetype: string;
  replyMimetype: string;
  requestBody: BodyView | null;
  replyBody: BodyView | null;
}

/** A body's first bytes as a record keeps them: described (text or base64) only when asked for. */
export interface KeptBody {
  head: Buffer;
  /** The whole body's size. */
  bytes: number;
}

/**
 * An event's detail as the ring keeps it: headers as flat name, value lists and bodies as bytes,
 * so that recording an event makes few objects; {@link detailOf} gives the API's form.
 */
export interface StoredDetail extends Omit<EventDetail, 'requestHeaders' | 'responseHeaders' | 'requestBody' | 'replyBody'> {
  /** name, value, name, value, …; credentials redacted. */
  requestHeaders: readonly string[];
  responseHeaders: readonly string[];
  requestBody: KeptBody | null;
  replyBody: KeptBody | null;
}

/** A record: the detail, and the request body whole when it can be replayed. */
export interface EventRecord {
  detail: StoredDetail;
  /** The request body for a replay (kept only when captured whole). */
  replayBody: Buffer | undefined;
}

/** The API's form of a kept event's detail. */
export function detailOf(record: EventRecord): EventDetail {
  const d = record.detail;
  return {
    ...d,
    requestHeaders: pairs(d.requestHeaders),
    responseHeaders: pairs(d.responseHeaders),
    requestBody: d.requestBody === null ? null : describe(d.requestBody.head, d.requestBody.bytes),
    replyBody: d.replyBody === null ? null : describe(d.replyBody.head, d.replyBody.bytes),
  };
}

/** Builds the record of an event request on this node's gateway (an outbound event). */
export function recordGatewayEvent(id: number, m: GatewayEventMessage, peer: string): EventRecord {
  const responseHeaders = keptHeaders(m.responseHeaders ?? []);
  const requestBytes = m.requestBytes ?? 0;
  const wholeBody = requestBytes === 0 || (m.requestBody !== undefined && !m.requestBody.truncated);
  const replay = m.requestHeaders[REPLAY_HEADER];
  return {
    detail: {
      id,
      time: m.startedAt,
      direction: 'outbound',
      peer,
      verb: m.verb,
      noun: truncate(m.noun, MAX_NOUN_CHARS),
      status: m.status ?? null,
      returnCode: m.returnCode ?? null,
      error: m.errorCode ?? (m.status === undefined ? 'aborted' : null),
      durationMs: m.durationMs ?? 0,
      requestBytes,
      replyBytes: m.replyBytes ?? 0,
      replayable: wholeBody,
      replayOf: typeof replay === 'string' ? parseReplayOf(replay) : null,
      method: m.method,
      url: truncate(m.url, MAX_NOUN_CHARS),
      query: truncate(m.query, MAX_NOUN_CHARS),
      requestHeaders: flatHeaders(m.requestHeaders),
      responseHeaders,
      requestMimetype: truncate(String(m.requestHeaders['content-type'] ?? ''), MAX_HEADER_CHARS),
      replyMimetype: valueOf(responseHeaders, 'content-type'),
      requestBody: kept(m.requestBody),
      replyBody: kept(m.replyBody),
    },
    replayBody: wholeBody && requestBytes > 0 ? m.requestBody!.head() : wholeBody ? NO_BODY : undefined,
  };
}

/** Builds the record of an event this node handled for its peer (an inbound event). */
export function recordInboundEvent(id: number, m: EventSettledMessage, captureBytes: number): EventRecord {
  const event = m.event!;
  const reply = m.reply!;
  const now = Date.now();
  return {
    detail: {
      id,
      time: Math.round(now - m.durationMs),
      direction: 'inbound',
      peer: truncate(m.peer, MAX_NOUN_CHARS),
      verb: event.verb,
      noun: truncate(event.noun, MAX_NOUN_CHARS),
      status: replyStatus(reply),
      returnCode: reply.code,
      error: null,
      durationMs: m.durationMs,
      requestBytes: event.data.byteLength,
      replyBytes: reply.data.byteLength,
      replayable: false,
      replayOf: null,
      method: event.method,
      url: '',
      query: truncate(event.query, MAX_NOUN_CHARS),
      requestHeaders: NO_HEADERS,
      responseHeaders: NO_HEADERS,
      requestMimetype: truncate(event.mimetype, MAX_HEADER_CHARS),
      replyMimetype: truncate(reply.mimetype, MAX_HEADER_CHARS),
      requestBody: captureBytes > 0 ? keptOf(event.data, captureBytes) : null,
      replyBody: captureBytes > 0 ? keptOf(reply.data, captureBytes) : null,
    },
    replayBody: undefined,
  };
}

/** The summary part of a detail (what the list and the live feed carry). */
export function summaryOf(d: EventSummary): EventSummary {
  const { id, time, direction, peer, verb, noun, status, returnCode, error, durationMs, requestBytes, replyBytes, replayable, replayOf } = d;
  return { id, time, direction, peer, verb, noun, status, returnCode, error, durationMs, requestBytes, replyBytes, replayable, replayOf };
}

const NO_HEADERS: readonly string[] = [];

/** Node's parsed headers as a flat list, credentials redacted, bounded. */
export function flatHeaders(headers: IncomingHttpHeaders): string[] {
  const flat: string[] = [];
  for (const name in headers) {
    if (flat.length >= 2 * MAX_HEADERS) break;
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value === 'string') flat.push(name, keptValue(name, value));
    else for (const v of value) flat.push(name, keptValue(name, v));
  }
  return flat;
}

/** A flat list as written (name, value, …) with credentials redacted and values bounded; the same list when nothing needs changing. */
function keptHeaders(flat: readonly string[]): readonly string[] {
  let out: string[] | undefined;
  const n = Math.min(flat.length, 2 * MAX_HEADERS);
  for (let i = 0; i + 1 < n; i += 2) {
    const v = flat[i + 1]!;
    const k = keptValue(flat[i]!, v);
    if (k !== v) (out ??= flat.slice(0, n))[i + 1] = k;
  }
  return out ?? (n === flat.length ? flat : flat.slice(0, n));
}

function keptValue(name: string, value: string): string {
  // Only names of these lengths can be credentials: no lower-casing for the others.
  const len = name.length;
  if ((len === 6 || len === 10 || len === 13 || len === 19) && REDACTED_HEADERS.has(name.toLowerCase())) return REDACTED;
  return truncate(value, MAX_HEADER_CHARS);
}

/** The first value of header `lowerName` in a flat list, or ''. */
function valueOf(flat: readonly string[], lowerName: string): string {
  for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i]!.toLowerCase() === lowerName) return flat[i + 1]!;
  return '';
}

function pairs(flat: readonly string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

function kept(tap: BodyHeadTap | undefined): KeptBody | null {
  return tap === undefined ? null : { head: tap.head(), bytes: tap.bytes };
}

/** The first `limit` bytes of a body (a copy: the body may be a view into a network chunk). */
function keptOf(data: Uint8Array, limit: number): KeptBody {
  return { head: Buffer.from(data.subarray(0, limit)), bytes: data.byteLength };
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

function describe(head: Buffer, bytes: number): BodyView {
  const truncated = bytes > head.byteLength;
  // A cut may split a UTF-8 sequence: up to 3 bytes at the end may be the start of one.
  for (let drop = 0; drop <= (truncated ? 3 : 0) && drop <= head.byteLength; drop++) {
    try {
      const text = UTF8.decode(head.subarray(0, head.byteLength - drop));
      if (!/[\u0000-\u0008\u000e-\u001f]/.test(text)) return { encoding: 'utf8', data: text, bytes, truncated };
      break;
    } catch {
      // not UTF-8 (yet): try without the last byte
    }
  }
  return { encoding: 'base64', data: head.toString('base64'), bytes, truncated };
}

function parseReplayOf(value: string): number | null {
  const n = Number.parseInt(value, 10);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}
