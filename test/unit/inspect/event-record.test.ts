import { test } from 'node:test';
import assert from 'node:assert/strict';

import { BodyHeadTap, type GatewayEventMessage } from '../../../src/diagnostics.js';
import type { ParsedEvent } from '../../../src/event.js';
import { detailOf, flatHeaders, recordGatewayEvent, recordInboundEvent } from '../../../src/inspect/event-record.js';

function message(over: Partial<GatewayEventMessage> = {}): GatewayEventMessage {
  return {
    role: 'client', startedAt: 1_000, method: 'POST', url: '/server/x', requestHeaders: { 'content-type': 'text/plain' }, target: undefined,
    verb: 'post', noun: 'x', query: '', captureBodyBytes: 0, status: 200, returnCode: 0, responseHeaders: ['Set-Cookie', 'a=b', 'X-Event-Return-Code', '0'],
    requestBytes: 0, replyBytes: 0, durationMs: 2, ...over,
  };
}

test('BodyHeadTap keeps a copy of the first bytes over any chunking and counts the rest', () => {
  const tap = new BodyHeadTap(5);
  const chunk = Buffer.from('abc');
  tap.add(chunk);
  chunk.fill('z'); // the caller's buffer may be reused: the tap holds its own copy
  tap.add(Buffer.from('defgh'));
  tap.add(Buffer.alloc(0));
  assert.equal(tap.head().toString(), 'abcde');
  assert.equal(tap.bytes, 8);
  assert.equal(tap.truncated, true);
  const whole = new BodyHeadTap(5);
  whole.add(Buffer.from('ab'));
  assert.equal(whole.truncated, false);
  assert.equal(new BodyHeadTap(5).head().byteLength, 0);
});

test('credentials are redacted in request and response headers, multi-valued headers kept apart, long values cut', () => {
  const flat = flatHeaders({ authorization: 'Bearer x', 'proxy-authorization': 'y', cookie: 'c=1', 'x-many': ['1', '2'], 'x-long': 'v'.repeat(5_000) } as never);
  const pairs = flat.flatMap((n, i) => (i % 2 === 0 ? [[n, flat[i + 1]!] as [string, string]] : []));
  assert.deepEqual(pairs.slice(0, 5), [
    ['authorization', '[redacted]'],
    ['proxy-authorization', '[redacted]'],
    ['cookie', '[redacted]'],
    ['x-many', '1'],
    ['x-many', '2'],
  ]);
  assert.equal(pairs[5]![1].length, 2_001, 'cut to 2,000 characters and an ellipsis');
  const r = detailOf(recordGatewayEvent(1, message({ requestHeaders: { AUTHORIZATION: 'x', cookie: 'y' } as never }), 'server'));
  assert.deepEqual(r.responseHeaders[0], ['Set-Cookie', '[redacted]']);
  assert.deepEqual(r.requestHeaders, [['AUTHORIZATION', '[redacted]'], ['cookie', '[redacted]']]);
});

test('bodies: UTF-8 text when they decode (also when the cut splits a character), else base64; replayable only when kept whole', () => {
  const tap = new BodyHeadTap(4);
  tap.add(Buffer.from('aé€', 'utf8')); // 1 + 2 + 3 bytes: the cut at 4 splits the euro sign
  const reply = new BodyHeadTap(4);
  reply.add(Buffer.from([0xff, 0x00, 0x01]));
  const record = recordGatewayEvent(1, message({ requestBody: tap, replyBody: reply, requestBytes: 6, replyBytes: 3 }), 'server');
  const r = { detail: detailOf(record), replayBody: record.replayBody };
  assert.deepEqual(r.detail.requestBody, { encoding: 'utf8', data: 'aé', bytes: 6, truncated: true });
  assert.deepEqual(r.detail.replyBody, { encoding: 'base64', data: Buffer.from([0xff, 0, 1]).toString('base64'), bytes: 3, truncated: false });
  assert.equal(r.detail.replayable, false);
  assert.equal(r.replayBody, undefined);
  const small = new BodyHeadTap(10);
  small.add(Buffer.from('hi'));
  const whole = recordGatewayEvent(2, message({ requestBody: small, requestBytes: 2 }), 'server');
  assert.equal(whole.detail.replayable, true);
  assert.equal(whole.replayBody?.toString(), 'hi');
  const noBody = recordGatewayEvent(3, message({ method: 'GET' }), 'server');
  assert.equal(noBody.detail.replayable, true, 'an event without a body can always be replayed');
  const notKept = recordGatewayEvent(4, message({ requestBytes: 10 }), 'server');
  assert.equal(notKept.detail.replayable, false);
  assert.equal(detailOf(notKept).requestBody, null);
});

test('a request that ended without a response is recorded as aborted; inbound events take their status from the reply', () => {
  const r = recordGatewayEvent(1, message({ status: undefined, returnCode: undefined, responseHeaders: undefined }), 'server');
  assert.deepEqual([r.detail.status, r.detail.returnCode, r.detail.error], [null, null, 'aborted']);
  const event: ParsedEvent = { verb: 'get', noun: 'x//y', path: 'x', params: ['y'], method: 'get_x', query: 'q=1', mimetype: '', data: new Uint8Array(0) };
  const inbound = recordInboundEvent(2, { role: 'client', direction: 'inbound', peer: 'server', outcome: 'no_handler', durationMs: 1, event, reply: { code: 255, mimetype: 'application/json', data: Buffer.from('{}') } }, 0);
  assert.deepEqual([inbound.detail.status, inbound.detail.returnCode, inbound.detail.replayable, detailOf(inbound).replyBody], [404, 255, false, null]);
});
