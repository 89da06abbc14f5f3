// Bodies held as pieces (src/body-pieces.ts, and the wire messages' `dataParts`): the frames
// written from parts are the bytes written from the joined body, and a reply read from the views
// of the network reads it spans is the reply read from one buffer.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ProtocolError } from '../../src/errors.js';
import { dataLength, dataPieces, setDataPieces } from '../../src/body-pieces.js';
import { encodeFrame } from '../../src/wire/frame-encoder.js';
import { FrameType } from '../../src/wire/frame.js';
import { HEADER_BYTES } from '../../src/wire/frame.js';
import { decodeReply, decodeReplyParts, encodeEvent, encodeEventFrame, encodeReply, encodeReplyFrame, type WireEvent, type WireReply } from '../../src/wire/messages.js';
import { fcParams } from './fc-settings.js';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const text = fc.string({ unit: 'binary', maxLength: 20 });
const headersArb = fc.option(fc.array(fc.tuple(text, text), { minLength: 1, maxLength: 3 }).map((h) => h.flat()), { nil: undefined });
// Small and large bodies: up to and past INLINE_DATA_BYTES (16 KiB), where the encoders stop copying.
const bodyArb = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.record({ length: fc.integer({ min: 16_000, max: 70_000 }), seed: fc.nat(255) }).map(({ length, seed }) => Uint8Array.from({ length }, (_, i) => (i * 13 + seed) & 0xff)) },
);
/** Cut points, taken modulo the length. */
const cutsArb = fc.array(fc.nat(), { maxLength: 8 });

function cut(bytes: Uint8Array, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Buffer[] = [];
  let from = 0;
  for (const to of [...points, bytes.length]) {
    if (to > from) parts.push(Buffer.from(bytes.subarray(from, to)));
    from = to;
  }
  return parts.length === 0 ? [Buffer.alloc(0)] : parts;
}

const replyArb: fc.Arbitrary<WireReply> = fc
  .record({ code: u32, mimetype: text, status: fc.option(u32, { nil: undefined }), headers: headersArb, bodyLength: fc.option(fc.maxSafeNat(), { nil: undefined }) })
  .map(({ status, headers, bodyLength, ...rest }) => ({
    ...rest,
    data: new Uint8Array(0),
    ...(status === undefined ? {} : { status }),
    ...(headers === undefined ? {} : { headers }),
    ...(bodyLength === undefined ? {} : { bodyLength }),
  }));

/** A wire message with its data joined from `dataParts` when it has them, as hex, for comparing. */
function hex(m: { data: Uint8Array; dataParts?: readonly Uint8Array[] }): object {
  const { dataParts, ...rest } = m;
  return { ...rest, data: Buffer.concat(dataParts ?? [m.data]).toString('hex') };
}

describe('bodies held as pieces', () => {
  it('`data` joins the pieces when read, once; the length and pieces are known without joining', () => {
    fc.assert(
      fc.property(bodyArb, cutsArb, (body, cuts) => {
        const parts = cut(body, cuts);
        const m = setDataPieces({ data: new Uint8Array(0) }, parts, body.length);
        assert.equal(dataLength(m), body.length);
        if (parts.length > 1) assert.equal(dataPieces(m), parts);
        const data = m.data;
        assert.ok(Buffer.isBuffer(data));
        assert.equal(Buffer.from(data).toString('hex'), Buffer.from(body).toString('hex'));
        assert.equal(m.data, data, 'joined once');
        assert.equal(dataPieces(m), undefined, 'read whole from then on');
        assert.equal(dataLength(m), body.length);
      }),
      fcParams(300),
    );
  });

  it('event and reply frames written from parts are the bytes written from the whole body, by the fast and the generated encoders', () => {
    fc.assert(
      fc.property(replyArb, bodyArb, cutsArb, u32, (base, body, cuts, id) => {
        const parts = cut(body, cuts);
        const whole: WireReply = { ...base, data: body };
        const inParts: WireReply = { ...base, dataParts: parts };
        const bytes = Buffer.concat(encodeReplyFrame(id, whole));
        assert.deepEqual(Buffer.concat(encodeReplyFrame(id, inParts)), bytes);
        assert.deepEqual(Buffer.concat(encodeFrame(FrameType.EVENT_REPLY, id, encodeReply(inParts), 1)), bytes);
        const event: WireEvent = { verb: 'post', noun: 'echo', mimetype: base.mimetype, data: body, timeoutMs: base.code, query: '' };
        const eventInParts: WireEvent = { ...event, data: new Uint8Array(0), dataParts: parts };
        const eventBytes = Buffer.concat(encodeEventFrame(id, event, 2));
        assert.deepEqual(Buffer.concat(encodeEventFrame(id, eventInParts, 2)), eventBytes);
        assert.deepEqual(Buffer.concat(encodeFrame(FrameType.EVENT, id, encodeEvent(eventInParts), 2)), eventBytes);
      }),
      fcParams(300),
    );
  });

  it('decodeReplyParts reads any reply, however its payload is cut, as decodeReply reads it whole', () => {
    fc.assert(
      fc.property(replyArb, bodyArb, cutsArb, (base, body, cuts) => {
        const payload = Buffer.concat(encodeReplyFrame(1, { ...base, data: body })).subarray(HEADER_BYTES);
        const parts = cut(payload, cuts);
        const read = decodeReplyParts(parts);
        assert.deepEqual(hex(read), hex(decodeReply(payload)));
        if (read.dataParts !== undefined) assert.equal(read.data.byteLength, 0, 'data empty when held in parts');
      }),
      fcParams(500),
    );
  });

  it('decodeReplyParts gives what decodeReply gives (value or ProtocolError), whatever the bytes and cuts', () => {
    const anyBytes = fc.oneof(fc.uint8Array({ maxLength: 200 }), replyArb.map((r) => Buffer.concat(encodeReplyFrame(1, { ...r, data: Buffer.alloc(40, 7) })).subarray(HEADER_BYTES)));
    fc.assert(
      fc.property(anyBytes, fc.nat(300), cutsArb, (bytes, trim, cuts) => {
        const payload = Buffer.from(bytes.subarray(0, Math.max(1, bytes.length - (trim % 4))));
        const expected = (() => {
          try {
            return hex(decodeReply(payload));
          } catch (err) {
            assert.ok(err instanceof ProtocolError);
            return (err as ProtocolError).reason;
          }
        })();
        let got: object | string;
        try {
          got = hex(decodeReplyParts(cut(payload, cuts)));
        } catch (err) {
          assert.ok(err instanceof ProtocolError);
          got = (err as ProtocolError).reason;
        }
        assert.deepEqual(got, expected);
      }),
      fcParams(2000),
    );
  });
});
