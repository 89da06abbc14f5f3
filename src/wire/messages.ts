import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { ProtocolError } from '../errors.js';
import { FrameFlag, FrameType, HEADER_BYTES } from './frame.js';
import { encodeFrame, encodeHeader } from './frame-encoder.js';
import { partsLength } from '../body-pieces.js';
import { fastDecodeEvent, fastDecodeReply, fastDecodeReplyHead, fastEventFrame, fastReplyFrame, readShortVarint, varintCursor, varintSize, writeVarint } from './message-fast-path.js';
import type { HeaderList, HelloMessage, WireEvent, WireReply } from './message-types.js';
import {
  CancelCode,
  CancelSchema,
  DataSchema,
  EventReplySchema,
  EventSchema,
  GoAwayCode,
  GoAwaySchema,
  HelloSchema,
  Role,
  WindowUpdateSchema,
  type Header,
} from './gen/restpipe_pb.js';

export { CancelCode, GoAwayCode, Role };
export type { HeaderList, HelloMessage, WireEvent, WireReply } from './message-types.js';

/** A cancel: why the event (or, from the answering node, its reply) ended early. */
export interface CancelMessage {
  reason: string;
  code: CancelCode;
}

/** A goaway: why the peer is closing the pipe. */
export interface GoAwayMessage {
  code: GoAwayCode;
  reason: string;
}
export { INLINE_DATA_BYTES } from './message-fast-path.js';

/**
 * The wire protocol version carried by each hello. Bump it on any incompatible change to
 * proto/restpipe.proto or to the framing; peers with different versions refuse each other.
 * Version 2: bodies are flow-controlled streams (SPEC §9; docs in the README's wire section).
 */
export const PROTOCOL_VERSION = 2;

/** Field numbers of the `data` fields, written by hand after the rest of the message. */
const EVENT_DATA_FIELD = 4;
const REPLY_DATA_FIELD = 3;

const EMPTY = new Uint8Array(0);

export function encodeHello(hello: HelloMessage): Uint8Array[] {
  return [
    toBinary(
      HelloSchema,
      create(HelloSchema, {
        protocolVersion: hello.protocolVersion,
        nodeName: hello.nodeName,
        role: hello.role === 'server' ? Role.SERVER : Role.CLIENT,
        maxFrameBytes: hello.maxFrameBytes,
        heartbeatIntervalMs: hello.heartbeatIntervalMs,
        initialStreamWindow: hello.initialStreamWindow ?? 0,
        maxStreamWindow: hello.maxStreamWindow ?? 0,
        pipeWindow: hello.pipeWindow ?? 0,
        maxInlineInflightBytes: hello.maxInlineInflightBytes ?? 0,
      }),
    ),
  ];
}

export function decodeHello(payload: Uint8Array): HelloMessage {
  const m = decode(HelloSchema, payload, 'HELLO');
  if (m.role !== Role.SERVER && m.role !== Role.CLIENT) {
    throw new ProtocolError(`HELLO with unknown role ${m.role}`);
  }
  return {
    protocolVersion: m.protocolVersion,
    nodeName: m.nodeName,
    role: m.role === Role.SERVER ? 'server' : 'client',
    maxFrameBytes: m.maxFrameBytes,
    heartbeatIntervalMs: m.heartbeatIntervalMs,
    initialStreamWindow: m.initialStreamWindow,
    maxStreamWindow: m.maxStreamWindow,
    pipeWindow: m.pipeWindow,
    maxInlineInflightBytes: m.maxInlineInflightBytes,
  };
}

/**
 * An event's payload as parts: the metadata message, then the data field's own tag and
 * length, then the caller's buffer untouched. Protobuf merges fields in any order, so the
 * stock decoder reads the concatenation as one Event.
 */
export function encodeEvent(event: WireEvent): Uint8Array[] {
  const head = toBinary(
    EventSchema,
    create(EventSchema, {
      verb: event.verb,
      noun: event.noun,
      mimetype: event.mimetype,
      timeoutMs: event.timeoutMs,
      query: event.query,
      headers: toHeaderMessages(event.headers),
      ...(event.bodyLength === undefined ? {} : { bodyLength: BigInt(event.bodyLength) }),
    }),
  );
  return withData(head, EVENT_DATA_FIELD, event);
}

export function decodeEvent(payload: Uint8Array): WireEvent {
  return fastDecodeEvent(payload) ?? decodeEventReference(payload);
}

/** @internal decodeEvent by the generated code alone (the fast path's reference, in tests). */
export function decodeEventReference(payload: Uint8Array): WireEvent {
  const m = decode(EventSchema, payload, 'EVENT');
  const event: WireEvent = {
    verb: m.verb,
    noun: m.noun,
    mimetype: m.mimetype,
    data: m.data,
    timeoutMs: m.timeoutMs,
    query: m.query,
  };
  if (m.headers.length > 0) event.headers = fromHeaderMessages(m.headers);
  if (m.bodyLength !== undefined) event.bodyLength = safeLength(m.bodyLength, 'EVENT');
  return event;
}

export function encodeReply(reply: WireReply): Uint8Array[] {
  const head = toBinary(
    EventReplySchema,
    create(EventReplySchema, {
      code: reply.code,
      mimetype: reply.mimetype,
      ...(reply.status === undefined ? {} : { httpStatus: reply.status }),
      headers: toHeaderMessages(reply.headers),
      ...(reply.bodyLength === undefined ? {} : { bodyLength: BigInt(reply.bodyLength) }),
    }),
  );
  return withData(head, REPLY_DATA_FIELD, reply);
}

export function decodeReply(payload: Uint8Array): WireReply {
  return fastDecodeReply(payload) ?? decodeReplyReference(payload);
}

/**
 * {@link decodeReply} for a payload that spans network reads, given as views of them in order
 * (FrameDecoder's split sink). When the reply's fields and its data field's tag lie in the first
 * view and the data runs to the end (both encoders write it last), the data stays in the views:
 * `dataParts` holds them and `data` is empty. Anything else is joined and decoded whole.
 * @throws ProtocolError as decodeReply.
 */
export function decodeReplyParts(parts: readonly Buffer[]): WireReply {
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const first = parts[0]!;
  const head = fastDecodeReplyHead(first, total);
  if (head === undefined) return decodeReply(Buffer.concat(parts as Buffer[], total));
  const pieces: Buffer[] = parts.slice();
  pieces[0] = first.subarray(head.dataStart);
  if (pieces[0].byteLength === 0) pieces.shift();
  head.reply.dataParts = pieces;
  return head.reply;
}

/** @internal decodeReply by the generated code alone (the fast path's reference, in tests). */
export function decodeReplyReference(payload: Uint8Array): WireReply {
  const m = decode(EventReplySchema, payload, 'EVENT_REPLY');
  const reply: WireReply = { code: m.code, mimetype: m.mimetype, data: m.data };
  if (m.httpStatus !== undefined) reply.status = m.httpStatus;
  if (m.headers.length > 0) reply.headers = fromHeaderMessages(m.headers);
  if (m.bodyLength !== undefined) reply.bodyLength = safeLength(m.bodyLength, 'EVENT_REPLY');
  return reply;
}

export function encodeCancel(reason: string, code: CancelCode = CancelCode.UNSPECIFIED): Uint8Array[] {
  return [toBinary(CancelSchema, create(CancelSchema, { reason, code }))];
}

/** A cancel's reason (v1 callers); {@link decodeCancelMessage} gives its code too. */
export function decodeCancel(payload: Uint8Array): string {
  return decode(CancelSchema, payload, 'CANCEL').reason;
}

export function decodeCancelMessage(payload: Uint8Array): CancelMessage {
  const m = decode(CancelSchema, payload, 'CANCEL');
  return { reason: m.reason, code: m.code };
}

/**
 * A whole DATA frame: one small buffer (header, the chunk's tag and length), then the chunk
 * itself, never copied (the same bytes as `encodeFrame(DATA, id, [toBinary(Data{chunk})], flags)`).
 * `flags`: REPLY for a reply body, END_STREAM on the last chunk.
 */
export function encodeDataFrame(id: number, flags: number, chunk: Uint8Array): Uint8Array[] {
  const n = chunk.byteLength;
  if (n === 0) return [encodeHeader(FrameType.DATA, 0, id, flags)];
  const prefix = 1 + varintSize(n);
  const head = encodeHeader(FrameType.DATA, prefix + n, id, flags);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + prefix);
  head.copy(buf, 0);
  buf[HEADER_BYTES] = 0x0a;
  writeVarint(buf, HEADER_BYTES + 1, n);
  return [buf, chunk];
}

/** A DATA frame's chunk: a view of the payload (no copy). @throws ProtocolError when undecodable. */
export function decodeData(payload: Uint8Array): Uint8Array {
  if (payload.byteLength === 0) return EMPTY;
  if (payload[0] === 0x0a) {
    const n = readShortVarint(payload, 1, payload.byteLength);
    if (n >= 0 && varintCursor.pos + n === payload.byteLength) return payload.subarray(varintCursor.pos);
  }
  return decode(DataSchema, payload, 'DATA').chunk;
}

/**
 * A DATA payload that arrived in parts (frame-decoder.ts, SplitDataSink): the chunk as views of
 * those parts, without copying. The common form (tag 1, then the length, then the bytes, with the
 * tag and length in the first part) is read in place; anything else is joined and decoded as
 * {@link decodeData} does (one part).
 * @throws ProtocolError as decodeData.
 */
export function decodeDataParts(parts: Buffer[]): Buffer[] {
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const first = parts[0]!;
  if (first.byteLength > 0 && first[0] === 0x0a) {
    const n = readShortVarint(first, 1, first.byteLength);
    if (n >= 0 && varintCursor.pos + n === total) {
      const out = parts.slice();
      out[0] = first.subarray(varintCursor.pos);
      if (out[0].byteLength === 0) out.shift();
      return out;
    }
  }
  const joined = decodeData(Buffer.concat(parts, total));
  return [Buffer.from(joined.buffer, joined.byteOffset, joined.byteLength)];
}

/** A whole WINDOW_UPDATE frame: one buffer. `flags`: REPLY for a request body's credit; id 0 = the pipe. */
export function encodeWindowUpdateFrame(id: number, flags: number, increment: number): Uint8Array[] {
  const n = increment === 0 ? 0 : 1 + varintSize(increment);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + n);
  encodeHeader(FrameType.WINDOW_UPDATE, n, id, flags).copy(buf, 0);
  if (n > 0) {
    buf[HEADER_BYTES] = 0x08;
    writeVarint(buf, HEADER_BYTES + 1, increment);
  }
  return [buf];
}

/** A WINDOW_UPDATE's increment (0 when absent, which the receiver refuses). @throws ProtocolError when undecodable. */
export function decodeWindowUpdate(payload: Uint8Array): number {
  if (payload.byteLength === 0) return 0;
  if (payload[0] === 0x08) {
    const n = readShortVarint(payload, 1, payload.byteLength);
    if (n >= 0 && varintCursor.pos === payload.byteLength) return n;
  }
  return decode(WindowUpdateSchema, payload, 'WINDOW_UPDATE').increment;
}

export function encodeGoAway(goAway: GoAwayMessage): Uint8Array[] {
  return [toBinary(GoAwaySchema, create(GoAwaySchema, goAway))];
}

export function decodeGoAway(payload: Uint8Array): GoAwayMessage {
  const m = decode(GoAwaySchema, payload, 'GOAWAY');
  return { code: m.code, reason: m.reason };
}

/** Heartbeats and their replies carry empty messages: the frame id is all they need. */
export const EMPTY_PAYLOAD: readonly Uint8Array[] = [];

function toHeaderMessages(headers: HeaderList | undefined): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  if (headers === undefined) return out;
  for (let i = 0; i + 1 < headers.length; i += 2) out.push({ name: headers[i]!, value: headers[i + 1]! });
  return out;
}

function fromHeaderMessages(headers: readonly Header[]): string[] {
  const out: string[] = [];
  for (const h of headers) out.push(h.name, h.value);
  return out;
}

/** A uint64 length as a number; lengths past 2^53 are not bodies anyone can send. */
function safeLength(n: bigint, what: string): number {
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError(`${what} with a body_length of ${n} bytes`);
  return Number(n);
}

function withData(head: Uint8Array, field: number, message: { data: Uint8Array; dataParts?: readonly Uint8Array[] }): Uint8Array[] {
  const parts = message.dataParts ?? [message.data];
  const n = partsLength(parts);
  if (n === 0) return [head];
  const prefix = new BinaryWriter().tag(field, WireType.LengthDelimited).uint32(n).finish();
  return [head, prefix, ...parts];
}

function decode<Desc extends DescMessage>(schema: Desc, payload: Uint8Array, what: string): MessageShape<Desc> {
  try {
    return fromBinary(schema, payload);
  } catch (err) {
    throw new ProtocolError(`undecodable ${what} payload (${payload.byteLength} bytes): ${(err as Error).message}`);
  }
}

export { EMPTY as EMPTY_BYTES };

/**
 * A whole EVENT frame (header and payload) for message id `id`: one buffer, or the buffer and
 * then `event.data` itself when the body is larger than INLINE_DATA_BYTES. The same bytes as
 * `encodeFrame(FrameType.EVENT, id, encodeEvent(event), flags)` (message-fast-path.ts writes them).
 * @param flags END_STREAM when the body is all inline (v2). @default 0
 */
export function encodeEventFrame(id: number, event: WireEvent, flags = 0): Uint8Array[] {
  return fastEventFrame(id, event, flags) ?? encodeFrame(FrameType.EVENT, id, encodeEvent(event), flags);
}

/**
 * A whole EVENT_REPLY frame for message id `id`, as {@link encodeEventFrame}: the same bytes as
 * `encodeFrame(FrameType.EVENT_REPLY, id, encodeReply(reply), flags)`.
 * @param flags REPLY, plus END_STREAM when the body is all inline (v2). @default REPLY
 */
export function encodeReplyFrame(id: number, reply: WireReply, flags: number = FrameFlag.REPLY): Uint8Array[] {
  return fastReplyFrame(id, reply, flags) ?? encodeFrame(FrameType.EVENT_REPLY, id, encodeReply(reply), flags);
}
