import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ProtocolError } from '../../src/errors.js';
import { EventReplySchema, EventSchema } from '../../src/wire/gen/restpipe_pb.js';
import {
  decodeCancel,
  decodeEvent,
  decodeGoAway,
  decodeHello,
  decodeReply,
  encodeCancel,
  encodeEvent,
  encodeGoAway,
  encodeHello,
  encodeReply,
  type GoAwayCode,
  type HelloMessage,
  type WireEvent,
  type WireReply,
} from '../../src/wire/messages.js';
import { fcParams } from './fc-settings.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
// Any code points, astral ones included; never lone surrogates, which UTF-8 cannot carry.
const text = fc.string({ unit: 'binary', maxLength: 40 });
const bytes = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2000 }) },
);

const eventArb: fc.Arbitrary<WireEvent> = fc.record({
  verb: fc.oneof(fc.constantFrom('get', 'post', 'put', 'delete', 'patch'), text),
  noun: text,
  mimetype: text,
  data: bytes,
  timeoutMs: u32,
  query: text,
});

const replyArb: fc.Arbitrary<WireReply> = fc
  .record({ code: u32, mimetype: text, data: bytes, status: fc.option(u32, { nil: undefined }) })
  // `status` absent, not present-and-undefined: that is what decodeReply gives back.
  .map(({ status, ...rest }) => (status === undefined ? rest : { ...rest, status }));

const helloArb: fc.Arbitrary<HelloMessage> = fc.record({
  protocolVersion: u32,
  nodeName: text,
  role: fc.constantFrom('server' as const, 'client' as const),
  maxFrameBytes: u32,
  heartbeatIntervalMs: u32,
});

function join(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

function hexData<T extends { data: Uint8Array }>(m: T): Omit<T, 'data'> & { data: string } {
  return { ...m, data: Buffer.from(m.data).toString('hex') };
}

describe('message properties', () => {
  it('round-trips any Event, and the stock decoder reads the parts as the whole message', () => {
    fc.assert(
      fc.property(eventArb, (event) => {
        const parts = encodeEvent(event);
        const payload = join(parts);
        assert.deepEqual(hexData(decodeEvent(payload)), hexData(event));
        const whole = create(EventSchema, event);
        assert.ok(equals(EventSchema, fromBinary(EventSchema, payload), fromBinary(EventSchema, toBinary(EventSchema, whole))));
        if (event.data.byteLength > 0) assert.equal(parts[parts.length - 1], event.data);
      }),
      fcParams(2000),
    );
  });

  it('round-trips any EventReply, with or without an http status', () => {
    fc.assert(
      fc.property(replyArb, (reply) => {
        const parts = encodeReply(reply);
        const payload = join(parts);
        assert.deepEqual(hexData(decodeReply(payload)), hexData(reply));
        const whole = create(EventReplySchema, {
          code: reply.code,
          mimetype: reply.mimetype,
          data: reply.data,
          ...(reply.status === undefined ? {} : { httpStatus: reply.status }),
        });
        assert.ok(
          equals(EventReplySchema, fromBinary(EventReplySchema, payload), fromBinary(EventReplySchema, toBinary(EventReplySchema, whole))),
        );
        if (reply.data.byteLength > 0) assert.equal(parts[parts.length - 1], reply.data);
      }),
      fcParams(2000),
    );
  });

  it('round-trips any Hello, Cancel and GoAway', () => {
    fc.assert(
      fc.property(helloArb, text, u32, text, (hello, cancel, code, reason) => {
        // fast-check builds records without a prototype; deepEqual compares prototypes.
        assert.deepEqual(decodeHello(join(encodeHello(hello))), { ...hello });
        assert.equal(decodeCancel(join(encodeCancel(cancel))), cancel);
        // GoAwayCode is an open enum on the wire: any int32 comes back as sent.
        const goAway = { code: (code | 0) as GoAwayCode, reason };
        assert.deepEqual(decodeGoAway(join(encodeGoAway(goAway))), goAway);
      }),
      fcParams(1000),
    );
  });

  // Arbitrary bytes, and valid encodings with a few bytes changed, cut short or extended.
  const validPayload = fc.oneof(
    eventArb.map((e) => join(encodeEvent(e))),
    replyArb.map((r) => join(encodeReply(r))),
    helloArb.map((h) => join(encodeHello(h))),
    text.map((t) => join(encodeCancel(t))),
  );
  const garbleArb = fc
    .record({
      payload: validPayload,
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      tail: fc.uint8Array({ maxLength: 8 }),
    })
    .map(({ payload, edits, cut, tail }) => {
      const out = Buffer.from(payload);
      for (const [at, value] of edits) if (out.length > 0) out[at % out.length] = value;
      const kept = cut === undefined ? out : out.subarray(0, cut % (out.length + 1));
      return Buffer.concat([kept, tail]);
    });
  const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 100 }), garbleArb);

  const decoders = [
    ['EVENT', decodeEvent],
    ['EVENT_REPLY', decodeReply],
    ['HELLO', decodeHello],
    ['CANCEL', decodeCancel],
    ['GOAWAY', decodeGoAway],
  ] as const;

  it('decoders throw nothing but a ProtocolError naming the frame type, whatever the bytes', () => {
    fc.assert(
      fc.property(anyBytes, (payload) => {
        for (const [name, decode] of decoders) {
          try {
            decode(payload);
          } catch (err) {
            if (!(err instanceof ProtocolError)) throw err;
            assert.ok(err.reason.startsWith(`undecodable ${name} payload`) || err.reason.startsWith(`${name} with`), err.reason);
          }
        }
      }),
      fcParams(5000),
    );
  });
});
