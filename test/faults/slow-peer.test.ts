// Issue 5 item 4 (RELIABILITY F11, F12): a slow link, then a peer that stops reading, between a
// client node and the server node, under a load of large bodies both ways through the gateways.
//
// (a) Slow link: the fault proxy throttles both directions to 256 KiB/s while callers post 64 KiB
//     bodies to the server (the client node's event queue fills) and fetch 64 KiB replies from it
//     (the server node's reply buffer fills), and the server's callers send small events to the
//     client. Proves: the bytes each node holds for the pipe stay under a fixed bound (socket +
//     queue ≤ 2 × max-queued + a frame or two, replies ≤ 2 × max-queued + the replies in progress);
//     the pipe is never declared dead (heartbeats on a busy pipe are not taken for silence: no
//     reconnect, no 502); and once the link is fast again everything drains and serves 200.
//     Since wire v2 bodies are flow-controlled streams: a body waits for credit instead of taking
//     room in the send queue, so the excess is no longer refused with 503 (v1's answer, when each
//     queued event held its whole body), and an event's handler runs even if its reply then
//     waits for the link. What a node holds stays bounded all the same.
// (b) A peer that stops reading (the proxy stops reading both ways): the sender's bytes stay
//     under the same bound while its callers keep posting, then the heartbeat declares the pipe
//     dead within its timeout and the client reconnects when the peer reads again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';

import { countFlowOutcomes, startFaultPair, startFlows, type FaultPair, type Flow } from '../helpers/fault-nodes.js';
import { httpRequest } from '../helpers/gateway-http.js';
import { onceEvent, record, waitUntil } from '../helpers/wait.js';
import { heartbeatTick, within } from '../helpers/bounds.js';

const TIMING = {
  heartbeatIntervalMs: 250,
  heartbeatTimeoutMs: 1_000,
  connectWaitMs: 1_000,
  eventTimeoutMs: 2_000,
  reconnectMinMs: 50,
  reconnectMaxMs: 400,
};
const KIB = 1024;
const MAX_QUEUED = 256 * KIB;
const BODY = 512 * KIB;
/** An event or reply frame of a BODY: the body plus headers and metadata. */
const FRAME = BODY + 1 * KIB;
const RATE = 512 * KIB;
/**
 * Enough callers that what they have outstanding (24 × 512 KiB) exceeds what the kernel's socket
 * buffers on the way absorb (a few MiB on loopback), so the nodes' own buffers are reached.
 */
const WORKERS = 24;
/** Sender side: the socket takes events below MAX_QUEUED (+ one frame), the queue holds ≤ MAX_QUEUED (+ one frame); small replies ride along. */
const SENDER_BOUND = 2 * MAX_QUEUED + 2 * FRAME + 64 * KIB;
/**
 * Replier side: past 2 × MAX_QUEUED of replies the peer has not taken, the server stops reading
 * its events (read-gate.ts); the replies of events let in before the buffer filled (at most one
 * per caller: the first burst) may still land on top. Without that, every retry of every caller
 * adds a reply: ~70 × 512 KiB here.
 */
const REPLIER_BOUND = 2 * MAX_QUEUED + WORKERS * FRAME + 64 * KIB;
const SLOW_MS = 5_000;

let pair: FaultPair | undefined;
before(async () => {
  pair = await startFaultPair(TIMING, { maxQueuedBytes: MAX_QUEUED, maxBodyBytes: 1024 * KIB });
});
after(async () => {
  await pair?.close();
});

/** Samples the bytes each node holds for the pipe every 20 ms until stopped; returns the peaks. */
function sampleQueues(p: FaultPair): { stop(): { client: number; server: number; clientRttMaxMs: number } } {
  let client = 0;
  let server = 0;
  let rtt = 0;
  const timer = setInterval(() => {
    const s = p.client.client!.pipe();
    if (s !== undefined) {
      client = Math.max(client, s.queuedBytes.socket + s.queuedBytes.events);
      rtt = Math.max(rtt, s.rttMs ?? 0);
    }
    const c = p.server.server!.client('client1');
    if (c !== undefined) server = Math.max(server, c.queuedBytes.socket + c.queuedBytes.events);
  }, 20);
  return {
    stop() {
      clearInterval(timer);
      return { client, server, clientRttMaxMs: Math.round(rtt) };
    },
  };
}

const body = Buffer.alloc(BODY, 0x61);

/**
 * Runs `flow` for SLOW_MS over a link throttled to RATE; returns what it measured. The link is
 * fast again when it returns, and the pipe has drained.
 */
async function overSlowLink(p: FaultPair, flow: Flow) {
  const server = p.server.server!;
  const removed = record(server, 'connection_removed');
  const connectsBefore = p.client.client!.connects;
  p.proxy.setMode('throttle', { bytesPerSecond: RATE });
  const forwardedBefore = { ...p.proxy.forwarded };
  const samples = sampleQueues(p);
  const heapBefore = process.memoryUsage().heapUsed;
  let heapPeak = heapBefore;
  const heapTimer = setInterval(() => (heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed)), 50);
  const load = startFlows([flow], TIMING.connectWaitMs + TIMING.eventTimeoutMs + 5_000);
  await sleep(SLOW_MS);
  const forwarded = { up: p.proxy.forwarded.up - forwardedBefore.up, down: p.proxy.forwarded.down - forwardedBefore.down };
  clearInterval(heapTimer);
  const peaks = samples.stop();
  // Fast again before the callers stop: since wire v2 a body in flight is a healthy transfer
  // sharing the link (it waits for credit, not for room in a queue), which over this link would
  // take longer than the flows' hard limit (24 × 512 KiB at 512 KiB/s); it completes now.
  p.proxy.setMode('pass');
  await load.stop();
  const reconnects = p.client.client!.connects - connectsBefore;
  const dropped = removed.items.length;
  removed.stop();

  // Fast again: the queues drain (the nodes' and the relay's, so the next test starts clean).
  await waitUntil(
    () => {
      const s = p.client.client!.pipe()!;
      const c = server.client('client1')!;
      const held = s.queuedBytes.socket + s.queuedBytes.events + c.queuedBytes.socket + c.queuedBytes.events;
      return held === 0 && s.inFlight.outbound === 0 && c.inFlight.inbound === 0 && p.proxy.backlog === 0;
    },
    5_000,
    'the queues drain once the link is fast',
  );
  return {
    figures: {
      flow: flow.name,
      rateKiBps: RATE / KIB,
      maxQueuedKiB: MAX_QUEUED / KIB,
      peakHeldKiB: { clientNode: Math.round(peaks.client / KIB), serverNode: Math.round(peaks.server / KIB) },
      linkKiBps: { up: Math.round(forwarded.up / KIB / (SLOW_MS / 1000)), down: Math.round(forwarded.down / KIB / (SLOW_MS / 1000)) },
      heapMiB: { before: Math.round(heapBefore / 2 ** 20), peak: Math.round(heapPeak / 2 ** 20) },
      heartbeatRttMaxMs: peaks.clientRttMaxMs,
      outcomes: countFlowOutcomes(load.outcomes),
    },
    peaks,
    forwarded,
    reconnects,
    dropped,
    outcomes: load.outcomes,
  };
}

function assertBusyButAlive(r: Awaited<ReturnType<typeof overSlowLink>>): void {
  // One allowed response each; the pipe never broke, so no 502 and no reconnect.
  const bad = r.outcomes.filter((o) => ![200, 503, 504].includes(o.status));
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} requests ended otherwise than 200/503/504`);
  assert.equal(r.dropped, 0, 'the server never dropped the busy pipe');
  assert.equal(r.reconnects, 0, 'the client never reconnected: heartbeats on the busy pipe were not taken for silence');
  // The link was the bottleneck: nothing passed faster than its rate (a loaded machine may move
  // less; the relay is a process like the others).
  const moved = Math.max(r.forwarded.up, r.forwarded.down) / (SLOW_MS / 1000);
  assert.ok(moved > 0 && moved <= RATE * 1.15, `link moved ${Math.round(moved / KIB)} KiB/s at ${RATE / KIB} KiB/s`);
}

test('(a1) posting large bodies over a slow link: the client node holds a bounded number of bytes, the bodies wait for credit, the pipe stays up', { timeout: 40_000 }, async (t) => {
  const p = pair!;
  const r = await overSlowLink(p, { name: 'post512k', port: p.clientHttp, workers: WORKERS, method: 'POST', path: () => '/server/sink', body });
  t.diagnostic(`slow link, posts: ${JSON.stringify({ ...r.figures, boundKiB: Math.round(SENDER_BOUND / KIB) })}`);
  assertBusyButAlive(r);
  assert.ok(r.peaks.client <= SENDER_BOUND, `client node held ${r.peaks.client} bytes for the pipe (bound ${SENDER_BOUND})`);
  const up = await httpRequest({ port: p.clientHttp }, { method: 'POST', path: '/server/sink', body, headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(up.status, 200, up.body.toString());
});

test('(a2) fetching large replies over a slow link: the server node holds a bounded number of bytes, the replies wait for credit, the pipe stays up', { timeout: 40_000 }, async (t) => {
  const p = pair!;
  const executedBefore = p.serverTally.get('blob') ?? 0;
  const r = await overSlowLink(p, { name: 'get512k', port: p.clientHttp, workers: WORKERS, method: 'GET', path: () => `/server/blob//${BODY}` });
  const executed = (p.serverTally.get('blob') ?? 0) - executedBefore;
  t.diagnostic(`slow link, replies: ${JSON.stringify({ ...r.figures, handlerRuns: executed, boundKiB: Math.round(REPLIER_BOUND / KIB) })}`);
  assertBusyButAlive(r);
  assert.ok(r.peaks.server <= REPLIER_BOUND, `server node held ${r.peaks.server} bytes for the pipe (bound ${REPLIER_BOUND})`);
  // No request executed twice (at most once, SPEC §6).
  assert.ok(executed <= r.outcomes.length, `the handler ran ${executed} times for ${r.outcomes.length} requests`);
  const down = await httpRequest({ port: p.clientHttp }, { path: `/server/blob//${BODY}` });
  assert.equal(down.status, 200);
  assert.equal(down.body.byteLength, BODY);
});

test('(b) a peer that stops reading: the sender stays bounded, the heartbeat ends the pipe within its timeout, it comes back', { timeout: 40_000 }, async (t) => {
  const p = pair!;
  await p.connected();
  const client = p.client.client!;
  const down = onceEvent(client, 'status', { filter: (s: { state: string }) => s.state === 'backoff', timeoutMs: 5_000 }).then(() => performance.now());
  const samples = sampleQueues(p);
  const t0 = performance.now();
  p.proxy.setMode('pause');
  const load = startFlows([{ name: 'post512k', port: p.clientHttp, workers: WORKERS, method: 'POST', path: () => '/server/sink', body }], TIMING.connectWaitMs + TIMING.eventTimeoutMs + 5_000);
  const downAt = await down;
  const detectMs = downAt - t0;
  const peaks = samples.stop();
  // Keep posting while the path is still stopped: refused (no pipe within connect-wait).
  await waitUntil(() => load.outcomes.some((o) => o.status === 503 && o.startedAt > downAt), within(TIMING.connectWaitMs), 'a post refused while the pipe is down');
  const back = onceEvent(client, 'connect_success', { timeoutMs: 5_000 });
  const tResume = performance.now();
  p.proxy.setMode('pass');
  await back;
  const backMs = performance.now() - tResume;
  await waitUntil(() => load.outcomes.some((o) => o.status === 200 && o.startedAt > tResume), within(TIMING.eventTimeoutMs), 'a post served after the resume');
  await load.stop();
  const outcomes = countFlowOutcomes(load.outcomes);
  t.diagnostic(
    `non-reading peer figures: ${JSON.stringify({ detectMs: Math.round(detectMs), reconnectAfterResumeMs: Math.round(backMs), peakHeldKiB: Math.round(peaks.client / KIB), boundKiB: Math.round(SENDER_BOUND / KIB), outcomes })}`,
  );

  assert.ok(detectMs <= within(TIMING.heartbeatTimeoutMs, heartbeatTick(TIMING)), `detected after ${detectMs.toFixed(0)} ms`);
  assert.ok(peaks.client <= SENDER_BOUND, `client node held ${peaks.client} bytes for the stalled pipe (bound ${SENDER_BOUND})`);
  // v1 refused posts past its queue at once (503); v2's bodies wait for credit instead, and the
  // dead pipe then fails them (502) or, once down, they are refused (503 no_connection).
  const bad = load.outcomes.filter((o) => ![200, 502, 503, 504].includes(o.status));
  assert.deepEqual(bad.slice(0, 5), [], `${bad.length} requests ended otherwise than 200/502/503/504`);
  assert.ok(backMs <= within(TIMING.reconnectMaxMs + 1_000), `reconnected ${backMs.toFixed(0)} ms after the peer read again (reconnect-max + a handshake)`);
  assert.ok(load.outcomes.some((o) => o.status === 200 && o.startedAt > tResume), 'served again after the resume');
});
