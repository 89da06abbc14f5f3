import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../../../src/errors.js';
import { FrameDecoder } from '../../../src/wire/frame-decoder.js';
import { encodeFrame, encodeHeader } from '../../../src/wire/frame-encoder.js';
import { FrameFlag, FrameType, frameTypeName, HEADER_BYTES, MAX_CONTROL_PAYLOAD_BYTES } from '../../../src/wire/frame.js';

interface Frame {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
}

const MAX = 1 << 20;

function collecting(max = MAX): { decoder: FrameDecoder; frames: Frame[] } {
  const frames: Frame[] = [];
  const decoder = new FrameDecoder(max, (type, flags, id, payload) => frames.push({ type, flags, id, payload }));
  return { decoder, frames };
}

function frameBytes(type: FrameType, id: number, payload: Uint8Array = new Uint8Array(0)): Buffer {
  return Buffer.concat(encodeFrame(type, id, [payload]));
}

/** A raw header, for headers the encoder would never write. */
function rawHeader(type: number, flags: number, length: number, id = 0): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b[0] = type;
  b[1] = flags;
  b.writeUInt32BE(length >>> 0, 2);
  b.writeUInt32BE(id >>> 0, 6);
  return b;
}

function expected(type: FrameType, id: number, payload: Uint8Array = new Uint8Array(0)): Frame {
  return { type, flags: type === FrameType.EVENT_REPLY || type === FrameType.HEARTBEAT_REPLY ? 1 : 0, id, payload: Buffer.from(payload) };
}

function assertFrames(actual: readonly Frame[], wanted: readonly Frame[]): void {
  // Compare payload bytes as plain Buffers: a payload may be a view or a copy.
  assert.deepEqual(
    actual.map((f) => ({ ...f, payload: Buffer.from(f.payload).toString('hex') })),
    wanted.map((f) => ({ ...f, payload: f.payload.toString('hex') })),
  );
}

function protocolError(reason: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`);
    assert.equal(err.code, 'protocol_error');
    assert.match(err.reason, reason);
    return true;
  };
}

// Three frames of different shapes, one with an empty payload, for the splitting tests.
const STREAM_FRAMES = [
  expected(FrameType.EVENT, 1, Buffer.from('hello, world')),
  expected(FrameType.HEARTBEAT, 0xffffffff),
  expected(FrameType.EVENT_REPLY, 1, Buffer.from([0, 1, 2, 0xfe, 0xff])),
];
const STREAM = Buffer.concat(STREAM_FRAMES.map((f) => frameBytes(f.type as FrameType, f.id, f.payload)));

describe('FrameDecoder', () => {
  it('decodes a whole frame and hands the payload out as a view of the chunk, not a copy', () => {
    const { decoder, frames } = collecting();
    const chunk = frameBytes(FrameType.EVENT, 42, Buffer.from('body'));
    decoder.push(chunk);
    assertFrames(frames, [expected(FrameType.EVENT, 42, Buffer.from('body'))]);
    const payload = frames[0]!.payload;
    assert.equal(payload.buffer, chunk.buffer);
    assert.equal(payload.byteOffset, chunk.byteOffset + HEADER_BYTES);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('decodes the same frames whatever offset a stream is split at', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      const { decoder, frames } = collecting();
      decoder.push(STREAM.subarray(0, cut));
      decoder.push(STREAM.subarray(cut));
      assertFrames(frames, STREAM_FRAMES);
      assert.equal(decoder.bufferedBytes, 0, `split at ${cut}`);
    }
  });

  it('decodes the same frames whatever two offsets a stream is split at', () => {
    for (let a = 0; a <= STREAM.length; a++) {
      for (let b = a; b <= STREAM.length; b++) {
        const { decoder, frames } = collecting();
        decoder.push(STREAM.subarray(0, a));
        decoder.push(STREAM.subarray(a, b));
        decoder.push(STREAM.subarray(b));
        assertFrames(frames, STREAM_FRAMES);
        assert.equal(decoder.bufferedBytes, 0, `split at ${a} and ${b}`);
      }
    }
  });

  it('decodes a stream fed one byte at a time, delivering each frame on its last byte', () => {
    const { decoder, frames } = collecting();
    const starts: number[] = [];
    let start = 0;
    for (const f of STREAM_FRAMES) {
      starts.push(start);
      start += HEADER_BYTES + f.payload.length;
    }
    for (let i = 0; i < STREAM.length; i++) {
      const before = frames.length;
      // Own memory per byte, so no payload can be a view of the test's buffer.
      decoder.push(Buffer.from([STREAM[i]!]));
      const frameStart = starts.findLast((s) => s <= i)!;
      const frameEnd = frameStart + HEADER_BYTES + STREAM_FRAMES[starts.indexOf(frameStart)]!.payload.length - 1;
      const seen = i - frameStart + 1;
      assert.equal(frames.length - before, i === frameEnd ? 1 : 0, `byte ${i}`);
      // The header is dropped once judged, so only header bytes, or then payload bytes, are held.
      assert.equal(decoder.bufferedBytes, i === frameEnd ? 0 : seen < HEADER_BYTES ? seen : seen - HEADER_BYTES, `byte ${i}`);
    }
    assertFrames(frames, STREAM_FRAMES);
  });

  it('copies a payload that spans chunks, and later chunks do not clobber it', () => {
    const { decoder, frames } = collecting();
    const bytes = frameBytes(FrameType.EVENT, 3, Buffer.from('abcdefgh'));
    const first = Buffer.from(bytes.subarray(0, 14));
    const second = Buffer.from(bytes.subarray(14));
    decoder.push(first);
    decoder.push(second);
    assertFrames(frames, [expected(FrameType.EVENT, 3, Buffer.from('abcdefgh'))]);
    first.fill(0);
    second.fill(0);
    decoder.push(frameBytes(FrameType.EVENT, 4, Buffer.from('zzzzzzzz')));
    assert.equal(frames[0]!.payload.toString(), 'abcdefgh');
  });

  // Array#shift() on the chunk list made this quadratic: ~11 s for this size on Node 20 (V8
  // stops left-trimming big arrays); linear, it takes tens of milliseconds.
  it('decodes a 100 kB event fed one byte at a time in linear time', { timeout: 5_000 }, () => {
    const body = Buffer.alloc(100_000, 0x5a);
    const bytes = frameBytes(FrameType.EVENT, 9, body);
    const { decoder, frames } = collecting();
    for (let i = 0; i < bytes.length; i++) decoder.push(bytes.subarray(i, i + 1));
    assert.equal(frames.length, 1);
    assert.ok(frames[0]!.payload.equals(body));
    assert.equal(decoder.bufferedBytes, 0);
  });

  // Needs --expose-gc (scripts/run-tests.mjs passes it); skipped without.
  const gc = (globalThis as { gc?: () => void }).gc;
  it('keeps no consumed chunk alive when frames never end on a chunk boundary', { skip: gc === undefined }, async () => {
    const frame = frameBytes(FrameType.EVENT, 1, Buffer.alloc(4096 + 3, 7));
    const decoder = new FrameDecoder(MAX, () => {});
    const refs: Array<WeakRef<Buffer>> = [];
    let pending = Buffer.alloc(0);
    for (let i = 0; i < 200; i++) {
      pending = Buffer.concat([pending, frame]);
      const chunk = Buffer.from(pending.subarray(0, 4096));
      pending = Buffer.from(pending.subarray(4096));
      refs.push(new WeakRef(chunk));
      decoder.push(chunk);
    }
    assert.ok(decoder.bufferedBytes > 0, 'the list never empties in this stream');
    await new Promise((resolve) => setImmediate(resolve));
    gc!();
    // Only the chunk holding the start of the unfinished frame may stay.
    assert.ok(refs.filter((r) => r.deref() !== undefined).length <= 1);
  });

  it('decodes many frames from one chunk, in order', () => {
    const types = Object.values(FrameType);
    const wanted = Array.from({ length: 200 }, (_, i) =>
      expected(types[i % types.length]!, i === 199 ? 0xffffffff : i * 7919, Buffer.alloc(i % 5, i)),
    );
    const { decoder, frames } = collecting();
    decoder.push(Buffer.concat(wanted.map((f) => frameBytes(f.type as FrameType, f.id, f.payload))));
    assertFrames(frames, wanted);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('delivers zero-length payloads as soon as the header is in', () => {
    const { decoder, frames } = collecting();
    decoder.push(encodeHeader(FrameType.HEARTBEAT, 0, 5));
    decoder.push(encodeHeader(FrameType.HEARTBEAT_REPLY, 0, 5));
    decoder.push(encodeHeader(FrameType.EVENT, 0, 6));
    assertFrames(frames, [
      expected(FrameType.HEARTBEAT, 5),
      expected(FrameType.HEARTBEAT_REPLY, 5),
      expected(FrameType.EVENT, 6),
    ]);
    assert.ok(frames.every((f) => f.payload.length === 0));
  });

  it('keeps a partial header and a partial payload buffered', () => {
    const { decoder, frames } = collecting();
    const bytes = frameBytes(FrameType.EVENT, 1, Buffer.from('12345'));
    decoder.push(bytes.subarray(0, 9));
    assert.equal(decoder.bufferedBytes, 9);
    decoder.push(bytes.subarray(9, 12));
    // The header is consumed once judged; only payload bytes are held.
    assert.equal(decoder.bufferedBytes, 2);
    assert.equal(frames.length, 0);
    decoder.push(bytes.subarray(12));
    assert.equal(frames.length, 1);
  });

  it('passes reserved flag bits through to the sink', () => {
    const { decoder, frames } = collecting();
    decoder.push(rawHeader(FrameType.EVENT, 0xfe, 0, 1));
    decoder.push(rawHeader(FrameType.EVENT_REPLY, 0xff, 0, 1));
    assert.deepEqual(frames.map((f) => f.flags), [0xfe, 0xff]);
  });

  describe('v2 frames (SPEC §9)', () => {
    it('takes DATA, WINDOW_UPDATE and CANCEL with or without the reply flag, and END_STREAM where it means something', () => {
      const { decoder, frames } = collecting();
      decoder.push(rawHeader(FrameType.DATA, FrameFlag.REPLY | FrameFlag.END_STREAM, 0, 1));
      decoder.push(rawHeader(FrameType.DATA, 0, 0, 2));
      decoder.push(rawHeader(FrameType.WINDOW_UPDATE, FrameFlag.REPLY, 0, 3));
      decoder.push(rawHeader(FrameType.WINDOW_UPDATE, 0, 0, 0));
      decoder.push(rawHeader(FrameType.CANCEL, FrameFlag.REPLY, 0, 4));
      decoder.push(rawHeader(FrameType.EVENT, FrameFlag.END_STREAM, 0, 5));
      decoder.push(rawHeader(FrameType.EVENT_REPLY, FrameFlag.REPLY | FrameFlag.END_STREAM, 0, 5));
      assert.deepEqual(
        frames.map((f) => [f.type, f.flags, f.id]),
        [
          [FrameType.DATA, 3, 1],
          [FrameType.DATA, 0, 2],
          [FrameType.WINDOW_UPDATE, 1, 3],
          [FrameType.WINDOW_UPDATE, 0, 0],
          [FrameType.CANCEL, 1, 4],
          [FrameType.EVENT, 2, 5],
          [FrameType.EVENT_REPLY, 3, 5],
        ],
      );
    });

    it('holds DATA to the frame limit and WINDOW_UPDATE to the control limit, from the header alone', () => {
      const { decoder } = collecting(128 * 1024);
      assert.throws(() => decoder.push(rawHeader(FrameType.DATA, 0, 128 * 1024 + 1, 1)), protocolError(/^DATA frame length 131073 exceeds limit 131072$/));
      const second = collecting(128 * 1024);
      assert.throws(() => second.decoder.push(rawHeader(FrameType.WINDOW_UPDATE, 0, 64 * 1024 + 1, 1)), protocolError(/^WINDOW_UPDATE frame length 65537 exceeds limit 65536$/));
    });

    it('refuses the reply flag on an EVENT and its absence on an EVENT_REPLY, as v1 did', () => {
      assert.throws(() => collecting().decoder.push(rawHeader(FrameType.EVENT, FrameFlag.REPLY | FrameFlag.END_STREAM, 0, 1)), protocolError(/^frame type EVENT with reply flag set$/));
      assert.throws(() => collecting().decoder.push(rawHeader(FrameType.EVENT_REPLY, FrameFlag.END_STREAM, 0, 1)), protocolError(/^frame type EVENT_REPLY with reply flag clear$/));
    });
  });

  describe('refuses', () => {
    it('a header declaring more than the max, from the header alone', () => {
      const { decoder, frames } = collecting(1000);
      assert.throws(() => decoder.push(rawHeader(FrameType.EVENT, 0, 1001, 1)), protocolError(/^EVENT frame length 1001 exceeds limit 1000$/));
      assert.equal(decoder.bufferedBytes, 0);
      assert.equal(frames.length, 0);
    });

    it('an oversized header split over pushes, at the push that completes it', () => {
      const { decoder } = collecting(1000);
      const header = rawHeader(FrameType.EVENT_REPLY, 1, 0xffffffff, 1);
      for (let i = 0; i < HEADER_BYTES - 1; i++) decoder.push(header.subarray(i, i + 1));
      assert.throws(() => decoder.push(header.subarray(HEADER_BYTES - 1)), protocolError(/EVENT_REPLY frame length 4294967295 exceeds limit 1000/));
    });

    it('but accepts a payload of exactly the max', () => {
      const { decoder, frames } = collecting(1000);
      decoder.push(rawHeader(FrameType.EVENT, 0, 1000, 1));
      decoder.push(Buffer.alloc(1000, 1));
      assert.equal(frames[0]!.payload.length, 1000);
    });

    for (const type of [FrameType.HELLO, FrameType.HEARTBEAT, FrameType.CANCEL, FrameType.GOAWAY, FrameType.HEARTBEAT_REPLY]) {
      it(`a ${frameTypeName(type)} frame over MAX_CONTROL_PAYLOAD_BYTES, however big the max`, () => {
        const flags = type === FrameType.HEARTBEAT_REPLY ? 1 : 0;
        const ok = collecting(16 << 20);
        ok.decoder.push(rawHeader(type, flags, MAX_CONTROL_PAYLOAD_BYTES, 1));
        const big = collecting(16 << 20);
        assert.throws(
          () => big.decoder.push(rawHeader(type, flags, MAX_CONTROL_PAYLOAD_BYTES + 1, 1)),
          protocolError(new RegExp(`frame length ${MAX_CONTROL_PAYLOAD_BYTES + 1} exceeds limit ${MAX_CONTROL_PAYLOAD_BYTES}$`)),
        );
      });
    }

    it('a control frame over a max smaller than the control limit', () => {
      const { decoder } = collecting(100);
      assert.throws(() => decoder.push(rawHeader(FrameType.HELLO, 0, 101)), protocolError(/^HELLO frame length 101 exceeds limit 100$/));
    });

    for (const type of [0x00, 0x08, 0x7f, 0x82, 0xff]) {
      it(`unknown type 0x${type.toString(16).padStart(2, '0')}`, () => {
        const { decoder } = collecting();
        assert.throws(
          () => decoder.push(rawHeader(type, 0, 0)),
          protocolError(new RegExp(`^unknown frame type 0x${type.toString(16).padStart(2, '0')}$`)),
        );
      });
    }

    const flagCases: Array<[FrameType, number, string]> = [
      [FrameType.EVENT, 1, 'EVENT with reply flag set'],
      [FrameType.HELLO, 1, 'HELLO with reply flag set'],
      [FrameType.HEARTBEAT, 3, 'HEARTBEAT with reply flag set'],
      [FrameType.EVENT_REPLY, 0, 'EVENT_REPLY with reply flag clear'],
      [FrameType.HEARTBEAT_REPLY, 2, 'HEARTBEAT_REPLY with reply flag clear'],
    ];
    for (const [type, flags, reason] of flagCases) {
      it(`a reply flag inconsistent with the type: ${reason}`, () => {
        const { decoder } = collecting();
        assert.throws(() => decoder.push(rawHeader(type, flags, 0)), protocolError(new RegExp(`^frame type ${reason}$`)));
      });
    }

    it('a bad header after good frames in the same chunk, having delivered the good ones', () => {
      const { decoder, frames } = collecting();
      const chunk = Buffer.concat([frameBytes(FrameType.HEARTBEAT, 1), rawHeader(0x09, 0, 0), frameBytes(FrameType.HEARTBEAT, 2)]);
      assert.throws(() => decoder.push(chunk), protocolError(/unknown frame type 0x09/));
      assert.deepEqual(frames.map((f) => f.id), [1]);
    });
  });

  it('after an error, throws that same ProtocolError on every push, whatever it holds', () => {
    const { decoder, frames } = collecting();
    let first: unknown;
    try {
      decoder.push(rawHeader(0x42, 0, 0));
    } catch (err) {
      first = err;
    }
    assert.ok(first instanceof ProtocolError);
    for (const chunk of [frameBytes(FrameType.HEARTBEAT, 1), Buffer.alloc(0), rawHeader(0x42, 0, 0)]) {
      assert.throws(
        () => decoder.push(chunk),
        (err) => err === first,
      );
    }
    decoder.stop();
    assert.throws(() => decoder.push(frameBytes(FrameType.HEARTBEAT, 1)), (err) => err === first);
    assert.equal(frames.length, 0);
    assert.equal(decoder.bufferedBytes, 0);
  });

  it('stops delivering when the sink calls stop() mid-push, and drops what it held', () => {
    const delivered: number[] = [];
    const decoder: FrameDecoder = new FrameDecoder(MAX, (_type, _flags, id) => {
      delivered.push(id);
      if (id === 2) decoder.stop();
    });
    const chunk = Buffer.concat([1, 2, 3, 4].map((id) => frameBytes(FrameType.HEARTBEAT, id)));
    decoder.push(Buffer.concat([chunk, frameBytes(FrameType.EVENT, 5, Buffer.from('x')).subarray(0, 12)]));
    assert.deepEqual(delivered, [1, 2]);
    assert.equal(decoder.bufferedBytes, 0);
    decoder.push(frameBytes(FrameType.HEARTBEAT, 6));
    decoder.push(rawHeader(0xff, 0, 0));
    assert.deepEqual(delivered, [1, 2]);
  });

  it('ignores empty chunks', () => {
    const { decoder, frames } = collecting();
    decoder.push(Buffer.alloc(0));
    decoder.push(frameBytes(FrameType.HEARTBEAT, 1).subarray(0, 4));
    decoder.push(Buffer.alloc(0));
    decoder.push(frameBytes(FrameType.HEARTBEAT, 1).subarray(4));
    assert.equal(frames.length, 1);
  });

  it('rejects a max that is not a non-negative integer (NaN would disable the limit)', () => {
    for (const max of [Number.NaN, -1, 1.5, Number.POSITIVE_INFINITY]) {
      assert.throws(() => new FrameDecoder(max, () => {}), RangeError);
    }
  });
});
