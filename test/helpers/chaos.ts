// The chaos bar shared by faults/chaos-cuts and faults/chaos-mixed (issue 5 item 2, RELIABILITY
// F8): callers keep a steady load going through both REST gateways while `injectFault` misbehaves
// between client and server; afterwards every invariant is checked and the figures returned.
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';

import { countByStatus, startLoad, type FaultPair, type FaultTiming, type Outcome } from './fault-nodes.js';

export interface ChaosPlan {
  timing: FaultTiming;
  /** How long faults are injected. */
  chaosMs: number;
  /** One fault; the loop waits 0.2–0.8 s between faults. */
  injectFault(pair: FaultPair): Promise<void> | void;
  /** From the faults stopping, every direction must carry a 200 within this, and every request started after it must be 200. */
  recoveryMs: number;
  /** At least this many faults must have been injected for the run to mean anything. */
  minFaults: number;
}

/** Heartbeats, waits and backoff short enough for a 20 s run to see dozens of reconnects. */
export const CHAOS_TIMING: FaultTiming = {
  heartbeatIntervalMs: 200,
  heartbeatTimeoutMs: 800,
  connectWaitMs: 2_000,
  eventTimeoutMs: 2_000,
  reconnectMinMs: 50,
  reconnectMaxMs: 400,
};

/** Scheduling noise on a loaded 2-core machine shared with other test runs. */
const MARGIN_MS = 750;
const AFTER_MS = 3_000;
const WORKERS = 8;

/** Runs the plan; `report` gets the figures before any assertion, so a failing run still shows them. */
export async function runChaos(p: FaultPair, plan: ChaosPlan, report: (figures: Record<string, unknown>) => void): Promise<void> {
  /** SPEC: no request waits longer than connect-wait + event-timeout. */
  const boundMs = plan.timing.connectWaitMs + plan.timing.eventTimeoutMs;
  // Handlers take 0–40 ms, so faults often land while events are in flight.
  const load = startLoad(p, { workers: WORKERS, handlerMs: () => Math.floor(Math.random() * 40), hardLimitMs: boundMs + 5_000 });

  let faults = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < plan.chaosMs) {
    await sleep(200 + Math.random() * 600);
    await plan.injectFault(p);
    faults++;
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
  const afterFaults = outcomes.filter((o) => o.startedAt >= faultsStopped + plan.recoveryMs + stallMs);
  const latencies = outcomes.map((o) => o.endedAt - o.startedAt).sort((a, b) => a - b);
  const figures = {
    faults,
    pipeConnectionsAccepted: p.proxy.accepted,
    clientReconnects: p.client.client!.connects,
    requests: outcomes.length,
    duringFaults: countByStatus(during),
    duringFaultsByDirection: {
      'to-server': countByStatus(during.filter((o) => o.dir === 'to-server')),
      'to-client': countByStatus(during.filter((o) => o.dir === 'to-client')),
    },
    afterRecovery: countByStatus(afterFaults),
    latencyMs: { p50: Math.round(latencies[Math.floor(latencies.length / 2)]!), p99: Math.round(latencies[Math.floor(latencies.length * 0.99)]!), max: Math.round(latencies.at(-1)!) },
    firstOkAfterFaultsStoppedMs: { 'to-server': Math.round(recovery['to-server']), 'to-client': Math.round(recovery['to-client']) },
    eventLoopStallAfterFaultsMs: Math.round(stallMs),
    executions: { onServer: p.serverTally.size, onClient: p.clientTally.size },
  };
  report(figures);

  // Exactly one response each, with an allowed status.
  const bad = outcomes.filter((o) => ![200, 502, 503, 504].includes(o.status));
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} requests without one allowed response`);
  const ids = new Set(outcomes.map((o) => o.id));
  assert.equal(ids.size, outcomes.length, 'one outcome per request id');

  // None later than connect-wait + event-timeout.
  const slow = outcomes.filter((o) => o.endedAt - o.startedAt > boundMs + MARGIN_MS);
  assert.deepEqual(slow.slice(0, 5), [], `${slow.length} requests over ${boundMs} + ${MARGIN_MS} ms`);

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
  assert.ok(faults >= plan.minFaults, `${faults} faults`);
  assert.ok(p.proxy.accepted >= faults / 2, `the client reconnected through the proxy ${p.proxy.accepted} times`);
  const ok = during.filter((o) => o.status === 200).length;
  assert.ok(ok >= during.length * 0.2, `at least 20 % served during the faults (RELIABILITY F8): ${ok}/${during.length}`);
  assert.ok(during.some((o) => o.status === 502), 'some faults caught events in flight (502)');

  // Full service once the recovery bar has passed.
  assert.ok(afterFaults.length >= 20, `${afterFaults.length} requests after the recovery bar`);
  const notOk = afterFaults.filter((o) => o.status !== 200);
  assert.deepEqual(notOk.slice(0, 5), [], `${notOk.length} requests after the recovery bar were not 200`);
  for (const [dir, ms] of Object.entries(recovery)) {
    assert.ok(ms <= plan.recoveryMs + stallMs, `${dir}: first 200 ${ms.toFixed(0)} ms after the faults stopped (this process stalled up to ${stallMs.toFixed(0)} ms)`);
  }

  // Nothing left behind: no event in flight, nobody waiting for a pipe.
  await p.connected();
  const pipe = p.client.client!.pipe()!;
  assert.equal(pipe.inFlight.outbound, 0);
  assert.equal(pipe.inFlight.inbound, 0);
  assert.equal(p.client.client!.waitingSenders, 0);
  assert.equal(p.server.server!.waitingSenders, 0);
  assert.equal(p.client.gateway!.inFlight, 0);
  assert.equal(p.server.gateway!.inFlight, 0);
}
