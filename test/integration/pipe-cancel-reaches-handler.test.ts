// The caller gives up (RELIABILITY F20): its AbortSignal fires, send() rejects with `aborted` at
// once, and the cancel crosses the pipe so that the far handler's ctx.signal fires. A signal that
// is already aborted sends nothing; a signal aborted while waiting for a pipe (connect-wait) ends
// the wait. Both directions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';

import { hasErrorCode, type EventRequest, type HandlerContext, type Reply, type RestpipeClient, type RestpipeServer } from 'restpipe';
import { DIRECTIONS, farSide, sendWay, startTestBed, type Direction, type TestBed } from '../helpers/nodes.js';
import { onceEvent, timed, waitUntil } from '../helpers/wait.js';
import { within } from '../helpers/bounds.js';

/** Emits `started` (side, tag) and `aborted` (side, tag, reason, msSinceStart) from handlers. */
const probe = new EventEmitter();
const calls = new Map<string, number>();

function handlers(side: string): Record<string, unknown> {
  return {
    get_wait(ctx: HandlerContext, _pd: unknown, tag = ''): Promise<string> {
      calls.set(`${side}:${tag}`, (calls.get(`${side}:${tag}`) ?? 0) + 1);
      const t0 = performance.now();
      return new Promise((resolve) => {
        ctx.signal.addEventListener(
          'abort',
          () => {
            probe.emit('aborted', side, tag, ctx.signal.reason, performance.now() - t0);
            resolve('late answer nobody reads');
          },
          { once: true },
        );
        probe.emit('started', side, tag);
      });
    },
  };
}

let bed: TestBed;
let server: RestpipeServer;
let client: RestpipeClient;

before(async () => {
  bed = await startTestBed();
  let port: number;
  ({ server, port } = await bed.server({ handlers: handlers('server') }));
  client = await bed.connectedClient(server, port, bed.pki.client1, { handlers: handlers('client1') });
});
after(async () => {
  await bed?.close();
});

const send = (dir: Direction, event: EventRequest, signal: AbortSignal): Promise<Reply> => sendWay({ server, client }, dir, event, { signal });

for (const dir of DIRECTIONS) {
  describe(dir, () => {
    test('abort → send rejects with aborted at once, and the far handler\'s ctx.signal fires', async () => {
      const tag = `t-${dir.length}-${Math.random().toString(36).slice(2)}`;
      const started = onceEvent(probe, 'started', { filter: (side: string, t: string) => side === farSide(dir) && t === tag });
      const aborted = onceEvent<[string, string, unknown, number]>(probe, 'aborted', {
        filter: (side, t) => side === farSide(dir) && t === tag,
        timeoutMs: 2_000,
      });
      const ac = new AbortController();
      const pending = send(dir, { verb: 'get', noun: `wait//${tag}` }, ac.signal);
      await started;

      const why = new Error('the caller lost interest');
      const t0 = performance.now();
      ac.abort(why);
      const { ms, error } = await timed(pending);
      assert.ok(hasErrorCode(error, 'aborted'), `rejects with aborted, got ${String(error)}`);
      assert.equal((error as Error).cause, why, 'the signal\'s reason is the cause');
      assert.ok(ms < within(0), `at once, without a round trip to the far side (${ms.toFixed(1)} ms)`);

      const [, , reason] = await aborted;
      const crossMs = performance.now() - t0;
      assert.ok(hasErrorCode(reason, 'aborted'), `the far handler sees an aborted reason, got ${String(reason)}`);
      assert.match((reason as Error).message, /cancelled/);
      // No timer is involved: one crossing of the pipe, within the margin.
      assert.ok(crossMs < within(0), `the cancel reached the far handler in ${crossMs.toFixed(1)} ms`);

      await waitUntil(
        () => server.client('client1')?.inFlight.inbound === 0 && server.client('client1')?.inFlight.outbound === 0 && client.pipe()?.inFlight.inbound === 0 && client.pipe()?.inFlight.outbound === 0,
        1_000,
        'the in-flight tables are empty',
      );
      // The handler's late answer is never written: nothing arrives for a settled id.
      const check = await (dir === 'client→server' ? client.send({ verb: 'get', noun: 'nothing' }) : server.send('client1', { verb: 'get', noun: 'nothing' }));
      assert.equal(check.code, 255);
      assert.equal(client.pipe()?.lateReplies, 0);
      console.log(`${dir}: send rejected ${ms.toFixed(1)} ms after abort; the far handler saw it ${crossMs.toFixed(1)} ms after`);
    });

    test('an already-aborted signal rejects at once and sends nothing', async () => {
      const tag = `pre-${dir.length}`;
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(send(dir, { verb: 'get', noun: `wait//${tag}` }, ac.signal), { code: 'aborted' });
      // A later event on the same pipe is answered, so the first one would have arrived by now.
      const r = await (dir === 'client→server' ? client.send({ verb: 'get', noun: 'nothing' }) : server.send('client1', { verb: 'get', noun: 'nothing' }));
      assert.equal(r.code, 255);
      assert.equal(calls.get(`${farSide(dir)}:${tag}`), undefined, 'the handler never ran');
    });
  });
}

describe('abort while waiting for a pipe (connect-wait)', () => {
  test('server.send to a client that is not connected: abort ends the wait, no waiter left', async () => {
    const ac = new AbortController();
    const pending = timed(server.send('client2', { verb: 'get', noun: 'time' }, { signal: ac.signal, connectWaitMs: 5_000 }));
    await waitUntil(() => server.waitingSenders === 1, 1_000, 'the sender waits for client2');
    ac.abort();
    const { ms, error } = await pending;
    assert.ok(hasErrorCode(error, 'aborted'), String(error));
    assert.ok(ms < 200, `${ms.toFixed(0)} ms`);
    assert.equal(server.waitingSenders, 0);
  });

  test('client.send while its server is down: abort ends the wait, no waiter left', async () => {
    const b = await startTestBed();
    try {
      const { server: s, port } = await b.server();
      await s.close({ graceMs: 0 }); // the port is now refused
      const c = b.client(port, b.pki.client2);
      await onceEvent(c, 'connect_fail');
      const ac = new AbortController();
      const pending = timed(c.send({ verb: 'get', noun: 'time' }, { signal: ac.signal, connectWaitMs: 5_000 }));
      assert.equal(c.waitingSenders, 1);
      ac.abort();
      const { ms, error } = await pending;
      assert.ok(hasErrorCode(error, 'aborted'), String(error));
      assert.ok(ms < 200, `${ms.toFixed(0)} ms`);
      assert.equal(c.waitingSenders, 0);
    } finally {
      await b.close();
    }
  });
});
