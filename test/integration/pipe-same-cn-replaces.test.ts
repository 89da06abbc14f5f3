// One live pipe per identity (SPEC §6, RELIABILITY F15, F16). A second client with the same
// certificate replaces the first at once: the server emits connection_removed then
// connection_added, the first pipe's in-flight events fail with pipe_broken, and the first client
// is told why (GOAWAY REPLACED). A frozen (black-holed) pipe is replaced without waiting for its
// heartbeat timeout, and its session is destroyed. Two live clients with one identity do not
// flip-flop faster than their backoff: each eviction doubles the evicted client's backoff.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';

import { hasErrorCode, type ClientStatus, type HandlerContext, type RestpipeClient, type RestpipeServer } from 'restpipe';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { HEARTBEAT, MemoryLogger, startTestBed, type TestBed } from '../helpers/nodes.js';
import { onceEvent, record, settledAt, trackLibraryTimers, waitForStatus, waitUntil, withTimeout } from '../helpers/wait.js';

const timers = trackLibraryTimers();
const probe = new EventEmitter();
probe.setMaxListeners(50);

/** Handlers that say which client instance answered, and hold `get_wait` until cancelled. */
function handlers(instance: string): Record<string, unknown> {
  return {
    get_who: () => ({ instance }),
    get_wait(ctx: HandlerContext): Promise<string> {
      probe.emit('started', instance);
      return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('too late'), { once: true }));
    },
  };
}
const serverHandlers = {
  get_wait(ctx: HandlerContext): Promise<string> {
    probe.emit('started', `server:${ctx.peer.name}`);
    return new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve('too late'), { once: true }));
  },
};

const who = async (server: RestpipeServer, name: string): Promise<string> =>
  JSON.parse(Buffer.from((await server.send(name, { verb: 'get', noun: 'who' })).data).toString()).instance as string;

let bed: TestBed;
let server: RestpipeServer;
let port: number;
const serverLog = new MemoryLogger();

before(async () => {
  bed = await startTestBed();
  ({ server, port } = await bed.server({ handlers: serverHandlers, logger: serverLog }));
});
after(async () => {
  await bed?.close();
  timers.disable();
});

describe('a second client with the same certificate', () => {
  test('replaces the first at once; the first\'s in-flight events fail with pipe_broken; it is told it was replaced', async () => {
    const first = await bed.connectedClient(server, port, bed.pki.client1, { handlers: handlers('first'), reconnectMinMs: 2_000, reconnectMaxMs: 4_000 });
    assert.equal(await who(server, 'client1'), 'first');

    // One event in flight each way on the first pipe.
    const started = Promise.all([
      onceEvent(probe, 'started', { filter: (i: string) => i === 'first' }),
      onceEvent(probe, 'started', { filter: (i: string) => i === 'server:client1' }),
    ]);
    const toFirst = settledAt(server.send('client1', { verb: 'get', noun: 'wait' }));
    const fromFirst = settledAt(first.send({ verb: 'get', noun: 'wait' }));
    await started;

    const events = record<[string, number]>(server, 'connection_removed');
    const added = record<[string, number]>(server, 'connection_added');
    const firstDown = waitForStatus(first, (s) => s.state === 'backoff');
    const t0 = performance.now();
    const second = bed.client(port, bed.pki.client1, { handlers: handlers('second') });
    await onceEvent(second, 'connect_success');
    const takeoverMs = performance.now() - t0;

    const [a, b] = await Promise.all([toFirst, fromFirst]);
    assert.ok(hasErrorCode(a.error, 'pipe_broken'), `server→first: pipe_broken, got ${String(a.error)}`);
    assert.ok(hasErrorCode(b.error, 'pipe_broken'), `first→server: pipe_broken, got ${String(b.error)}`);
    assert.match((a.error as Error).message, /replaced by a new connection/);
    assert.match((b.error as Error).message, /replaced by a newer connection with the same identity/);

    const status: ClientStatus = await firstDown;
    assert.match(status.reason ?? '', /replaced by a newer connection with the same identity/, 'the replaced client is told why');
    assert.equal(status.attempt, 1, 'being replaced counts as a failed attempt (its backoff grows)');

    await waitUntil(() => added.items.length >= 1, 1_000, 'connection_added');
    assert.deepEqual(events.items.map((e) => e.args[0]), ['client1'], 'connection_removed once, for the replaced pipe');
    assert.deepEqual(added.items.map((e) => e.args), [['client1', 1]], 'then connection_added; still one client');
    assert.ok(events.items[0]!.at <= added.items[0]!.at, 'removed before added');
    events.stop();
    added.stop();
    assert.equal(server.clientCount, 1);
    assert.equal(await who(server, 'client1'), 'second', 'events now go to the new pipe');
    assert.ok(serverLog.matching(/connected again; replacing its previous pipe/).some((l) => l.level === 'warn'), 'the eviction is logged as a warning');
    assert.ok(takeoverMs < 1_000, `takeover in ${takeoverMs.toFixed(0)} ms`);
    console.log(`same CN, both live: second client accepted ${takeoverMs.toFixed(0)} ms after it started`);

    await first.close({ graceMs: 0 });
    await second.close({ graceMs: 100 });
    await waitUntil(() => server.clientCount === 0, 1_000, 'no clients');
  });

  test('a frozen pipe (black-holed) is replaced at once, without waiting for its heartbeat timeout; the old session is destroyed', async () => {
    const proxy = await startFaultProxy(port);
    bed.defer(() => proxy.close());
    const frozen = await bed.connectedClient(server, proxy.port, bed.pki.client2, { handlers: handlers('frozen'), handshakeTimeoutMs: 300 });
    const baselineTimers = timers.count();
    const started = onceEvent(probe, 'started', { filter: (i: string) => i === 'frozen' });
    const toFrozen = settledAt(server.send('client2', { verb: 'get', noun: 'wait' }));
    await started;

    proxy.setMode('blackhole');
    const tFreeze = performance.now();
    const removed = record<[string, number]>(server, 'connection_removed');
    const t0 = performance.now();
    const fresh = bed.client(port, bed.pki.client2, { handlers: handlers('fresh') });
    const [addedName] = await onceEvent<[string, number]>(server, 'connection_added', { filter: (n: string) => n === 'client2', timeoutMs: 2_000 });
    const takeoverMs = performance.now() - t0;
    assert.equal(addedName, 'client2');
    const old = await withTimeout(toFrozen, 1_000, 'the old pipe\'s in-flight event');
    const oldFailedMs = old.at - tFreeze;

    assert.ok(takeoverMs < 1_000, `accepted in ${takeoverMs.toFixed(0)} ms`);
    assert.ok(oldFailedMs < HEARTBEAT.heartbeatTimeoutMs, `the old session died with the takeover (${oldFailedMs.toFixed(0)} ms after the freeze), not at its heartbeat timeout`);
    assert.ok(hasErrorCode(old.error, 'pipe_broken'), String(old.error));
    assert.match((old.error as Error).message, /replaced/);
    assert.equal(removed.items.length, 1, 'connection_removed for the frozen pipe');
    removed.stop();
    assert.equal(await who(server, 'client2'), 'fresh');
    assert.equal(server.clientCount, 1);

    // The frozen client finds out by its own heartbeat and cannot get back through the black hole.
    await waitForStatus(frozen, (s) => s.state === 'backoff' && /heartbeat timeout/.test(s.reason ?? ''), 2_000);
    await frozen.close({ graceMs: 0 });
    // Nothing of the old session is left: its timers went with it (frp#5391).
    await waitUntil(() => timers.count() <= baselineTimers, 2_000, `library timers back to ${baselineTimers}: ${timers.live().join('; ')}`);
    console.log(`same CN, old pipe frozen: new client accepted after ${takeoverMs.toFixed(0)} ms; the old in-flight event failed ${oldFailedMs.toFixed(0)} ms after the freeze`);
    await fresh.close({ graceMs: 100 });
    await proxy.close();
  });
});

describe('two live clients with one identity', () => {
  test('do not flip-flop faster than the backoff: each eviction doubles the evicted client\'s delay', async () => {
    const WINDOW_MS = 2_500;
    const opts = { reconnectMinMs: 50, reconnectMaxMs: 1_000, random: () => 1 } as const;
    const x = await bed.connectedClient(server, port, bed.pki.client1, { handlers: handlers('x'), ...opts });
    const adds = record<[string, number]>(server, 'connection_added');
    const t0 = performance.now();
    const y = bed.client(port, bed.pki.client1, { handlers: handlers('y'), ...opts });
    const xReasons = record<[ClientStatus]>(x, 'status');
    await new Promise((resolve) => setTimeout(resolve, WINDOW_MS)); // the observation window
    adds.stop();
    xReasons.stop();

    const replacements = adds.items.length; // every add after the first replaced the other instance
    const times = adds.items.map((a) => a.at - t0);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // With random() = 1 the k-th eviction of an instance waits min(1000, 50·2^k) ms before
    // dialing again: 100, 100, 200, 200, 400, 400, 800, … between replacements, about 7 in
    // 2.5 s. Without the doubling it would be one every ~100 ms (about 25).
    assert.ok(replacements >= 3, `they do take turns (${replacements})`);
    assert.ok(replacements <= 10, `no ping-pong: ${replacements} replacements in ${WINDOW_MS} ms (at ${times.map((t) => t.toFixed(0)).join(', ')} ms)`);
    // Gap k: the instance evicted for the ⌈k/2⌉-th time waits min(1000, 50·2^⌈k/2⌉) before it
    // dials again (scheduling delays only make the gaps longer).
    gaps.forEach((g, i) => {
      const expected = Math.min(1_000, 50 * 2 ** Math.ceil((i + 1) / 2));
      assert.ok(g >= expected - 10, `gap ${i + 1} is ${g.toFixed(0)} ms, the backoff says ≥ ${expected} ms (gaps ${gaps.map((x) => x.toFixed(0)).join(', ')})`);
    });
    assert.ok(
      xReasons.items.some((s) => /replaced by a newer connection with the same identity/.test(s.args[0].reason ?? '')),
      'the evicted client is told it was replaced',
    );
    assert.equal(server.clientCount, 1, 'one pipe for the identity at any time');
    console.log(`two live clients, one identity: ${replacements} replacements in ${WINDOW_MS} ms, gaps ${gaps.map((g) => g.toFixed(0)).join(', ')} ms`);
    await x.close({ graceMs: 0 });
    await y.close({ graceMs: 0 });
  });
});
