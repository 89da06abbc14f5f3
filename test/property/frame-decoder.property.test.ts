import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ProtocolError } from '../../src/errors.js';
import { FrameDecoder, SPLIT_DATA_MIN_BYTES } from '../../src/wire/frame-decoder.js';
import { encodeFrame } from '../../src/wire/frame-encoder.js';
import { carriesBody, FrameType, HEADER_BYTES, isReplyType, MAX_CONTROL_PAYLOAD_BYTES } from '../../src/wire/frame.js';
import { fcParams } from './fc-settings.js';

interface Frame {
  type: FrameType;
  id: number;
  payload: Uint8Array;
}

interface Delivered {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
}

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const frameTypeArb = fc.constantFrom(...Object.values(FrameType));
const frameArb: fc.Arbitrary<Frame> = fc.record({
  type: frameTypeArb,
  id: u32,
  payload: fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 32 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 600 }) },
  ),
});
/** Cut points (taken modulo the length) and whether each chunk gets its own memory. */
const chunkingArb = fc.record({
  cuts: fc.array(fc.nat(), { maxLength: 30 }),
  ownMemory: fc.boolean(),
});

function encodeAll(frames: readonly Frame[]): Buffer {
  return Buffer.concat(frames.flatMap((f) => encodeFrame(f.type, f.id, [f.payload])));
}

function split(bytes: Buffer, { cuts, ownMemory }: { cuts: number[]; ownMemory: boolean }): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let from = 0;
  for (const to of [...points, bytes.length]) {
    const chunk = bytes.subarray(from, to);
    chunks.push(ownMemory ? Buffer.from(chunk) : chunk);
    from = to;
  }
  return chunks;
}

function limitFor(type: number, max: number): number {
  return carriesBody(type) ? max : Math.min(max, MAX_CONTROL_PAYLOAD_BYTES);
}

function headerFor(type: FrameType, length: number, id: number): Buffer {
  const header = Buffer.from(encodeFrame(type, id, [])[0]!);
  header.writeUInt32BE(length, 2);
  return header;
}

describe('FrameDecoder properties', () => {
  it('decodes any frames, however the stream is chunked, exactly once and in order, leaving nothing buffered', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 20 }), chunkingArb, (frames, chunking) => {
        const got: Delivered[] = [];
        const decoder = new FrameDecoder(1 << 20, (type, flags, id, payload) => got.push({ type, flags, id, payload }));
        for (const chunk of split(encodeAll(frames), chunking)) decoder.push(chunk);
        assert.equal(decoder.bufferedBytes, 0);
        // Payloads are read only after all pushes, so a view clobbered by a later chunk would show.
        assert.deepEqual(
          got.map((f) => ({ ...f, payload: f.payload.toString('hex') })),
          frames.map((f) => ({
            type: f.type,
            flags: isReplyType(f.type) ? 1 : 0,
            id: f.id,
            payload: Buffer.from(f.payload).toString('hex'),
          })),
        );
      }),
      fcParams(2000),
    );
  });

  it('hands large DATA and EVENT_REPLY frames that span chunks out as views of them, small or whole ones as one payload, in order', () => {
    // Big DATA or EVENT_REPLY payloads (a pattern, so that generating them stays cheap) among small frames of any type.
    const bigDataArb: fc.Arbitrary<Frame> = fc
      .record({
        type: fc.constantFrom(FrameType.DATA, FrameType.EVENT_REPLY, FrameType.EVENT),
        id: u32,
        length: fc.integer({ min: SPLIT_DATA_MIN_BYTES - 2, max: 3 * SPLIT_DATA_MIN_BYTES }),
        seed: fc.nat(255),
      })
      .map(({ type, id, length, seed }) => ({ type, id, payload: Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff) }));
    const splitSink = (type: FrameType) => (_flags: number, id: number, parts: Buffer[]) => {
      assert.ok(parts.length >= 2, 'split only when the payload spans chunks');
      assert.ok(parts.every((p) => p.length > 0));
      got.push({ type, id, hex: Buffer.concat(parts).toString('hex'), parts: parts.length });
    };
    let got: { type: number; id: number; hex: string; parts: number }[] = [];
    const bigChunkingArb = fc.record({ cuts: fc.array(fc.nat(), { maxLength: 12 }), ownMemory: fc.boolean() });
    fc.assert(
      fc.property(fc.array(fc.oneof(frameArb, bigDataArb), { maxLength: 8 }), bigChunkingArb, (frames, chunking) => {
        got = [];
        const decoder = new FrameDecoder(
          1 << 20,
          (type, _flags, id, payload) => got.push({ type, id, hex: payload.toString('hex'), parts: 1 }),
          splitSink(FrameType.DATA),
          splitSink(FrameType.EVENT_REPLY),
        );
        const chunks = split(encodeAll(frames), chunking);
        for (const chunk of chunks) decoder.push(chunk);
        assert.equal(decoder.bufferedBytes, 0);
        assert.deepEqual(
          got.map(({ type, id, hex }) => ({ type, id, hex })),
          frames.map((f) => ({ type: f.type, id: f.id, hex: Buffer.from(f.payload).toString('hex') })),
        );
        for (const [i, f] of frames.entries()) {
          if (got[i]!.parts > 1) assert.ok((f.type === FrameType.DATA || f.type === FrameType.EVENT_REPLY) && f.payload.length >= SPLIT_DATA_MIN_BYTES);
        }
      }),
      fcParams(300),
    );
  });

  // Bytes that look like frames often enough to get past the header checks.
  const headerishArb = fc
    .record({
      type: fc.oneof(frameTypeArb, fc.integer({ min: 0, max: 255 })),
      flags: fc.oneof(fc.constantFrom(0, 1), fc.integer({ min: 0, max: 255 })),
      length: fc.oneof(fc.integer({ min: 0, max: 400 }), u32),
      id: u32,
      rest: fc.uint8Array({ maxLength: 80 }),
    })
    .map(({ type, flags, length, id, rest }) => {
      const header = Buffer.alloc(HEADER_BYTES);
      header[0] = type;
      header[1] = flags;
      header.writeUInt32BE(length, 2);
      header.writeUInt32BE(id, 6);
      return Buffer.concat([header, rest]);
    });
  const noiseArb = fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
    fc.array(headerishArb, { maxLength: 6 }).map((parts) => Buffer.concat(parts)),
  );

  it('throws nothing but ProtocolError on arbitrary bytes, and buffers at most max + header + chunk', () => {
    fc.assert(
      fc.property(noiseArb, fc.integer({ min: 0, max: 300 }), chunkingArb, (bytes, max, chunking) => {
        let chunkBytes = 0;
        const decoder: FrameDecoder = new FrameDecoder(max, () => {
          assert.ok(decoder.bufferedBytes <= max + HEADER_BYTES + chunkBytes);
        });
        let failure: unknown = null;
        for (const chunk of split(bytes, chunking)) {
          chunkBytes = chunk.length;
          try {
            decoder.push(chunk);
          } catch (err) {
            if (!(err instanceof ProtocolError)) throw err;
            if (failure === null) failure = err;
            // Once failed, the decoder repeats its first error for everything that follows.
            assert.equal(err, failure);
            assert.equal(decoder.bufferedBytes, 0);
            continue;
          }
          assert.equal(failure, null, 'a push after a ProtocolError must throw');
          assert.ok(decoder.bufferedBytes <= max + HEADER_BYTES + chunkBytes);
          // Tighter, between pushes: a partial header, or part of one frame within the limit.
          assert.ok(decoder.bufferedBytes <= Math.max(max, HEADER_BYTES));
        }
      }),
      fcParams(5000),
    );
  });

  it('refuses a header declaring more than the limit from the header alone, before any payload', () => {
    const oversizeArb = fc
      .record({
        before: fc.array(frameArb, { maxLength: 3 }),
        type: frameTypeArb,
        max: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1 << 24 })),
        excess: u32,
        id: u32,
        chunking: chunkingArb,
      })
      .map(({ before, type, max, excess, id, chunking }) => {
        const limit = limitFor(type, max);
        const length = limit + 1 + (excess % (0xffffffff - limit));
        return { before, type, max, length, id, chunking };
      });
    fc.assert(
      fc.property(oversizeArb, ({ before, type, max, length, id, chunking }) => {
        // The frames before must fit, so that only the oversized header can be refused.
        const fitting = before.filter((f) => f.payload.length <= limitFor(f.type, max));
        const stream = Buffer.concat([encodeAll(fitting), headerFor(type, length, id)]);
        let delivered = 0;
        const decoder = new FrameDecoder(max, () => delivered++);
        let pushed = 0;
        let thrown: unknown = null;
        for (const chunk of split(stream, chunking)) {
          pushed += chunk.length;
          try {
            decoder.push(chunk);
          } catch (err) {
            thrown = err;
            break;
          }
        }
        assert.ok(thrown instanceof ProtocolError, 'the header was not refused');
        assert.match(thrown.reason, new RegExp(`frame length ${length} exceeds limit ${limitFor(type, max)}$`));
        assert.equal(pushed, stream.length, 'refused at the push that completed the header, not before');
        assert.equal(delivered, fitting.length);
        assert.equal(decoder.bufferedBytes, 0);
        assert.throws(() => decoder.push(Buffer.alloc(1)), (err) => err === thrown);
      }),
      fcParams(1000),
    );
  });

  it('accepts a header declaring up to the limit, waiting for its payload', () => {
    fc.assert(
      fc.property(frameTypeArb, fc.integer({ min: 0, max: 1 << 24 }), u32, u32, (type, max, fraction, id) => {
        const limit = limitFor(type, max);
        const length = fraction % (limit + 1);
        let delivered = 0;
        const decoder = new FrameDecoder(max, () => delivered++);
        decoder.push(headerFor(type, length, id));
        assert.equal(delivered, length === 0 ? 1 : 0);
        assert.equal(decoder.bufferedBytes, 0);
      }),
      fcParams(1000),
    );
  });
});
