// 1,000 rapid unauthenticated connection attempts on the pipe port (RELIABILITY F17, S7): half
// TLS clients without a certificate, half plain TCP garbage, 50 at a time, while a real client
// sends events without pause. The real client's events all succeed and its pipe is never lost;
// every attempt is refused (1,000 'refused' events); the server's log stays readable: a few
// lines per reason and then a "N more log lines like … suppressed" summary, and every refusal is
// accounted for (lines logged + counts suppressed = 1,000).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';

import type { RestpipeClient, RestpipeServer } from 'restpipe';
import { MemoryLogger, startTestBed, type TestBed } from '../helpers/nodes.js';
import { record, waitUntil, withTimeout } from '../helpers/wait.js';

const ATTEMPTS = 1_000;
const CONCURRENCY = 50;
/** Lines the rate limiter passes per reason per window (src/server/pipe-server.ts). */
const BURST = 5;
const WINDOW_MS = 10_000;
/** Bounds for a loaded machine: 2 cores shared with other test runs. */
const STORM_BOUND_MS = 90_000;

let bed: TestBed;
let server: RestpipeServer;
let port: number;
let client: RestpipeClient;
const serverLog = new MemoryLogger();
let clientReconnects = 0;

before(async () => {
  bed = await startTestBed();
  // Heartbeats with room: a storm on 2 shared cores may delay a tick by a few hundred ms, and
  // this test is about refusals, not dead-peer detection.
  const timing = { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 5_000 };
  ({ server, port } = await bed.server({ logger: serverLog, ...timing }));
  client = await bed.connectedClient(server, port, bed.pki.client1, timing);
  client.on('connect_success', () => clientReconnects++);
});
after(async () => {
  await bed?.close();
});

/** One unauthenticated attempt; resolves when the server has closed it (or it failed). */
function attempt(i: number): Promise<void> {
  return new Promise((resolve) => {
    let socket: net.Socket;
    if (i % 2 === 0) {
      // A TLS client with no certificate: the handshake completes (the server asks for a
      // certificate and judges it afterwards), then the server refuses it with a goaway.
      socket = tls.connect({ host: '127.0.0.1', port, ca: bed.pki.ca.certPem, servername: 'localhost' });
      socket.on('data', () => {});
    } else {
      // A fixed first 5 bytes that cannot be a TLS record header (type 0, version 1.2), so
      // OpenSSL rejects it at once; random bytes after. (A random header can look like a record
      // announcing more bytes than sent, which then waits for the handshake timeout.)
      socket = net.connect(port, '127.0.0.1', () => socket.write(Buffer.concat([Buffer.from([0, 1, 2, 3, 4]), randomBytes(200)])));
    }
    const timer = setTimeout(() => socket.destroy(), 10_000);
    socket.on('error', () => {});
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

test(`${ATTEMPTS} rapid unauthenticated attempts while a real client sends events`, async () => {
  const refused = record<[{ reason: string }]>(server, 'refused');
  bed.defer(() => refused.stop());
  const linesBefore = serverLog.lines.length;

  let stormDone = false;
  const latencies: number[] = [];
  const failures: string[] = [];
  const sender = async (): Promise<void> => {
    while (!stormDone) {
      const t0 = performance.now();
      try {
        const r = await client.send({ verb: 'get', noun: 'cat//x/y' }, { timeoutMs: 10_000 });
        if (r.code !== 0) failures.push(`code ${r.code}`);
      } catch (err) {
        failures.push(String(err));
      }
      latencies.push(performance.now() - t0);
      // Paced like a busy real client (each of 4 senders ~200 events/s), not a CPU hog that
      // would starve the storm it is meant to run alongside (one process, 2 shared cores).
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  const senders = [sender(), sender(), sender(), sender()];

  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ATTEMPTS) await attempt(next++);
  };
  await withTimeout(Promise.all(Array.from({ length: CONCURRENCY }, worker)), STORM_BOUND_MS, `${ATTEMPTS} attempts`);
  const stormMs = performance.now() - t0;
  stormDone = true;
  await Promise.all(senders);

  // Every attempt was refused by the server (the last 'refused' may trail the client's close).
  await waitUntil(() => refused.items.length >= ATTEMPTS, 10_000, `${ATTEMPTS} refused events (have ${refused.items.length})`);
  assert.equal(refused.items.length, ATTEMPTS, 'one refusal per attempt');
  const byReason = new Map<string, number>();
  for (const r of refused.items) byReason.set(r.args[0].reason, (byReason.get(r.args[0].reason) ?? 0) + 1);

  // The real client: every event succeeded, the pipe never dropped.
  assert.deepEqual(failures, [], 'no event failed during the storm');
  assert.ok(latencies.length >= 20, `the real client kept sending (${latencies.length} events)`);
  assert.equal(clientReconnects, 0, 'the real client never reconnected');
  assert.equal(server.clientCount, 1);

  // The log: a few lines per reason per window, then the summaries (the first window that
  // suppressed anything reports at its end, at most WINDOW_MS after it began).
  const isRefusalLine = (msg: string): boolean => /^refused a client certificate|^TLS handshake with a client failed/.test(msg);
  const isSummary = (msg: string): boolean => /more log lines like '.*' suppressed in the last/.test(msg);
  const stormLines = () => serverLog.lines.slice(linesBefore);
  const accounted = (): number =>
    stormLines().reduce((n, l) => n + (isRefusalLine(l.msg) ? 1 + Number(l.fields['suppressed'] ?? 0) : isSummary(l.msg) ? Number(l.fields['suppressed']) : 0), 0);
  await waitUntil(() => accounted() >= ATTEMPTS, WINDOW_MS + 5_000, `every refusal logged or counted as suppressed (have ${accounted()})`);
  const lines = stormLines();
  const refusalLines = lines.filter((l) => isRefusalLine(l.msg));
  const summaries = lines.filter((l) => isSummary(l.msg));
  const windows = Math.ceil((performance.now() - t0) / WINDOW_MS) + 1;
  const reasons = byReason.size;
  const bound = reasons * windows * (BURST + 1);
  assert.equal(accounted(), ATTEMPTS, 'lines logged + suppressed counts = attempts');
  assert.ok(summaries.length >= 1, 'a "suppressed" summary line');
  assert.ok(refusalLines.length + summaries.length <= bound, `${refusalLines.length} refusal lines + ${summaries.length} summaries ≤ ${bound}`);
  assert.ok(lines.length <= bound + 10, `the whole log during the storm: ${lines.length} lines`);
  for (const l of [...refusalLines, ...summaries]) {
    assert.equal(l.level, 'warn');
    assert.doesNotMatch(l.msg, /\n|SSL routines/, 'one readable line each');
  }

  const sorted = [...latencies].sort((a, b) => a - b);
  const p = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  console.log(
    `storm: ${ATTEMPTS} attempts (${[...byReason].map(([r, n]) => `${n} × ${r}`).join(', ')}) in ${stormMs.toFixed(0)} ms ` +
      `(${((ATTEMPTS / stormMs) * 1000).toFixed(0)}/s, ${CONCURRENCY} at a time); real client: ${latencies.length} events, ` +
      `${failures.length} failed, latency p50 ${p(0.5).toFixed(1)} ms, p99 ${p(0.99).toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms; ` +
      `server log: ${refusalLines.length} refusal lines + ${summaries.length} summaries (${lines.length} lines in all) for ${ATTEMPTS} refusals`,
  );
  for (const s of summaries) console.log(`  summary: ${s.msg}`);
});
