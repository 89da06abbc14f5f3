// Issue 5 item 7 (RELIABILITY F13, F19; socket.io#4984): 200,000 events through one pipe (half
// each way, 256 in flight per direction, through the library's send() for speed), a share of
// them cancelled by their caller and a share timing out, then everything must be back where it
// started: heap after GC within a stated bound of the baseline, no library timer left, no new
// active handles, the in-flight tables and connect-wait queues empty, and no abort listener
// left on the callers' signals. RSS and heap before and after are printed (t.diagnostic).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { getEventListeners, setMaxListeners } from 'node:events';

import { hasErrorCode, type HandlerContext, type RestpipeClient, type RestpipeServer } from 'restpipe';
import { startTestBed, type TestBed } from '../helpers/nodes.js';
import { activeResources, trackLibraryTimers, waitUntil } from '../helpers/wait.js';

// Before any library object exists, so every library timer is seen.
const timers = trackLibraryTimers();

const EVENTS = 200_000;
const WINDOW = 256;
/** Every Nth event is cancelled by its caller right after it is sent. */
const CANCEL_EVERY = 50;
/** Every Nth event goes to a handler that never answers and times out (short per-event timeout). */
const TIMEOUT_EVERY = 500;
const HEAP_BOUND_MIB = 8;
const RSS_BOUND_MIB = 96;

const gc = (globalThis as { gc?: () => void }).gc;

function handlers(): Record<string, unknown> {
  return {
    get_echo: (_ctx: HandlerContext, _pd: unknown, n: string) => ({ n }),
    // Never answers on its own; ends when the caller's cancel or timeout reaches it.
    get_hang: (ctx: HandlerContext) => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('late'), { once: true })),
  };
}

let bed: TestBed;
let server: RestpipeServer;
let client: RestpipeClient;
before(async () => {
  bed = await startTestBed();
  // Heartbeats well above the test's GC pauses; the faults here are leaks, not silence.
  ({ server, client } = await bed.pair({ handlers: handlers(), heartbeatIntervalMs: 1_000, heartbeatTimeoutMs: 5_000 }));
});
after(async () => {
  await bed?.close();
  timers.disable();
});

async function settleMemory(): Promise<{ heapMiB: number; rssMiB: number }> {
  // Turns of the event loop between collections let finalizers and pending callbacks run.
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const m = process.memoryUsage();
  return { heapMiB: m.heapUsed / 2 ** 20, rssMiB: m.rss / 2 ** 20 };
}

/** Sends `count` events in a window of WINDOW per direction; returns outcome counts. */
async function run(count: number, signal: AbortSignal): Promise<Record<string, number>> {
  const outcomes: Record<string, number> = {};
  let next = 0;
  const one = async (i: number): Promise<void> => {
    const toServer = i % 2 === 0;
    const hang = i % TIMEOUT_EVERY === 0;
    const cancel = !hang && i % CANCEL_EVERY === 0;
    const own = cancel ? new AbortController() : undefined;
    const event = { verb: 'get' as const, noun: hang ? 'hang' : `echo//${i}` };
    const options = { signal: own === undefined ? signal : AbortSignal.any([signal, own.signal]), ...(hang ? { timeoutMs: 20 } : {}) };
    const sent = toServer ? client.send(event, options) : server.send('client1', event, options);
    if (own !== undefined) queueMicrotask(() => own.abort());
    try {
      const r = await sent;
      const key = r.code === 0 && JSON.parse(Buffer.from(r.data).toString()).n === String(i) ? 'ok' : `code ${r.code}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    } catch (err) {
      const key = hasErrorCode(err, 'aborted') ? 'aborted' : hasErrorCode(err, 'event_timeout') ? 'event_timeout' : String(err);
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
  };
  const worker = async (): Promise<void> => {
    while (next < count) await one(next++);
  };
  await Promise.all(Array.from({ length: 2 * WINDOW }, worker));
  return outcomes;
}

test(`${EVENTS} events through one pipe: heap, timers, handles, tables and listeners back to where they started`, { timeout: 90_000 }, async (t) => {
  assert.ok(gc !== undefined, 'run with --expose-gc (scripts/run-tests.mjs does)');
  const shared = new AbortController();
  // Up to 2 × WINDOW events listen on it at once, legitimately.
  setMaxListeners(4 * WINDOW, shared.signal);

  // Warm up (JIT, pools, TLS buffers), then take the baseline.
  await run(10_000, shared.signal);
  const before = await settleMemory();
  const timersBefore = timers.live();
  const resourcesBefore = activeResources();

  const t0 = performance.now();
  const outcomes = await run(EVENTS, shared.signal);
  const seconds = (performance.now() - t0) / 1000;
  // Late replies to the timed-out and cancelled events may still be on the way: wait until both
  // ends have nothing in flight and nothing queued.
  await waitUntil(() => {
    const pipe = client.pipe();
    const far = server.client('client1');
    return pipe !== undefined && far !== undefined && pipe.inFlight.outbound + pipe.inFlight.inbound + far.inFlight.outbound + far.inFlight.inbound === 0 && pipe.queuedBytes.socket + far.queuedBytes.socket === 0;
  }, 10_000, 'both ends settled');
  const afterRun = process.memoryUsage();
  const afterMem = await settleMemory();
  const timersAfter = timers.live();
  const resourcesAfter = activeResources();

  const pipe = client.pipe()!;
  const serverSide = server.client('client1')!;
  const figures = {
    events: EVENTS,
    seconds: Number(seconds.toFixed(1)),
    eventsPerSecond: Math.round(EVENTS / seconds),
    outcomes,
    heapUsedMiB: { before: round(before.heapMiB), afterGc: round(afterMem.heapMiB), peakSeenBeforeGc: round(afterRun.heapUsed / 2 ** 20) },
    rssMiB: { before: round(before.rssMiB), after: round(afterMem.rssMiB) },
    libraryTimers: { before: timersBefore.length, after: timersAfter.length },
    activeResources: { before: resourcesBefore, after: resourcesAfter },
    lateReplies: pipe.lateReplies,
  };
  t.diagnostic(`leak figures: ${JSON.stringify(figures)}`);

  assert.equal(outcomes['ok'], EVENTS - Math.ceil(EVENTS / TIMEOUT_EVERY) - (outcomes['aborted'] ?? 0), JSON.stringify(outcomes));
  assert.equal(outcomes['event_timeout'], Math.ceil(EVENTS / TIMEOUT_EVERY), 'every hanging event timed out');
  assert.ok((outcomes['aborted'] ?? 0) > 0, 'cancels happened');

  // Tables, queues, listeners.
  assert.equal(pipe.inFlight.outbound, 0, 'client: no outbound event left');
  assert.equal(pipe.inFlight.inbound, 0, 'client: no inbound event left (cancels reached the handlers)');
  assert.deepEqual(serverSide.inFlight, { outbound: 0, inbound: 0 }, 'server: nothing in flight');
  assert.equal(client.waitingSenders, 0);
  assert.equal(server.waitingSenders, 0);
  // `pipe` is a snapshot, taken when a heartbeat (10 bytes, one a second here) may have been on
  // its way out; a leak would stay queued, so read the queue afresh until it is empty, within
  // two heartbeat intervals.
  await waitUntil(() => client.pipe()?.queuedBytes.socket === 0, 2_000, 'nothing is queued for the socket');
  assert.equal(getEventListeners(shared.signal, 'abort').length, 0, 'no abort listener left on the callers\' signal');
  for (const name of ['status', 'connect_success', 'connect_fail'] as const) {
    assert.ok(client.listenerCount(name) <= 1, `client '${name}' listeners: ${client.listenerCount(name)}`);
  }

  // Timers and handles: what was there before, nothing more.
  assert.deepEqual(timersAfter.sort(), timersBefore.sort(), 'library timers after = before');
  for (const [kind, n] of Object.entries(resourcesAfter)) {
    assert.ok(n <= (resourcesBefore[kind] ?? 0), `active ${kind}: ${resourcesBefore[kind] ?? 0} → ${n}`);
  }

  // Memory: the heap after GC is back near the baseline; RSS (allocator-held pages) loosely so.
  assert.ok(afterMem.heapMiB - before.heapMiB < HEAP_BOUND_MIB, `heap ${round(before.heapMiB)} → ${round(afterMem.heapMiB)} MiB (bound +${HEAP_BOUND_MIB})`);
  assert.ok(afterMem.rssMiB - before.rssMiB < RSS_BOUND_MIB, `rss ${round(before.rssMiB)} → ${round(afterMem.rssMiB)} MiB (bound +${RSS_BOUND_MIB})`);
});

function round(n: number): number {
  return Number(n.toFixed(1));
}
