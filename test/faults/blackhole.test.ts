// Issue 5 item 3 (RELIABILITY F4/F5): the fault proxy between a client node and the server node
// turns into a black hole — every TCP connection stays open, nothing passes, no FIN, no RST: the
// half-open connection no TCP stack notices. Three rounds, each with requests in flight both ways
// through the REST gateways when the path goes dark.
//
// Proves:
// - both sides detect it by heartbeats alone within the heartbeat timeout (+ one check tick + a
//   stated margin), and not before the peer has been silent for about the timeout;
// - the requests in flight end 502 within the same bound (not at their event timeout);
// - while dark, dials connect to the proxy and stall in TLS: each ends at the handshake timeout,
//   and the attempts back off (no tight loop);
// - once the path is back the client reconnects within handshake-timeout + reconnect-max (+ margin),
//   and both gateways serve 200 again; the server holds exactly one pipe for the client.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import type { ClientStatus } from 'restpipe';
import { httpRequest, type HttpResult } from '../helpers/gateway-http.js';
import { startFaultPair, type FaultPair } from '../helpers/fault-nodes.js';
import { onceEvent, record, settledAt } from '../helpers/wait.js';

const TIMING = {
  heartbeatIntervalMs: 250,
  heartbeatTimeoutMs: 1_000,
  connectWaitMs: 1_000,
  eventTimeoutMs: 10_000,
  reconnectMinMs: 50,
  reconnectMaxMs: 400,
};
const HANDSHAKE_TIMEOUT_MS = 1_000; // startFaultPair's
const T = TIMING.heartbeatTimeoutMs;
/** The heartbeat checks every min(interval, timeout / 4). */
const TICK = Math.min(TIMING.heartbeatIntervalMs, T / 4);
/** Scheduling noise allowed on a loaded 2-core machine. */
const MARGIN_MS = 300;
const DETECT_MAX_MS = T + TICK + MARGIN_MS;
/** Data may have arrived up to one heartbeat interval before the path went dark. */
const DETECT_MIN_MS = T - TIMING.heartbeatIntervalMs - 20;
const DARK_MS = 3_000;
const HEAL_MAX_MS = HANDSHAKE_TIMEOUT_MS + TIMING.reconnectMaxMs + MARGIN_MS;
const ROUNDS = 3;

let pair: FaultPair | undefined;
before(async () => {
  pair = await startFaultPair(TIMING);
});
after(async () => {
  await pair?.close();
});

test(`a black hole, ${ROUNDS} times: both sides detect it within the heartbeat timeout; in-flight requests 502; reconnect once the path is back`, { timeout: 60_000 }, async (t) => {
  const p = pair!;
  const client = p.client.client!;
  const server = p.server.server!;
  const rounds: Record<string, number>[] = [];

  for (let round = 1; round <= ROUNDS; round++) {
    await p.connected();
    // Two long requests each way, their handlers running when the path goes dark.
    const started = waitForExecutions(p, 4);
    const inFlight = [
      settledAt(httpRequest({ port: p.clientHttp }, { path: `/server/work//r${round}a/30000`, timeoutMs: 15_000 })),
      settledAt(httpRequest({ port: p.clientHttp }, { path: `/server/work//r${round}b/30000`, timeoutMs: 15_000 })),
      settledAt(httpRequest({ port: p.serverHttp }, { path: `/client/client1/work//r${round}c/30000`, timeoutMs: 15_000 })),
      settledAt(httpRequest({ port: p.serverHttp }, { path: `/client/client1/work//r${round}d/30000`, timeoutMs: 15_000 })),
    ];
    await started;

    const serverDropped = onceEvent(server, 'connection_removed', { timeoutMs: 5_000 }).then(() => performance.now());
    const clientDropped = onceEvent<[ClientStatus]>(client, 'status', { filter: (s) => s.state === 'backoff', timeoutMs: 5_000 }).then(
      ([s]) => ({ at: performance.now(), reason: s.reason ?? '' }),
    );
    const fails = record<[number]>(client, 'connect_fail');
    const t0 = performance.now();
    p.proxy.setMode('blackhole');

    const [sAt, cDown] = await Promise.all([serverDropped, clientDropped]);
    const results = await Promise.all(inFlight);
    assert.match(cDown.reason, /heartbeat timeout/, 'the client says why its pipe closed');
    for (const r of results) {
      const res = r.value as HttpResult | undefined;
      assert.equal(res?.status, 502, `in-flight request: ${res?.status} ${res?.body.toString()} ${String(r.error ?? '')}`);
      assert.match(res.body.toString(), /heartbeat timeout/);
    }
    const measured = {
      serverDetectMs: sAt - t0,
      clientDetectMs: cDown.at - t0,
      inFlight502MaxMs: Math.max(...results.map((r) => r.at - t0)),
    };
    for (const [what, ms] of Object.entries(measured)) {
      assert.ok(ms <= DETECT_MAX_MS, `round ${round}: ${what} ${ms.toFixed(0)} ms > ${DETECT_MAX_MS} ms (T + tick + margin)`);
      assert.ok(ms >= DETECT_MIN_MS, `round ${round}: ${what} ${ms.toFixed(0)} ms: before the peer was silent for the timeout`);
    }

    // Still dark: dials connect to the proxy and stall in TLS until the handshake timeout.
    const darkLeft = DARK_MS - (performance.now() - t0);
    if (darkLeft > 0) await sleep(darkLeft);
    fails.stop();
    const dials = fails.items.length;
    // At most one dial per handshake timeout + reconnect-min (plus the one in progress).
    const maxDials = Math.ceil((performance.now() - cDown.at) / (HANDSHAKE_TIMEOUT_MS + TIMING.reconnectMinMs)) + 1;
    assert.ok(dials >= 1 && dials <= maxDials, `round ${round}: ${dials} failed dials while dark (≤ ${maxDials})`);
    assert.ok(fails.items.every((f, i) => i === 0 || f.args[0] > fails.items[i - 1]!.args[0]), 'the attempt count grows while dark');
    assert.equal(server.clientCount, 0, 'the server holds no pipe for the dark client');

    // Heal.
    const back = Promise.all([
      onceEvent(client, 'connect_success', { timeoutMs: 5_000 }),
      onceEvent(server, 'connection_added', { timeoutMs: 5_000 }),
    ]);
    const tHeal = performance.now();
    p.proxy.setMode('pass');
    await back;
    const healMs = performance.now() - tHeal;
    assert.ok(healMs <= HEAL_MAX_MS, `round ${round}: reconnected ${healMs.toFixed(0)} ms after the heal (bar ${HEAL_MAX_MS} ms)`);
    const [toServer, toClient] = await Promise.all([
      httpRequest({ port: p.clientHttp }, { path: `/server/work//r${round}ok/0` }),
      httpRequest({ port: p.serverHttp }, { path: `/client/client1/work//r${round}ok/0` }),
    ]);
    assert.equal(toServer.status, 200, toServer.body.toString());
    assert.equal(toClient.status, 200, toClient.body.toString());
    assert.equal(server.clientCount, 1, 'exactly one pipe for the client after the heal');
    rounds.push({ round, ...roundAll(measured), failedDialsWhileDark: dials, reconnectAfterHealMs: Math.round(healMs) });
  }
  t.diagnostic(
    `blackhole figures (heartbeat ${TIMING.heartbeatIntervalMs}/${T} ms, tick ${TICK} ms, detection bar ${DETECT_MAX_MS} ms, heal bar ${HEAL_MAX_MS} ms): ${JSON.stringify(rounds)}`,
  );
  assert.equal(client.waitingSenders, 0);
  assert.equal(server.waitingSenders, 0);
});

function roundAll(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, Math.round(v)]));
}

/** Resolves when the handlers have started `n` more executions in total. */
async function waitForExecutions(p: FaultPair, n: number): Promise<void> {
  const total = (): number => sum(p.serverTally) + sum(p.clientTally);
  const target = total() + n;
  const deadline = performance.now() + 5_000;
  while (total() < target) {
    if (performance.now() > deadline) throw new Error('the long requests did not start');
    await sleep(5);
  }
}

function sum(m: Map<string, number>): number {
  let s = 0;
  for (const v of m.values()) s += v;
  return s;
}
