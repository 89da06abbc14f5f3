import { FrameType, HEADER_BYTES } from './frame.js';
import { partsLength } from '../body-pieces.js';
import type { HeaderList, WireEvent, WireReply } from './message-types.js';

/**
 * The hot path of messages.ts: events and replies written and read by hand.
 *
 * Byte for byte what the generated code writes (fields in number order, proto3 defaults left
 * out, `data` appended last as in encodeEvent/encodeReply), but straight into one buffer that
 * also holds the frame header, so a small event or reply is one allocation and one socket
 * write. Reading takes the common shape (known fields, ASCII strings, short varints) and hands
 * anything else to the generated decoder, which then decides (and words any error) as before.
 * test/property/messages.property.test.ts checks both against the generated code.
 */

/** Bodies up to this size are copied into the frame's buffer; larger ones are written from the caller's memory. */
export const INLINE_DATA_BYTES = 16 * 1024;
const MAX_U32 = 0xffff_ffff;
const EMPTY_DATA = new Uint8Array(0);

/** Bytes of `n` (0 to 2^53) as a protobuf varint. */
export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x20_0000) return 3;
  if (n < 0x1000_0000) return 4;
  let size = 5;
  for (let v = Math.floor(n / 2 ** 35); v > 0; v = Math.floor(v / 128)) size++;
  return size;
}

function isU32(n: unknown): n is number {
  return typeof n === 'number' && Number.isInteger(n) && n >= 0 && n <= MAX_U32;
}

function isLength(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** Writes `n` (0 to 2^53) as a varint at `pos`; returns the position after it. */
export function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** Tag, length and UTF-8 of a string field; nothing for ''. */
function writeStringField(buf: Buffer, pos: number, tag: number, s: string, bytes: number): number {
  if (bytes === 0) return pos;
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, bytes);
  return pos + buf.write(s, pos, bytes, 'utf8');
}

function stringFieldSize(bytes: number): number {
  return bytes === 0 ? 0 : 1 + varintSize(bytes) + bytes;
}

function utf8Bytes(s: string): number {
  return s.length === 0 ? 0 : Buffer.byteLength(s, 'utf8');
}

/** Sizes of a header list's entries as the generated code writes them (repeated `Header {name, value}`). */
function headersSize(headers: HeaderList | undefined, sizes: number[]): number {
  if (headers === undefined) return 0;
  let total = 0;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i];
    const value = headers[i + 1];
    if (typeof name !== 'string' || typeof value !== 'string') return -1;
    const nameBytes = utf8Bytes(name);
    const valueBytes = utf8Bytes(value);
    const inner = stringFieldSize(nameBytes) + stringFieldSize(valueBytes);
    sizes.push(nameBytes, valueBytes, inner);
    total += 1 + varintSize(inner) + inner;
  }
  return total;
}

function writeHeaders(buf: Buffer, pos: number, tag: number, headers: HeaderList | undefined, sizes: readonly number[]): number {
  if (headers === undefined) return pos;
  for (let i = 0, k = 0; i + 1 < headers.length; i += 2, k += 3) {
    buf[pos++] = tag;
    pos = writeVarint(buf, pos, sizes[k + 2]!);
    pos = writeStringField(buf, pos, 0x0a, headers[i]!, sizes[k]!);
    pos = writeStringField(buf, pos, 0x12, headers[i + 1]!, sizes[k + 1]!);
  }
  return pos;
}

/** The frame header at the start of `buf`. */
function writeHeader(buf: Buffer, type: FrameType, flags: number, payloadBytes: number, id: number): void {
  buf[0] = type;
  buf[1] = flags;
  buf.writeUInt32BE(payloadBytes, 2);
  buf.writeUInt32BE(id >>> 0, 6);
}

/**
 * Header, metadata and data tag in `buf` (written up to `pos`), then the `n` bytes of the
 * message's data: one buffer, or the buffer then the data as it is held (`data`, or its parts).
 */
function finishWithData(buf: Buffer, pos: number, dataTag: number, message: { data: Uint8Array; dataParts?: readonly Uint8Array[] }, n: number): Uint8Array[] {
  if (n === 0) return [buf];
  buf[pos++] = dataTag;
  pos = writeVarint(buf, pos, n);
  const parts = message.dataParts;
  if (n <= INLINE_DATA_BYTES) {
    if (parts === undefined) buf.set(message.data, pos);
    else {
      for (const part of parts) {
        buf.set(part, pos);
        pos += part.byteLength;
      }
    }
    return [buf];
  }
  return parts === undefined ? [buf, message.data] : [buf, ...parts];
}

/** The byte count of a message's data, or -1 when it is not bytes (the generated code then judges). */
function dataBytes(message: { data: unknown; dataParts?: readonly Uint8Array[] }): number {
  if (message.dataParts !== undefined) return partsLength(message.dataParts);
  return message.data instanceof Uint8Array ? message.data.byteLength : -1;
}

/**
 * A whole EVENT frame (header and payload) for message id `id`, with `flags`: one buffer, or the
 * buffer and then `event.data` itself (or its `dataParts`, never joined) when the body is larger
 * than INLINE_DATA_BYTES; undefined
 * for values the generated code must judge (messages.ts then uses it).
 */
export function fastEventFrame(id: number, event: WireEvent, flags: number): Uint8Array[] | undefined {
  const { verb, noun, mimetype, query, timeoutMs, headers, bodyLength } = event;
  const n = dataBytes(event);
  if (
    typeof verb !== 'string' ||
    typeof noun !== 'string' ||
    typeof mimetype !== 'string' ||
    typeof query !== 'string' ||
    n < 0 ||
    !isU32(timeoutMs) ||
    (bodyLength !== undefined && !isLength(bodyLength))
  ) {
    return undefined;
  }
  const headerSizes: number[] = [];
  const headersBytes = headersSize(headers, headerSizes);
  if (headersBytes < 0) return undefined;
  const verbBytes = utf8Bytes(verb);
  const nounBytes = utf8Bytes(noun);
  const mimeBytes = utf8Bytes(mimetype);
  const queryBytes = utf8Bytes(query);
  const meta =
    stringFieldSize(verbBytes) +
    stringFieldSize(nounBytes) +
    stringFieldSize(mimeBytes) +
    (timeoutMs === 0 ? 0 : 1 + varintSize(timeoutMs)) +
    stringFieldSize(queryBytes) +
    headersBytes +
    (bodyLength === undefined ? 0 : 1 + varintSize(bodyLength));
  const dataHead = n === 0 ? 0 : 1 + varintSize(n);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + meta + dataHead + (n <= INLINE_DATA_BYTES ? n : 0));
  writeHeader(buf, FrameType.EVENT, flags, meta + dataHead + n, id);
  let pos = HEADER_BYTES;
  pos = writeStringField(buf, pos, 0x0a, verb, verbBytes);
  pos = writeStringField(buf, pos, 0x12, noun, nounBytes);
  pos = writeStringField(buf, pos, 0x1a, mimetype, mimeBytes);
  if (timeoutMs !== 0) {
    buf[pos++] = 0x28;
    pos = writeVarint(buf, pos, timeoutMs);
  }
  pos = writeStringField(buf, pos, 0x32, query, queryBytes);
  pos = writeHeaders(buf, pos, 0x3a, headers, headerSizes);
  if (bodyLength !== undefined) {
    buf[pos++] = 0x40;
    pos = writeVarint(buf, pos, bodyLength);
  }
  return finishWithData(buf, pos, 0x22, event, n);
}

/** A whole EVENT_REPLY frame for message id `id`, with `flags`, as {@link fastEventFrame}. */
export function fastReplyFrame(id: number, reply: WireReply, flags: number): Uint8Array[] | undefined {
  const { code, mimetype, status, headers, bodyLength } = reply;
  const n = dataBytes(reply);
  if (
    typeof mimetype !== 'string' ||
    n < 0 ||
    !isU32(code) ||
    (status !== undefined && !isU32(status)) ||
    (bodyLength !== undefined && !isLength(bodyLength))
  ) {
    return undefined;
  }
  const headerSizes: number[] = [];
  const headersBytes = headersSize(headers, headerSizes);
  if (headersBytes < 0) return undefined;
  const mimeBytes = utf8Bytes(mimetype);
  const meta =
    (code === 0 ? 0 : 1 + varintSize(code)) +
    stringFieldSize(mimeBytes) +
    (status === undefined ? 0 : 1 + varintSize(status)) +
    headersBytes +
    (bodyLength === undefined ? 0 : 1 + varintSize(bodyLength));
  const dataHead = n === 0 ? 0 : 1 + varintSize(n);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + meta + dataHead + (n <= INLINE_DATA_BYTES ? n : 0));
  writeHeader(buf, FrameType.EVENT_REPLY, flags, meta + dataHead + n, id);
  let pos = HEADER_BYTES;
  if (code !== 0) {
    buf[pos++] = 0x08;
    pos = writeVarint(buf, pos, code);
  }
  pos = writeStringField(buf, pos, 0x12, mimetype, mimeBytes);
  if (status !== undefined) {
    buf[pos++] = 0x20;
    pos = writeVarint(buf, pos, status);
  }
  pos = writeHeaders(buf, pos, 0x2a, headers, headerSizes);
  if (bodyLength !== undefined) {
    buf[pos++] = 0x30;
    pos = writeVarint(buf, pos, bodyLength);
  }
  return finishWithData(buf, pos, 0x1a, reply, n);
}

/** Where the last {@link readShortVarint} or {@link readLengthVarint} ended. */
export const varintCursor = { pos: 0 };
const cursor = varintCursor;

/**
 * Reads a varint of at most 4 bytes (< 2^28) at `pos`: the value, with the position after it
 * in `varintCursor.pos`; -1 for anything else (longer, or cut short), which the caller hands to
 * the generated decoder.
 */
export function readShortVarint(buf: Uint8Array, pos: number, end: number): number {
  let result = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) return -1;
    const b = buf[pos++]!;
    result |= (b & 0x7f) << shift;
    if (b < 0x80) {
      cursor.pos = pos;
      return result;
    }
  }
  return -1;
}

/**
 * Reads a varint of a body length (at most 2^53 − 1, 8 bytes) like {@link readShortVarint};
 * -1 for anything longer or cut short.
 */
function readLengthVarint(buf: Uint8Array, pos: number, end: number): number {
  let result = 0;
  let scale = 1;
  for (let i = 0; i < 8; i++) {
    if (pos >= end) return -1;
    const b = buf[pos++]!;
    result += (b & 0x7f) * scale;
    if (b < 0x80) {
      if (!Number.isSafeInteger(result)) return -1;
      cursor.pos = pos;
      return result;
    }
    scale *= 128;
  }
  return -1;
}

/**
 * The entries of one `Header {name, value}` message at [start, end), pushed onto `out`; false
 * for anything but ASCII text in fields 1 and 2 (the generated decoder then reads it).
 */
function readHeader(buf: Uint8Array, start: number, end: number, out: string[]): boolean {
  let name = '';
  let value = '';
  let pos = start;
  while (pos < end) {
    const tag = buf[pos++]!;
    if (tag !== 0x0a && tag !== 0x12) return false;
    const len = readShortVarint(buf, pos, end);
    if (len < 0) return false;
    const from = cursor.pos;
    pos = from + len;
    if (pos > end) return false;
    const text = readAscii(buf, from, pos);
    if (text === undefined) return false;
    if (tag === 0x0a) name = text;
    else value = text;
  }
  out.push(name, value);
  return true;
}

/** An ASCII string field's text, or undefined when any byte is not ASCII. */
function readAscii(buf: Uint8Array, start: number, end: number): string | undefined {
  for (let i = start; i < end; i++) if (buf[i]! > 0x7f) return undefined;
  return start === end ? '' : Buffer.prototype.latin1Slice.call(buf, start, end);
}

/** The common shape of an Event payload, or undefined: then the generated decoder reads it. */
export function fastDecodeEvent(buf: Uint8Array): WireEvent | undefined {
  let verb = '';
  let noun = '';
  let mimetype = '';
  let query = '';
  let data: Uint8Array = EMPTY_DATA;
  let timeoutMs = 0;
  let headers: string[] | undefined;
  let bodyLength: number | undefined;
  const end = buf.byteLength;
  let pos = 0;
  while (pos < end) {
    const tag = buf[pos++]!;
    if (tag === 0x28 || tag === 0x40) {
      const v = tag === 0x28 ? readShortVarint(buf, pos, end) : readLengthVarint(buf, pos, end);
      if (v < 0) return undefined;
      if (tag === 0x28) timeoutMs = v;
      else bodyLength = v;
      pos = cursor.pos;
      continue;
    }
    if (tag !== 0x0a && tag !== 0x12 && tag !== 0x1a && tag !== 0x22 && tag !== 0x32 && tag !== 0x3a) return undefined;
    const len = readShortVarint(buf, pos, end);
    if (len < 0) return undefined;
    const start = cursor.pos;
    pos = start + len;
    if (pos > end) return undefined;
    if (tag === 0x22) {
      data = buf.subarray(start, pos);
      continue;
    }
    if (tag === 0x3a) {
      if (!readHeader(buf, start, pos, (headers ??= []))) return undefined;
      continue;
    }
    const text = readAscii(buf, start, pos);
    if (text === undefined) return undefined;
    if (tag === 0x0a) verb = text;
    else if (tag === 0x12) noun = text;
    else if (tag === 0x1a) mimetype = text;
    else query = text;
  }
  const event: WireEvent = { verb, noun, mimetype, data, timeoutMs, query };
  if (headers !== undefined) event.headers = headers;
  if (bodyLength !== undefined) event.bodyLength = bodyLength;
  return event;
}

/** The common shape of an EventReply payload, or undefined: then the generated decoder reads it. */
export function fastDecodeReply(buf: Uint8Array): WireReply | undefined {
  return readReplyFields(buf, buf.byteLength);
}

/**
 * The common shape of an EventReply payload of `total` bytes of which `head` holds the first
 * ones, with its data field the last thing in it (both encoders write it last): the reply without
 * its data, and where the data starts in the payload. Undefined for any other shape (a field past
 * `head`, data not last): the caller then joins the payload and decodes it whole.
 */
export function fastDecodeReplyHead(head: Uint8Array, total: number): { reply: WireReply; dataStart: number } | undefined {
  const reply = readReplyFields(head, total);
  return reply === undefined || dataStartOfLastRead < 0 ? undefined : { reply, dataStart: dataStartOfLastRead };
}

/** Where the data of the payload {@link readReplyFields} last read starts, when it stopped there; else -1. */
let dataStartOfLastRead = -1;

/**
 * Reads an EventReply's fields from `buf`, the first bytes of a payload of `total` bytes. With
 * the whole payload (`total` = its length) the data is a view of `buf`; with only its first
 * bytes, reading stops at a data field that runs to the end of the payload, and
 * `dataStartOfLastRead` says where it starts (else -1).
 */
function readReplyFields(buf: Uint8Array, total: number): WireReply | undefined {
  let code = 0;
  let mimetype = '';
  let data: Uint8Array = EMPTY_DATA;
  let status: number | undefined;
  let headers: string[] | undefined;
  let bodyLength: number | undefined;
  dataStartOfLastRead = -1;
  const end = buf.byteLength;
  let pos = 0;
  while (pos < total) {
    if (pos >= end) return undefined;
    const tag = buf[pos++]!;
    if (tag === 0x08 || tag === 0x20 || tag === 0x30) {
      const v = tag === 0x30 ? readLengthVarint(buf, pos, end) : readShortVarint(buf, pos, end);
      if (v < 0) return undefined;
      if (tag === 0x08) code = v;
      else if (tag === 0x20) status = v;
      else bodyLength = v;
      pos = cursor.pos;
      continue;
    }
    if (tag !== 0x12 && tag !== 0x1a && tag !== 0x2a) return undefined;
    const len = readShortVarint(buf, pos, end);
    if (len < 0) return undefined;
    const start = cursor.pos;
    pos = start + len;
    if (tag === 0x1a && end < total && pos === total) {
      dataStartOfLastRead = start;
      break;
    }
    if (pos > end) return undefined;
    if (tag === 0x1a) {
      data = buf.subarray(start, pos);
      continue;
    }
    if (tag === 0x2a) {
      if (!readHeader(buf, start, pos, (headers ??= []))) return undefined;
      continue;
    }
    const text = readAscii(buf, start, pos);
    if (text === undefined) return undefined;
    mimetype = text;
  }
  const reply: WireReply = { code, mimetype, data };
  if (status !== undefined) reply.status = status;
  if (headers !== undefined) reply.headers = headers;
  if (bodyLength !== undefined) reply.bodyLength = bodyLength;
  return reply;
}
