import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ProtocolError } from '../../src/errors.js';
import { DataSchema, EventReplySchema, EventSchema, WindowUpdateSchema } from '../../src/wire/gen/restpipe_pb.js';
import { FrameFlag, FrameType } from '../../src/wire/frame.js';
import { encodeFrame } from '../../src/wire/frame-encoder.js';
import {
  CancelCode,
  decodeCancel,
  decodeCancelMessage,
  decodeData,
  decodeWindowUpdate,
  encodeDataFrame,
  encodeWindowUpdateFrame,
  decodeEvent,
  decodeEventReference,
  decodeGoAway,
  decodeHello,
  decodeReply,
  decodeReplyReference,
  encodeCancel,
  encodeEvent,
  encodeEventFrame,
  encodeGoAway,
  encodeHello,
  encodeReply,
  encodeReplyFrame,
  INLINE_DATA_BYTES,
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

// v2 fields: a header list (absent when empty, as decoders give it back) and a body length up
// to 2^53 − 1 (varints of every width).
const bodyLengthArb = fc.oneof(u32, fc.constantFrom(0, 2 ** 28, 2 ** 32, 2 ** 35, 2 ** 49, Number.MAX_SAFE_INTEGER), fc.maxSafeNat());
function withV2<T extends object>(arb: fc.Arbitrary<T>, textArb: fc.Arbitrary<string>): fc.Arbitrary<T & { headers?: string[]; bodyLength?: number }> {
  return fc
    .record({
      base: arb,
      headers: fc.option(fc.array(fc.tuple(textArb, textArb), { minLength: 1, maxLength: 5 }), { nil: undefined }),
      bodyLength: fc.option(bodyLengthArb, { nil: undefined }),
    })
    .map(({ base, headers, bodyLength }) => ({
      ...base,
      ...(headers === undefined ? {} : { headers: headers.flat() }),
      ...(bodyLength === undefined ? {} : { bodyLength }),
    }));
}

/** A wire message's fields as the generated code's init takes them (Header messages, bigint length). */
function toInit<T extends { headers?: readonly string[]; bodyLength?: number }>(m: T): Omit<T, 'headers' | 'bodyLength'> & { headers: { name: string; value: string }[]; bodyLength?: bigint } {
  const { headers, bodyLength, ...rest } = m;
  const list: { name: string; value: string }[] = [];
  for (let i = 0; i + 1 < (headers?.length ?? 0); i += 2) list.push({ name: headers![i]!, value: headers![i + 1]! });
  return { ...rest, headers: list, ...(bodyLength === undefined ? {} : { bodyLength: BigInt(bodyLength) }) };
}

const eventArb: fc.Arbitrary<WireEvent> = withV2(
  fc.record({
    verb: fc.oneof(fc.constantFrom('get', 'post', 'put', 'delete', 'patch'), text),
    noun: text,
    mimetype: text,
    data: bytes,
    timeoutMs: u32,
    query: text,
  }),
  text,
);

const replyArb: fc.Arbitrary<WireReply> = withV2(
  fc
    .record({ code: u32, mimetype: text, data: bytes, status: fc.option(u32, { nil: undefined }) })
    // `status` absent, not present-and-undefined: that is what decodeReply gives back.
    .map(({ status, ...rest }) => (status === undefined ? rest : { ...rest, status })),
  text,
);

const helloArb: fc.Arbitrary<HelloMessage> = fc.record({
  protocolVersion: u32,
  nodeName: text,
  role: fc.constantFrom('server' as const, 'client' as const),
  maxFrameBytes: u32,
  heartbeatIntervalMs: u32,
  initialStreamWindow: u32,
  maxStreamWindow: u32,
  pipeWindow: u32,
  maxInlineInflightBytes: u32,
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
        const whole = create(EventSchema, toInit(event));
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
        const { status, ...rest } = toInit(reply);
        const whole = create(EventReplySchema, { ...rest, ...(status === undefined ? {} : { httpStatus: status }) });
        assert.ok(
          equals(EventReplySchema, fromBinary(EventReplySchema, payload), fromBinary(EventReplySchema, toBinary(EventReplySchema, whole))),
        );
        if (reply.data.byteLength > 0) assert.equal(parts[parts.length - 1], reply.data);
      }),
      fcParams(2000),
    );
  });

  // The hand-written hot path (encodeEventFrame/encodeReplyFrame, and the fast decoders inside
  // decodeEvent/decodeReply) against the generated code, on the shapes it takes (ASCII) and the
  // ones it hands over (anything else), across the inline-body threshold.
  const ascii = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 40 });
  const hotText = fc.oneof({ weight: 3, arbitrary: ascii }, { weight: 1, arbitrary: text });
  const hotU32 = fc.oneof(u32, fc.integer({ min: 0, max: 300 }), fc.constantFrom(0, 127, 128, 16_383, 16_384, 0x0fff_ffff, 0x1000_0000));
  const hotBytes = fc.oneof(
    { weight: 6, arbitrary: bytes },
    { weight: 1, arbitrary: fc.integer({ min: INLINE_DATA_BYTES - 2, max: INLINE_DATA_BYTES + 2 }).map((n) => new Uint8Array(n).fill(7)) },
    { weight: 1, arbitrary: fc.integer({ min: 16_385, max: 70_000 }).map((n) => Buffer.alloc(n, 3)) },
  );
  const hotEventArb: fc.Arbitrary<WireEvent> = withV2(
    fc.record({
      verb: fc.oneof(fc.constantFrom('get', 'post', 'put', 'delete', 'patch'), hotText),
      noun: hotText,
      mimetype: hotText,
      data: hotBytes,
      timeoutMs: hotU32,
      query: hotText,
    }),
    hotText,
  );
  const hotReplyArb: fc.Arbitrary<WireReply> = withV2(
    fc
      .record({ code: hotU32, mimetype: hotText, data: hotBytes, status: fc.option(hotU32, { nil: undefined }) })
      .map(({ status, ...rest }) => (status === undefined ? rest : { ...rest, status })),
    hotText,
  );
  const flagsArb = fc.constantFrom(0, FrameFlag.END_STREAM);

  it('encodeEventFrame writes the bytes of encodeFrame(EVENT, id, encodeEvent(e)); decodeEvent agrees with the generated decoder', () => {
    fc.assert(
      fc.property(hotEventArb, u32, flagsArb, (event, id, flags) => {
        const fast = encodeEventFrame(id, event, flags);
        const reference = join(encodeFrame(FrameType.EVENT, id, encodeEvent(event), flags));
        assert.deepEqual(join(fast), reference);
        if (event.data.byteLength > INLINE_DATA_BYTES) assert.equal(fast[fast.length - 1], event.data);
        else assert.equal(fast.length, 1);
        const payload = reference.subarray(10);
        assert.deepEqual(hexData(decodeEvent(payload)), hexData(decodeEventReference(payload)));
        assert.deepEqual(hexData(decodeEvent(payload)), hexData(event));
      }),
      fcParams(1000),
    );
  });

  it('encodeReplyFrame writes the bytes of encodeFrame(EVENT_REPLY, id, encodeReply(r)); decodeReply agrees with the generated decoder', () => {
    fc.assert(
      fc.property(hotReplyArb, u32, flagsArb, (reply, id, end) => {
        const flags = FrameFlag.REPLY | end;
        const fast = encodeReplyFrame(id, reply, flags);
        const reference = join(encodeFrame(FrameType.EVENT_REPLY, id, encodeReply(reply), flags));
        assert.deepEqual(join(fast), reference);
        if (reply.data.byteLength > INLINE_DATA_BYTES) assert.equal(fast[fast.length - 1], reply.data);
        else assert.equal(fast.length, 1);
        const payload = reference.subarray(10);
        assert.deepEqual(hexData(decodeReply(payload)), hexData(decodeReplyReference(payload)));
        assert.deepEqual(hexData(decodeReply(payload)), hexData(reply));
      }),
      fcParams(1000),
    );
  });

  it('round-trips any Hello, Cancel and GoAway', () => {
    fc.assert(
      fc.property(helloArb, text, u32, text, fc.constantFrom(...Object.values(CancelCode).filter((v): v is CancelCode => typeof v === 'number')), (hello, cancel, code, reason, cancelCode) => {
        // fast-check builds records without a prototype; deepEqual compares prototypes.
        assert.deepEqual(decodeHello(join(encodeHello(hello))), { ...hello });
        assert.equal(decodeCancel(join(encodeCancel(cancel))), cancel);
        assert.deepEqual(decodeCancelMessage(join(encodeCancel(cancel, cancelCode))), { reason: cancel, code: cancelCode });
        // GoAwayCode is an open enum on the wire: any int32 comes back as sent.
        const goAway = { code: (code | 0) as GoAwayCode, reason };
        assert.deepEqual(decodeGoAway(join(encodeGoAway(goAway))), goAway);
      }),
      fcParams(1000),
    );
  });

  it('DATA and WINDOW_UPDATE frames: the generated code reads what the hand-written encoders write, and back', () => {
    const chunkArb = fc.oneof(bytes, fc.integer({ min: 0, max: 70_000 }).map((n) => Buffer.alloc(n, 9)));
    fc.assert(
      fc.property(u32, fc.integer({ min: 0, max: 3 }), chunkArb, u32, (id, flags, chunk, increment) => {
        const frame = join(encodeDataFrame(id, flags, chunk));
        assert.equal(frame.length, 10 + frame.readUInt32BE(2));
        assert.deepEqual([frame[0], frame[1], frame.readUInt32BE(6)], [FrameType.DATA, flags, id]);
        const payload = frame.subarray(10);
        assert.deepEqual(Buffer.from(fromBinary(DataSchema, payload).chunk), Buffer.from(chunk));
        assert.deepEqual(payload, Buffer.from(toBinary(DataSchema, create(DataSchema, { chunk }))));
        const got = decodeData(payload);
        assert.deepEqual(Buffer.from(got), Buffer.from(chunk));
        if (chunk.byteLength > 0) assert.equal(got.buffer, payload.buffer, 'a chunk is a view, not a copy');
        const wu = join(encodeWindowUpdateFrame(id, flags & FrameFlag.REPLY, increment));
        assert.deepEqual(wu.subarray(10), Buffer.from(toBinary(WindowUpdateSchema, create(WindowUpdateSchema, { increment }))));
        assert.equal(decodeWindowUpdate(wu.subarray(10)), increment);
      }),
      fcParams(1000),
    );
  });

  // Arbitrary bytes, and valid encodings with a few bytes changed, cut short or extended.
  const validPayload = fc.oneof(
    eventArb.map((e) => join(encodeEvent(e))),
    replyArb.map((r) => join(encodeReply(r))),
    helloArb.map((h) => join(encodeHello(h))),
    text.map((t) => join(encodeCancel(t, CancelCode.RESET))),
    bytes.map((b) => join(encodeDataFrame(1, 0, b)).subarray(10)),
    u32.map((n) => join(encodeWindowUpdateFrame(1, 0, n)).subarray(10)),
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

  const hotGarbleArb = fc
    .record({
      payload: fc.oneof(hotEventArb.map((e) => join(encodeEvent(e))), hotReplyArb.map((r) => join(encodeReply(r)))),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 0, maxLength: 4 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      tail: fc.uint8Array({ maxLength: 8 }),
    })
    .map(({ payload, edits, cut, tail }) => {
      const out = Buffer.from(payload);
      for (const [at, value] of edits) if (out.length > 0) out[at % out.length] = value;
      const kept = cut === undefined ? out : out.subarray(0, cut % (out.length + 1));
      return Buffer.concat([kept, tail]);
    });

  it('decodeEvent and decodeReply give what the generated decoder gives (value or error), whatever the bytes', () => {
    const outcome = (decode: (p: Uint8Array) => unknown, payload: Uint8Array): unknown => {
      try {
        const m = decode(payload) as { data: Uint8Array };
        return { ok: hexData(m), type: Object.getPrototypeOf(m.data) };
      } catch (err) {
        return { error: (err as Error).message, cls: (err as Error).constructor };
      }
    };
    fc.assert(
      fc.property(fc.oneof(anyBytes, hotGarbleArb), (payload) => {
        assert.deepEqual(outcome(decodeEvent, payload), outcome(decodeEventReference, payload));
        assert.deepEqual(outcome(decodeReply, payload), outcome(decodeReplyReference, payload));
      }),
      fcParams(5000),
    );
  });

  const decoders = [
    ['EVENT', decodeEvent],
    ['EVENT_REPLY', decodeReply],
    ['HELLO', decodeHello],
    ['CANCEL', decodeCancel],
    ['CANCEL', decodeCancelMessage],
    ['GOAWAY', decodeGoAway],
    ['DATA', decodeData],
    ['WINDOW_UPDATE', decodeWindowUpdate],
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
