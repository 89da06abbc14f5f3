// Issue 11: a slow reader of a 256 MiB reply through the gateway. The replying node must be held
// back by the reader (SPEC §9: credit goes back as the caller reads, not as bytes arrive), so
// its memory is bounded by the stream windows whatever the body's size, not by the body; the
// heartbeats keep the pipe up meanwhile and small events on the same pipe keep answering; and
// the bytes are whole (SHA-256). gateway-streams.test.ts does the same with 16 MiB; this one
// moves 16 times as much, at a rate that keeps it near 10 s, and shows that each node's peak
// after it is about where a fast transfer of two windows had left it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { DEFAULT_MAX_STREAM_WINDOW_BYTES } from '../../src/options/defaults.js';
import { killAll, startClient, startServer, type StartedClient, type StartedServer } from '../helpers/cli-processes.js';
import { curl, patternSha256, peakRss, startCurl, STREAM_HANDLERS } from '../helpers/curl.js';
import { makePki, type Pki } from '../helpers/pki.js';

const MiB = 1024 * 1024;
const BYTES = 256 * MiB;
const SEED = 7;
/** curl's --limit-rate: 256 MiB in about 11 s. */
const RATE_MIB_S = 24;
const HEARTBEAT_TIMEOUT_S = 2;
const WARM_UP_BYTES = 2 * DEFAULT_MAX_STREAM_WINDOW_BYTES;
const FLAGS = ['--handlers', STREAM_HANDLERS, '--heartbeat-interval', '0.2', '--heartbeat-timeout', String(HEARTBEAT_TIMEOUT_S), '--connect-wait', '0.5', '--event-timeout', '5', '--grace', '1'];
/**
 * What the 256 MiB slow download may add to each node's peak, over the peak after a fast
 * transfer of two windows (which already had a whole window in flight): another window of
 * buffers on the way (the pipe socket's, the pattern source's read-ahead, the HTTP response's)
 * and garbage the GC has not taken back yet, bounded by the same window. A node that held the
 * body, or let the far side run ahead of the reader, would add up to 256 MiB. (Seen here: 0-18 MiB.)
 */
const PEAK_GROWTH_BOUND = 2 * DEFAULT_MAX_STREAM_WINDOW_BYTES;

let pki: Pki;
let server: StartedServer;
let client: StartedClient;
let sha256 = '';

before(async () => {
  // The digest first: hashing takes the test process's CPU for a moment, better before than during.
  sha256 = await patternSha256(BYTES, SEED);
  pki = await makePki();
  server = await startServer(await pki.certDir('server', pki.server), FLAGS);
  client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, FLAGS);
});

after(async () => {
  await killAll();
  await pki?.cleanup();
});

test('a slow reader of 256 MiB: the replying node is held back (its peak grows by windows, not by the body), the pipe stays up, small events answer, the bytes are whole', { timeout: 120_000 }, async () => {
  const gw = `http://127.0.0.1:${client.gateway!.port}`;
  const serverGw = `http://127.0.0.1:${server.gateway!.port}`;
  // The server replies (far); the client node's gateway serves the caller (near). First a
  // transfer of two windows at full speed, so that the peaks before include what a stream costs
  // once its window has grown to the largest.
  assert.equal((await curl(`${gw}/server/pattern//${WARM_UP_BYTES}/1`)).code, 0);
  const farBefore = await peakRss(`${gw}/server/memory`);
  const nearBefore = await peakRss(`${serverGw}/client/client1/memory`);
  const serverLogBefore = server.proc.log.length;
  const clientLogBefore = client.proc.log.length;

  const slow = startCurl(`${gw}/server/pattern//${BYTES}/${SEED}`, ['--limit-rate', `${RATE_MIB_S}M`]);
  let small = 0;
  let slowestSmallMs = 0;
  // Small events on the same pipe all along (each one waits for the one before).
  while (slow.received < BYTES - 4 * MiB && slow.child.exitCode === null) {
    const r = await curl(`${gw}/server/time`);
    assert.equal(r.status, 200, `a small event during the slow download: ${r.head}`);
    slowestSmallMs = Math.max(slowestSmallMs, r.ms);
    small++;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const r = await slow.done;
  const farAfter = await peakRss(`${gw}/server/memory`);
  const nearAfter = await peakRss(`${serverGw}/client/client1/memory`);
  const figures = {
    seconds: Number((r.ms / 1000).toFixed(1)),
    MiBps: Number((BYTES / MiB / (r.ms / 1000)).toFixed(1)),
    farPeakMiB: [Math.round(farBefore / MiB), Math.round(farAfter / MiB)],
    nearPeakMiB: [Math.round(nearBefore / MiB), Math.round(nearAfter / MiB)],
    smallEvents: small,
    slowestSmallMs: Math.round(slowestSmallMs),
  };
  console.log(`# slow reader of 256 MiB: ${JSON.stringify(figures)}`);

  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.status, 200);
  assert.equal(r.bytes, BYTES);
  assert.equal(r.sha256, sha256, 'the bytes are whole');
  assert.ok(farAfter - farBefore < PEAK_GROWTH_BOUND, `the replying node's peak grew by ${((farAfter - farBefore) / MiB).toFixed(1)} MiB (bound ${PEAK_GROWTH_BOUND / MiB} MiB: two stream windows)`);
  assert.ok(nearAfter - nearBefore < PEAK_GROWTH_BOUND, `the gateway's node's peak grew by ${((nearAfter - nearBefore) / MiB).toFixed(1)} MiB (bound ${PEAK_GROWTH_BOUND / MiB} MiB)`);
  assert.ok(small >= 5, `${small} small events answered meanwhile`);
  const broke = [...server.proc.log.slice(serverLogBefore), ...client.proc.log.slice(clientLogBefore)].filter(
    (l) => typeof l['msg'] === 'string' && /disconnected|pipe to the server closed/.test(l['msg']),
  );
  assert.deepEqual(broke.map((l) => l['msg']), [], 'the pipe stayed up (heartbeats answered behind the bulk data)');
});
