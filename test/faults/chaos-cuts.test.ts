// Issue 5 item 2 (RELIABILITY F8, "chaos-no-hang"): the fault proxy between a client node and the
// server node cuts every pipe connection (FIN or RST, at random) every 0.2–0.8 s for 20 s, while callers keep a steady
// load of requests going through both REST gateways (client → server and server → client).
//
// Proves, over real HTTP, real TLS and real sockets:
// - every request ends with exactly one response, its status one of 200, 502, 503, 504, and none
//   later than connect-wait + event-timeout (+ a stated margin for a loaded 2-core machine);
// - no event is executed twice (the handlers count executions per request id), and every 200
//   carries the reply of its own request;
// - service is back within a second of the faults stopping: every request started from then on
//   ends 200.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { countByStatus, startFaultPair, startLoad, type FaultPair, type Outcome } from '../helpers/fault-nodes.js';

const TIMING = {
  heartbeatIntervalMs: 200,
  heartbeatTimeoutMs: 800,
  connectWaitMs: 2_000,
  eventTimeoutMs: 2_000,
  reconnectMinMs: 50,
  reconnectMaxMs: 400,
};
/** SPEC: no request waits longer than connect-wait + event-timeout. */
const BOUND_MS = TIMING.connectWaitMs + TIMING.eventTimeoutMs;
/** Scheduling noise on a loaded 2-core machine shared with other test runs. */
const MARGIN_MS = 750;
const CHAOS_MS = 20_000;
const AFTER_MS = 3_000;
/** The spec's recovery bar. */
const RECOVERY_MS = 1_000;
const WORKERS = 8;

let pair: FaultPair | undefined;
before(async () => {
  pair = await startFaultPair(TIMING);
});
after(async () => {
  await pair?.close();
});

test('repeated cuts for 20 s under load both ways: one response each, allowed statuses, bounded time, no double execution, service back within 1 s', { timeout: 60_000 }, async (t) => {
  const p = pair!;
  // Handlers take 0–40 ms, so cuts often land while events are in flight.
  const load = startLoad(p, { workers: WORKERS, handlerMs: () => Math.floor(Math.random() * 40), hardLimitMs: BOUND_MS + 5_000 });

  const cutTimes: number[] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < CHAOS_MS) {
    await sleep(200 + Math.random() * 600);
    // Half the cuts close with FIN, half reset (RST): both must end in-flight events at once.
    if (Math.random() < 0.5) p.proxy.cut();
    else p.proxy.reset();
    cutTimes.push(performance.now());
  }
  const faultsStopped = performance.now();
  // Both nodes, the proxy and the callers share this one process: when the machine is busy the
  // process itself may not run for a while. That stall is measured and reported, and only it is
  // added to the recovery bar; a library that waits on a timer or a backoff still fails.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  await sleep(AFTER_MS);
  loopDelay.disable();
  const stallMs = Math.max(0, loopDelay.max / 1e6 - 10);
  await load.stop();
  const outcomes = load.outcomes;

  // Recovery: from the faults stopping, when did the pipe carry a 200 again in each direction?
  const firstOkAfter = (dir: Outcome['dir']): number =>
    Math.min(...outcomes.filter((o) => o.dir === dir && o.status === 200 && o.startedAt >= faultsStopped).map((o) => o.endedAt)) - faultsStopped;
  const recovery = { 'to-server': firstOkAfter('to-server'), 'to-client': firstOkAfter('to-client') };

  const during = outcomes.filter((o) => o.startedAt < faultsStopped);
  const afterFaults = outcomes.filter((o) => o.startedAt >= faultsStopped + RECOVERY_MS);
  const latencies = outcomes.map((o) => o.endedAt - o.startedAt).sort((a, b) => a - b);
  const figures = {
    cuts: cutTimes.length,
    pipeConnectionsAccepted: p.proxy.accepted,
    clientReconnects: p.client.client!.connects,
    requests: outcomes.length,
    duringCuts: countByStatus(during),
    duringCutsByDirection: {
      'to-server': countByStatus(during.filter((o) => o.dir === 'to-server')),
      'to-client': countByStatus(during.filter((o) => o.dir === 'to-client')),
    },
    afterFaultsPlus1s: countByStatus(afterFaults),
    latencyMs: { p50: Math.round(latencies[Math.floor(latencies.length / 2)]!), p99: Math.round(latencies[Math.floor(latencies.length * 0.99)]!), max: Math.round(latencies.at(-1)!) },
    firstOkAfterFaultsStoppedMs: { 'to-server': Math.round(recovery['to-server']), 'to-client': Math.round(recovery['to-client']) },
    eventLoopStallAfterFaultsMs: Math.round(stallMs),
    executions: { onServer: p.serverTally.size, onClient: p.clientTally.size },
  };
  t.diagnostic(`chaos figures: ${JSON.stringify(figures)}`);

  // Exactly one response each, with an allowed status.
  const bad = outcomes.filter((o) => ![200, 502, 503, 504].includes(o.status));
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} requests without one allowed response`);
  const ids = new Set(outcomes.map((o) => o.id));
  assert.equal(ids.size, outcomes.length, 'one outcome per request id');

  // None later than connect-wait + event-timeout.
  const slow = outcomes.filter((o) => o.endedAt - o.startedAt > BOUND_MS + MARGIN_MS);
  assert.deepEqual(slow.slice(0, 5), [], `${slow.length} requests over ${BOUND_MS} + ${MARGIN_MS} ms`);

  // No event executed twice; every 200 is its own request's reply and was executed once.
  for (const [side, tally] of [['server', p.serverTally], ['client', p.clientTally]] as const) {
    const twice = [...tally].filter(([, n]) => n > 1);
    assert.deepEqual(twice.slice(0, 5), [], `${twice.length} events executed more than once on the ${side}`);
  }
  for (const o of outcomes.filter((x) => x.status === 200)) {
    assert.equal(o.replyId, o.id, 'a 200 carries its own reply');
    const tally = o.dir === 'to-server' ? p.serverTally : p.clientTally;
    assert.equal(tally.get(o.id), 1, `request ${o.id} answered 200 was executed once`);
  }

  // The load was real and the faults did bite.
  assert.ok(cutTimes.length >= 20, `${cutTimes.length} cuts`);
  assert.ok(p.proxy.accepted >= cutTimes.length / 2, `the client reconnected through the proxy ${p.proxy.accepted} times`);
  const ok = during.filter((o) => o.status === 200).length;
  assert.ok(ok >= during.length * 0.2, `at least 20 % served during the cuts (RELIABILITY F8): ${ok}/${during.length}`);
  assert.ok(during.some((o) => o.status === 502), 'some cuts caught events in flight (502)');

  // Full service within a second of the faults stopping.
  assert.ok(afterFaults.length >= 20, `${afterFaults.length} requests after the recovery second`);
  const notOk = afterFaults.filter((o) => o.status !== 200);
  assert.deepEqual(notOk.slice(0, 5), [], `${notOk.length} requests after the recovery second were not 200`);
  for (const [dir, ms] of Object.entries(recovery)) {
    assert.ok(ms <= RECOVERY_MS + stallMs, `${dir}: first 200 ${ms.toFixed(0)} ms after the faults stopped (this process stalled up to ${stallMs.toFixed(0)} ms)`);
  }

  // Nothing left behind: no event in flight, nobody waiting for a pipe.
  await p.connected();
  const session = p.client.client!.session!;
  assert.equal(session.outboundInFlight, 0);
  assert.equal(session.inboundInFlight, 0);
  assert.equal(p.client.client!.waitingSenders, 0);
  assert.equal(p.server.server!.waitingSenders, 0);
  assert.equal(p.client.gateway!.inFlight, 0);
  assert.equal(p.server.gateway!.inFlight, 0);
});
