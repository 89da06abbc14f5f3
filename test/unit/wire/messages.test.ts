import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { ProtocolError } from '../../../src/errors.js';
import { EventReplySchema, EventSchema, HelloSchema } from '../../../src/wire/gen/restpipe_pb.js';
import {
  decodeCancel,
  decodeDataParts,
  encodeDataFrame,
  decodeEvent,
  decodeGoAway,
  decodeHello,
  decodeReply,
  EMPTY_PAYLOAD,
  encodeCancel,
  encodeEvent,
  encodeGoAway,
  encodeHello,
  encodeReply,
  GoAwayCode,
  PROTOCOL_VERSION,
  Role,
  type HelloMessage,
  type WireEvent,
  type WireReply,
} from '../../../src/wire/messages.js';
import { HEADER_BYTES } from '../../../src/wire/frame.js';

const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
const UNICODE_NOUN = 'chat//é日本語/🐈‍⬛/%20';

function join(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

/** Byte arrays compared by content: decoded data may be a Buffer view or a Uint8Array. */
function plain<T extends { data: Uint8Array }>(m: T): Omit<T, 'data'> & { data: string } {
  return { ...m, data: Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength).toString('hex') };
}

function protocolError(reason: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${String(err)}`);
    assert.equal(err.code, 'protocol_error');
    assert.match(err.reason, reason);
    return true;
  };
}

const EVENT: WireEvent = {
  verb: 'post',
  noun: UNICODE_NOUN,
  mimetype: 'application/octet-stream',
  data: ALL_BYTES,
  timeoutMs: 0xffffffff,
  query: 'a=1&b=%C3%A9',
};

describe('messages', () => {
  describe('Event', () => {
    it('round-trips binary data with all 256 byte values and a unicode noun', () => {
      assert.deepEqual(plain(decodeEvent(join(encodeEvent(EVENT)))), plain(EVENT));
    });

    it('round-trips empty data and empty strings', () => {
      const empty: WireEvent = { verb: '', noun: '', mimetype: '', data: new Uint8Array(0), timeoutMs: 0, query: '' };
      const parts = encodeEvent(empty);
      assert.deepEqual(plain(decodeEvent(join(parts))), plain(empty));
      // Nothing to append: the metadata part alone, and all its fields are defaults.
      assert.equal(parts.length, 1);
      assert.equal(join(parts).length, 0);
    });

    it('puts the caller\'s data in the parts as the very same object, not a copy', () => {
      const data = Buffer.from('the body');
      const parts = encodeEvent({ ...EVENT, data });
      assert.equal(parts.length, 3);
      assert.equal(parts[2], data);
    });

    it('is read by the stock generated decoder as the message toBinary would write', () => {
      const { headers: _h, bodyLength: _b, ...plainEvent } = EVENT;
      const full = create(EventSchema, plainEvent);
      const viaParts = fromBinary(EventSchema, join(encodeEvent(EVENT)));
      const viaToBinary = fromBinary(EventSchema, toBinary(EventSchema, full));
      assert.ok(equals(EventSchema, viaParts, viaToBinary));
      assert.ok(equals(EventSchema, viaParts, full));
    });

    it('decodes data as a view of the payload (a body is not copied on the way in)', () => {
      const payload = join(encodeEvent(EVENT));
      const { data } = decodeEvent(payload);
      assert.equal(data.buffer, payload.buffer);
      assert.equal(data.byteOffset, payload.byteOffset + payload.length - ALL_BYTES.length);
    });

    it('lets a repeated data field win as protobuf says (the last one)', () => {
      // A sender that wrote data both in the message and appended: the appended one counts.
      const head = toBinary(EventSchema, create(EventSchema, { verb: 'get', data: Uint8Array.of(1, 2, 3) }));
      const payload = join([head, ...encodeEvent({ ...EVENT, verb: '', data: Uint8Array.of(9) }).slice(1)]);
      assert.deepEqual([...decodeEvent(payload).data], [9]);
    });
  });

  describe('EventReply', () => {
    const base: WireReply = { code: 0, mimetype: 'text/plain; charset=utf-8', data: ALL_BYTES };

    it('round-trips without an http status: the key stays absent', () => {
      const decoded = decodeReply(join(encodeReply(base)));
      assert.deepEqual(plain(decoded), plain(base));
      assert.equal('status' in decoded, false);
    });

    for (const status of [0, 200, 404, 599, 0xffffffff]) {
      it(`round-trips an http status of ${status}`, () => {
        const reply = { ...base, code: 251, status };
        assert.deepEqual(plain(decodeReply(join(encodeReply(reply)))), plain(reply));
      });
    }

    it('round-trips empty data', () => {
      const reply: WireReply = { code: 255, mimetype: '', data: new Uint8Array(0) };
      const parts = encodeReply(reply);
      assert.equal(parts.length, 1);
      assert.deepEqual(plain(decodeReply(join(parts))), plain(reply));
    });

    it('puts the caller\'s data in the parts as the very same object', () => {
      const data = new Uint8Array([7, 7, 7]);
      const parts = encodeReply({ ...base, data });
      assert.equal(parts[parts.length - 1], data);
    });

    it('is read by the stock generated decoder as the message toBinary would write', () => {
      const reply: WireReply = { ...base, status: 201 };
      const full = create(EventReplySchema, { code: reply.code, mimetype: reply.mimetype, data: reply.data, httpStatus: 201 });
      const viaParts = fromBinary(EventReplySchema, join(encodeReply(reply)));
      assert.ok(equals(EventReplySchema, viaParts, fromBinary(EventReplySchema, toBinary(EventReplySchema, full))));
      assert.equal(viaParts.httpStatus, 201);
    });
  });

  describe('Hello', () => {
    for (const role of ['server', 'client'] as const) {
      it(`round-trips a ${role} hello`, () => {
        const hello: HelloMessage = {
          protocolVersion: PROTOCOL_VERSION,
          nodeName: role === 'server' ? 'rp-server.example' : 'client-ü-1',
          role,
          maxFrameBytes: 0xffffffff,
          heartbeatIntervalMs: 5000,
          initialStreamWindow: 256 * 1024,
          maxStreamWindow: 16 * 1024 * 1024,
          pipeWindow: 32 * 1024 * 1024,
          maxInlineInflightBytes: 8 * 1024 * 1024,
        };
        assert.deepEqual(decodeHello(join(encodeHello(hello))), hello);
      });
    }

    it('reads a v1 hello (no window fields) with the window fields 0', () => {
      const v1 = toBinary(HelloSchema, create(HelloSchema, { protocolVersion: 1, nodeName: 'old', role: Role.CLIENT, maxFrameBytes: 1000, heartbeatIntervalMs: 5000 }));
      const hello = decodeHello(v1);
      assert.equal(hello.protocolVersion, 1);
      assert.deepEqual([hello.initialStreamWindow, hello.maxStreamWindow, hello.pipeWindow, hello.maxInlineInflightBytes], [0, 0, 0, 0]);
    });

    it('refuses a hello without a known role, naming the frame type', () => {
      assert.throws(() => decodeHello(new Uint8Array(0)), protocolError(/^HELLO with unknown role 0$/));
      const odd = toBinary(HelloSchema, create(HelloSchema, { role: 7 as Role }));
      assert.throws(() => decodeHello(odd), protocolError(/^HELLO with unknown role 7$/));
    });
  });

  describe('Cancel, GoAway, heartbeats', () => {
    it('round-trips a cancel reason, empty or unicode', () => {
      for (const reason of ['', 'client went away', 'délai dépassé 🕑']) {
        assert.equal(decodeCancel(join(encodeCancel(reason))), reason);
      }
    });

    it('round-trips every goaway code', () => {
      for (const code of Object.values(GoAwayCode).filter((v): v is GoAwayCode => typeof v === 'number')) {
        const goAway = { code, reason: `code ${code}` };
        assert.deepEqual(decodeGoAway(join(encodeGoAway(goAway))), goAway);
      }
    });

    it('passes an unknown goaway code through (proto3 enums are open)', () => {
      const goAway = { code: 99 as GoAwayCode, reason: 'from the future' };
      assert.deepEqual(decodeGoAway(join(encodeGoAway(goAway))), goAway);
    });

    it('sends heartbeats with an empty payload', () => {
      assert.equal(EMPTY_PAYLOAD.length, 0);
    });
  });

  describe('undecodable payloads', () => {
    // Field 2 (a string) declaring 5 bytes with only 1 present.
    const truncated = Uint8Array.of(0x12, 0x05, 0x61);
    // A string field holding bytes that are not UTF-8 (its tag byte differs per message).
    const badUtf8 = (tag: number): Uint8Array => Uint8Array.of(tag, 0x02, 0xc3, 0x28);
    // A varint that never ends.
    const endlessVarint = Uint8Array.of(0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff);
    // Wire type 7 does not exist.
    const badWireType = Uint8Array.of(0x0f);
    // Each decoder with the tag of one of its string fields (field number << 3 | 2).
    const cases = [
      ['EVENT', decodeEvent, 0x12],
      ['EVENT_REPLY', decodeReply, 0x12],
      ['HELLO', decodeHello, 0x12],
      ['CANCEL', decodeCancel, 0x0a],
      ['GOAWAY', decodeGoAway, 0x12],
    ] as const;
    for (const [name, decode, stringTag] of cases) {
      it(`give a ProtocolError naming ${name}`, () => {
        for (const payload of [truncated, badUtf8(stringTag), endlessVarint, badWireType]) {
          assert.throws(
            () => decode(payload),
            protocolError(new RegExp(`^undecodable ${name} payload \\(${payload.length} bytes\\): .+`)),
          );
        }
      });
    }

    it('give a ProtocolError for a truncated real event, not a partial event', () => {
      const payload = join(encodeEvent(EVENT));
      assert.throws(() => decodeEvent(payload.subarray(0, payload.length - 1)), protocolError(/^undecodable EVENT payload/));
    });
  });
});

describe('DATA payloads in parts', () => {
  // The payload of a DATA frame: its protobuf form (tag 1, the length, the bytes).
  const payloadOf = (chunk: Buffer): Buffer => {
    const frame = Buffer.concat(encodeDataFrame(1, 0, chunk));
    return frame.subarray(HEADER_BYTES);
  };
  const chunk = Buffer.from(Array.from({ length: 70_000 }, (_, i) => i & 0xff));

  it('reads the chunk in place when the tag and length lie in the first part', () => {
    const payload = payloadOf(chunk);
    const parts = [payload.subarray(0, 16_000), payload.subarray(16_000, 40_000), payload.subarray(40_000)];
    const out = decodeDataParts(parts);
    assert.equal(out.length, 3);
    assert.ok(out[1] === parts[1] && out[2] === parts[2], 'the later parts are passed on as they are');
    assert.deepEqual(Buffer.concat(out), chunk);
  });

  it('joins the parts when the length is cut between them, or when the first part is only the prefix', () => {
    const payload = payloadOf(chunk);
    assert.deepEqual(Buffer.concat(decodeDataParts([payload.subarray(0, 2), payload.subarray(2)])), chunk);
    const prefix = payload.length - chunk.length;
    const out = decodeDataParts([payload.subarray(0, prefix), payload.subarray(prefix)]);
    assert.equal(out.length, 1);
    assert.deepEqual(out[0], chunk);
  });

  it('decodes other valid encodings like decodeData, and refuses a bad one with ProtocolError', () => {
    // Field 1 twice (the last wins in protobuf): not the in-place form.
    const twice = Buffer.concat([Buffer.from([0x0a, 0x01, 0x61]), payloadOf(chunk)]);
    assert.deepEqual(Buffer.concat(decodeDataParts([twice.subarray(0, 20_000), twice.subarray(20_000)])), chunk);
    const cut = payloadOf(chunk).subarray(0, 50_000);
    assert.throws(() => decodeDataParts([cut.subarray(0, 20_000), cut.subarray(20_000)]), ProtocolError);
  });
});
