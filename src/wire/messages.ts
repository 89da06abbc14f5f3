import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { ProtocolError } from '../errors.js';
import { FrameType } from './frame.js';
import { encodeFrame } from './frame-encoder.js';
import { fastDecodeEvent, fastDecodeReply, fastEventFrame, fastReplyFrame } from './message-fast-path.js';
import type { HelloMessage, WireEvent, WireReply } from './message-types.js';
import {
  CancelSchema,
  EventReplySchema,
  EventSchema,
  GoAwayCode,
  GoAwaySchema,
  HelloSchema,
  Role,
} from './gen/restpipe_pb.js';

export { GoAwayCode, Role };
export type { HelloMessage, WireEvent, WireReply } from './message-types.js';

/** A goaway: why the peer is closing the pipe. */
export interface GoAwayMessage {
  code: GoAwayCode;
  reason: string;
}
export { INLINE_DATA_BYTES } from './message-fast-path.js';

/**
 * The wire protocol version carried by each hello. Bump it on any incompatible change to
 * proto/restpipe.proto or to the framing; peers with different versions refuse each other.
 */
export const PROTOCOL_VERSION = 1;

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
    }),
  );
  return withData(head, EVENT_DATA_FIELD, event.data);
}

export function decodeEvent(payload: Uint8Array): WireEvent {
  return fastDecodeEvent(payload) ?? decodeEventReference(payload);
}

/** @internal decodeEvent by the generated code alone (the fast path's reference, in tests). */
export function decodeEventReference(payload: Uint8Array): WireEvent {
  const m = decode(EventSchema, payload, 'EVENT');
  return {
    verb: m.verb,
    noun: m.noun,
    mimetype: m.mimetype,
    data: m.data,
    timeoutMs: m.timeoutMs,
    query: m.query,
  };
}

export function encodeReply(reply: WireReply): Uint8Array[] {
  const head = toBinary(
    EventReplySchema,
    create(EventReplySchema, {
      code: reply.code,
      mimetype: reply.mimetype,
      ...(reply.status === undefined ? {} : { httpStatus: reply.status }),
    }),
  );
  return withData(head, REPLY_DATA_FIELD, reply.data);
}

export function decodeReply(payload: Uint8Array): WireReply {
  return fastDecodeReply(payload) ?? decodeReplyReference(payload);
}

/** @internal decodeReply by the generated code alone (the fast path's reference, in tests). */
export function decodeReplyReference(payload: Uint8Array): WireReply {
  const m = decode(EventReplySchema, payload, 'EVENT_REPLY');
  const reply: WireReply = { code: m.code, mimetype: m.mimetype, data: m.data };
  if (m.httpStatus !== undefined) reply.status = m.httpStatus;
  return reply;
}

export function encodeCancel(reason: string): Uint8Array[] {
  return [toBinary(CancelSchema, create(CancelSchema, { reason }))];
}

export function decodeCancel(payload: Uint8Array): string {
  return decode(CancelSchema, payload, 'CANCEL').reason;
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

function withData(head: Uint8Array, field: number, data: Uint8Array): Uint8Array[] {
  if (data.byteLength === 0) return [head];
  const prefix = new BinaryWriter().tag(field, WireType.LengthDelimited).uint32(data.byteLength).finish();
  return [head, prefix, data];
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
 * `encodeFrame(FrameType.EVENT, id, encodeEvent(event))` (message-fast-path.ts writes them).
 */
export function encodeEventFrame(id: number, event: WireEvent): Uint8Array[] {
  return fastEventFrame(id, event) ?? encodeFrame(FrameType.EVENT, id, encodeEvent(event));
}

/**
 * A whole EVENT_REPLY frame for message id `id`, as {@link encodeEventFrame}: the same bytes as
 * `encodeFrame(FrameType.EVENT_REPLY, id, encodeReply(reply))`.
 */
export function encodeReplyFrame(id: number, reply: WireReply): Uint8Array[] {
  return fastReplyFrame(id, reply) ?? encodeFrame(FrameType.EVENT_REPLY, id, encodeReply(reply));
}
