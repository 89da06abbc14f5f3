// The gateway against a fake EventSender: what it hands the sender, and how it answers
// replies and failures the real pipe rarely produces. Real HTTP on 127.0.0.1:0.
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ErrorCode, RestpipeError } from '../../../src/errors.js';
import type { ParsedEvent, Reply } from '../../../src/event.js';
import type { EventSender, SenderOptions } from '../../../src/sender.js';
import { createGateway, type Gateway } from '../../../src/gateway/gateway.js';
import { parseEventTimeout } from '../../../src/gateway/routes.js';
import type { Logger } from '../../../src/log.js';
import { MAX_TIMER_MS } from '../../../src/options/defaults.js';
import { fakeStatus } from '../../helpers/fake-sender.js';
import { httpRequest, type HttpResult, type RequestInit } from '../../helpers/gateway-http.js';

interface SendCall {
  target: string | undefined;
  event: ParsedEvent;
  options: SenderOptions;
}

type Answer = (call: SendCall) => Reply | Promise<Reply>;

function fakeSender(role: 'server' | 'client', answer: Answer, extra: Partial<EventSender> = {}): EventSender & { calls: SendCall[] } {
  const calls: SendCall[] = [];
  return {
    role,
    calls,
    async send(target, event, options) {
      const call = { target, event, options };
      calls.push(call);
      return answer(call);
    },
    isReady: () => true,
    status: () => fakeStatus(role),
    ...extra,
  };
}

const ok = (data: string | Uint8Array = 'ok', mimetype = 'text/plain'): Reply => ({
  code: 0,
  mimetype,
  data: typeof data === 'string' ? Buffer.from(data) : data,
});

const gateways: Gateway[] = [];
after(async () => {
  await Promise.all(gateways.map((g) => g.close({ graceMs: 100 })));
});

async function start(sender: EventSender, over: { logger?: Logger; metricsText?: () => Promise<{ contentType: string; body: string }> } = {}): Promise<(init: RequestInit) => Promise<HttpResult>> {
  const gw = await createGateway({ sender, listen: { host: '127.0.0.1', port: 0 }, maxBodyBytes: 1024, eventTimeoutMs: 5_000, ...over });
  gateways.push(gw);
  const port = (gw.address as { port: number }).port;
  return (init) => httpRequest({ port }, init);
}

describe('what the sender receives', () => {
  test('verb, raw noun, its parsed path, params and method, mimetype, body bytes, query, timeout and a live signal', async () => {
    const sender = fakeSender('client', () => ok());
    const req = await start(sender);
    const body = Buffer.from([0, 1, 2, 3, 254, 255]);
    const r = await req({
      method: 'PATCH',
      path: '/server/cat//hello%20/world?x=1&y=%20',
      headers: { 'Content-Type': 'application/x-thing; a=b', 'X-Event-Timeout': '1.5' },
      body,
    });
    assert.equal(r.status, 200);
    const [call] = sender.calls;
    assert.ok(call);
    assert.equal(call.target, undefined);
    assert.equal(call.event.verb, 'patch');
    assert.equal(call.event.noun, 'cat//hello%20/world');
    assert.equal(call.event.path, 'cat');
    assert.deepEqual(call.event.params, ['hello ', 'world']);
    assert.equal(call.event.method, 'patch_cat');
    assert.equal(call.event.mimetype, 'application/x-thing; a=b');
    assert.ok(Buffer.isBuffer(call.event.data));
    assert.deepEqual(call.event.data, body);
    assert.equal(call.event.query, 'x=1&y=%20');
    assert.equal(call.options.timeoutMs, 1_500);
    assert.equal(call.options.signal.aborted, false);
  });

  test('a JSON body is not parsed here: it goes on as bytes (the receiving node parses it once)', async () => {
    const sender = fakeSender('client', () => ok());
    const req = await start(sender);
    const r = await req({ method: 'POST', path: '/server/echo', headers: { 'Content-Type': 'application/json' }, body: '{nope' });
    assert.equal(r.status, 200);
    assert.equal(Buffer.from(sender.calls[0]!.event.data).toString(), '{nope');
  });

  test('defaults: no body, no mimetype, the gateway’s event timeout', async () => {
    const sender = fakeSender('client', () => ok());
    const req = await start(sender);
    await req({ path: '/server/time' });
    const [call] = sender.calls;
    assert.equal(call?.event.mimetype, '');
    assert.equal(call?.event.data?.length, 0);
    assert.equal(call?.options.timeoutMs, 5_000);
  });
});

describe('replies', () => {
  test('a mimetype that is not a valid header value is a 502, never a split header', async () => {
    const req = await start(fakeSender('client', () => ok('x', 'text/plain\r\nX-Injected: 1')));
    const r = await req({ path: '/server/time' });
    assert.equal(r.status, 502);
    assert.equal(r.json().error.code, 'protocol_error');
    assert.equal(r.headers['x-injected'], undefined);
  });

  test('204 from the handler: no body, no Content-Length', async () => {
    const req = await start(fakeSender('client', () => ({ ...ok('ignored'), status: 204 })));
    const r = await req({ path: '/server/time' });
    assert.equal(r.status, 204);
    assert.equal(r.body.length, 0);
    assert.equal(r.headers['content-length'], undefined);
    assert.equal(r.headers['x-event-return-code'], '0');
  });

  test('a Uint8Array view (not a Buffer) is written as is', async () => {
    const backing = new Uint8Array([9, 9, 1, 2, 3, 9]);
    const req = await start(fakeSender('client', () => ok(backing.subarray(2, 5), 'application/octet-stream')));
    const r = await req({ path: '/server/time' });
    assert.deepEqual([...r.body], [1, 2, 3]);
    assert.equal(r.headers['content-length'], '3');
  });

  test('an empty mimetype means no Content-Type', async () => {
    const req = await start(fakeSender('client', () => ok('', '')));
    const r = await req({ path: '/server/time' });
    assert.equal(r.headers['content-type'], undefined);
  });
});

describe('failures', () => {
  const cases: [string, () => unknown, number, string][] = [
    ['a RestpipeError', () => new RestpipeError(ErrorCode.NO_CONNECTION, 'nope'), 503, 'no_connection'],
    ['a RestpipeError-shaped error from another copy of the library', () => Object.assign(new Error('late'), { code: 'event_timeout' }), 504, 'event_timeout'],
    ['too_many_in_flight', () => new RestpipeError(ErrorCode.TOO_MANY_IN_FLIGHT, 'busy'), 503, 'too_many_in_flight'],
    ['closed', () => new RestpipeError(ErrorCode.CLOSED, 'closing'), 503, 'closed'],
    ['a system error', () => Object.assign(new Error('reset'), { code: 'ECONNRESET' }), 500, 'internal_error'],
    ['a plain TypeError', () => new TypeError('bug'), 500, 'internal_error'],
    ['a non-error', () => 'a string', 500, 'internal_error'],
  ];
  for (const [what, make, status, code] of cases) {
    test(`${what} → ${status} ${code}`, async () => {
      const errors: string[] = [];
      const logger: Logger = {
        error: (_o, m) => void errors.push(m ?? ''),
        warn() {},
        info() {},
        debug() {},
        child: () => logger,
        isLevelEnabled: () => false,
      };
      const req = await start(
        fakeSender('client', () => {
          throw make();
        }),
        { logger },
      );
      const r = await req({ path: '/server/time' });
      assert.equal(r.status, status);
      assert.equal(r.json().error.code, code);
      if (code === 'internal_error') assert.equal(errors.length, 1, 'a bug is logged at error');
    });
  }

  test('a sender that throws synchronously is answered too', async () => {
    const sender = fakeSender('client', () => ok());
    sender.send = () => {
      throw new RestpipeError(ErrorCode.BAD_REQUEST, 'sync');
    };
    const req = await start(sender);
    const r = await req({ path: '/server/time' });
    assert.equal(r.status, 400);
  });

  test('/healthz 503 with the state; /status and /metrics failures are 500', async () => {
    const req = await start(
      fakeSender('client', () => ok(), {
        isReady: () => false,
        status: () => fakeStatus('client', 'backoff'),
      }),
      { metricsText: () => Promise.reject(new Error('registry broke')) },
    );
    const h = await req({ path: '/healthz' });
    assert.equal(h.status, 503);
    assert.deepEqual(h.json(), { status: 'unavailable', state: 'backoff' });
    assert.equal((await req({ path: '/metrics' })).status, 500);

    const broken = await start(fakeSender('client', () => ok(), { status: () => { throw new Error('no status'); } }));
    assert.equal((await broken({ path: '/status' })).status, 500);
  });
});


test('parseEventTimeout', () => {
  assert.equal(parseEventTimeout(undefined, 42), 42);
  assert.equal(parseEventTimeout('2', 42), 2_000);
  assert.equal(parseEventTimeout(' 0.25 ', 42), 250);
  assert.equal(parseEventTimeout('.5', 42), 500);
  assert.equal(parseEventTimeout('0.0001', 42), 1, 'rounded up to a whole millisecond');
  assert.equal(parseEventTimeout('99999999999', 42), MAX_TIMER_MS, 'clamped');
  for (const bad of ['', '0', '0.0', '-1', 'abc', '1e3', 'Infinity', 'NaN', '0x10', '1,2', '9'.repeat(400)]) {
    const r = parseEventTimeout(bad, 42);
    assert.ok(r instanceof RestpipeError && r.code === 'bad_request', bad);
  }
  assert.ok(parseEventTimeout(['1', '2'], 42) instanceof RestpipeError);
});
