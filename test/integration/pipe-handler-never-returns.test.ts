// A handler that never returns (RELIABILITY F19): its event rejects with event_timeout at its
// deadline, not later; other events on the same pipe are served meanwhile; the cancel reaches the
// far handler (its ctx.signal fires); the in-flight tables and per-event timers go back to their
// resting state, in both directions.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';

import { hasErrorCode, type EventRequest, type HandlerContext, type Reply, type RestpipeClient, type RestpipeServer } from 'restpipe';
import { DIRECTIONS, farSide, sendWay, startTestBed, type Direction, type TestBed } from '../helpers/nodes.js';
import { onceEvent, record, timed, trackLibraryTimers, waitUntil } from '../helpers/wait.js';

const timers = trackLibraryTimers();
const EVENT_TIMEOUT_MS = 400;
/** How late a deadline may fire on a loaded test machine. */
const SLACK_MS = 200;

/** Emits `started` (side) and `aborted` (side, reason) for the never-returning handler. */
const probe = new EventEmitter();

function handlers(side: string): Record<string, unknown> {
  return {
    get_forever(ctx: HandlerContext): Promise<never> {
      ctx.signal.addEventListener('abort', () => probe.emit('aborted', side, ctx.signal.reason), { once: true });
      probe.emit('started', side);
      return new Promise<never>(() => {}); // never settles, even once cancelled
    },
    get_quick: (ctx: HandlerContext) => ({ quick: side, n: ctx.params[0] }),
  };
}

let bed: TestBed;
let server: RestpipeServer;
let client: RestpipeClient;

before(async () => {
  bed = await startTestBed();
  let port: number;
  ({ server, port } = await bed.server({ handlers: handlers('server'), eventTimeoutMs: EVENT_TIMEOUT_MS }));
  client = await bed.connectedClient(server, port, bed.pki.client1, { handlers: handlers('client1'), eventTimeoutMs: EVENT_TIMEOUT_MS });
});
after(async () => {
  await bed?.close();
  timers.disable();
});

const send = (dir: Direction, event: EventRequest, opts: { timeoutMs?: number } = {}): Promise<Reply> => sendWay({ server, client }, dir, event, opts);

function inFlight(): { server: { outbound: number; inbound: number } | undefined; client: { outbound: number; inbound: number } } {
  return {
    server: server.client('client1')?.inFlight,
    client: client.pipe()?.inFlight ?? { outbound: -1, inbound: -1 },
  };
}
const RESTING = { server: { outbound: 0, inbound: 0 }, client: { outbound: 0, inbound: 0 } };

for (const dir of DIRECTIONS) {
  describe(dir, () => {
    test('the event rejects with event_timeout at its deadline; other events succeed meanwhile; the far handler is cancelled', async () => {
      const baselineTimers = timers.count();
      const removed = record(server, 'connection_removed');
      const started = onceEvent(probe, 'started', { filter: (side: string) => side === farSide(dir) });
      const aborted = onceEvent<[string, unknown]>(probe, 'aborted', { filter: (side) => side === farSide(dir), timeoutMs: EVENT_TIMEOUT_MS + 2_000 });

      const stuck = timed(send(dir, { verb: 'get', noun: 'forever' }));
      await started;
      assert.equal(farSide(dir) === 'server' ? inFlight().server?.inbound : inFlight().client.inbound, 1, 'the far side holds the event');

      // While it hangs, the same pipe keeps serving other events, one after another.
      let served = 0;
      let stuckDone = false;
      void stuck.then(() => (stuckDone = true));
      while (!stuckDone) {
        const r = await send(dir, { verb: 'get', noun: `quick//${served}` });
        assert.equal(JSON.parse(Buffer.from(r.data).toString()).n, String(served));
        served++;
      }

      const { ms, error } = await stuck;
      assert.ok(hasErrorCode(error, 'event_timeout'), `rejected with event_timeout, got ${String(error)}`);
      assert.match((error as Error).message, /no reply within 0\.4 s/);
      assert.ok(ms >= EVENT_TIMEOUT_MS - 5, `not before its deadline (${ms.toFixed(0)} ms)`);
      assert.ok(ms < EVENT_TIMEOUT_MS + SLACK_MS, `at its deadline, not later (${ms.toFixed(0)} ms)`);
      assert.ok(served >= 5, `other events were served while it hung (${served})`);

      const [, reason] = await aborted;
      assert.ok(hasErrorCode(reason, 'aborted'), `the far handler's ctx.signal fired with reason 'aborted', got ${String(reason)}`);

      await waitUntil(() => JSON.stringify(inFlight()) === JSON.stringify(RESTING), 1_000, 'the in-flight tables are empty');
      await waitUntil(() => timers.count() <= baselineTimers, 1_000, `library timers back to ${baselineTimers} (live: ${timers.live().join('; ')})`);
      assert.equal(removed.items.length, 0, 'the pipe stayed up (heartbeats were not blocked)');
      removed.stop();
      console.log(`${dir}: event_timeout after ${ms.toFixed(0)} ms (deadline ${EVENT_TIMEOUT_MS}); ${served} other events served meanwhile`);
    });

    test('a per-call timeout overrides the configured one', async () => {
      const aborted = onceEvent(probe, 'aborted', { filter: (side: string) => side === farSide(dir) });
      const { ms, error } = await timed(send(dir, { verb: 'get', noun: 'forever' }, { timeoutMs: 150 }));
      assert.ok(hasErrorCode(error, 'event_timeout'));
      assert.ok(ms >= 145 && ms < 150 + SLACK_MS, `${ms.toFixed(0)} ms`);
      await aborted;
      await waitUntil(() => JSON.stringify(inFlight()) === JSON.stringify(RESTING), 1_000, 'the in-flight tables are empty');
    });
  });
}

test('many hung events at once all time out and leave nothing behind', async () => {
  const baselineTimers = timers.count();
  const n = 200;
  let aborts = 0;
  const onAbort = (): void => {
    aborts++;
  };
  probe.on('aborted', onAbort);
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) => timed(send(i % 2 ? 'client→server' : 'server→client', { verb: 'get', noun: 'forever' }, { timeoutMs: 200 }))),
  );
  for (const r of results) assert.ok(hasErrorCode(r.error, 'event_timeout'));
  await waitUntil(() => aborts === n, 2_000, `all ${n} far handlers cancelled (${aborts})`);
  probe.off('aborted', onAbort);
  await waitUntil(() => JSON.stringify(inFlight()) === JSON.stringify(RESTING), 1_000, 'the in-flight tables are empty');
  await waitUntil(() => timers.count() <= baselineTimers, 1_000, `library timers back to ${baselineTimers} (live: ${timers.live().join('; ')})`);
  assert.equal(client.pipe()?.lateReplies, 0, 'a cancelled handler never sends a late reply');
  assert.equal(server.waitingSenders, 0);
  assert.equal(client.waitingSenders, 0);
});
