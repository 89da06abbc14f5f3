// A narrow link (issue 11; RELIABILITY.md §5.1–5.2): the server node and the client node in two
// network namespaces joined by a veth pair shaped with `tc tbf rate 1mbit`, both ends (and curl)
// inside the namespaces. A 4 MiB upload crosses the link while small events run both ways: at
// least 90 % of the small events answer 200 and the pipe is never declared dead; an upload given
// up at its timeout stops using the link within about one chunk. Needs root and iproute2; says so
// and skips where they are missing (.ci/run installs iproute2).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawn } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';

import { BIN, killAll, pipePort, spawnCli, gatewayAddress, clientReady, type CliProcess } from '../helpers/cli-processes.js';
import { linkNamespaces, netnsUnavailable, type LinkedNamespaces } from '../helpers/netns.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { STREAM_HANDLERS } from '../helpers/curl.js';

const MiB = 1024 * 1024;
const RATE_KBIT = 1000;
const HEARTBEAT_TIMEOUT_S = 10;
const FLAGS = ['--handlers', STREAM_HANDLERS, '--heartbeat-interval', '1', '--heartbeat-timeout', String(HEARTBEAT_TIMEOUT_S), '--event-timeout', '20', '--connect-wait', '2'];
const UPLOAD_FILE = `/tmp/restpipe-narrow-${process.pid}.bin`;
const unavailable = netnsUnavailable();
if (unavailable !== undefined) console.log(`# narrow-link test skipped: ${unavailable}`);

let pki: Pki;
let link: LinkedNamespaces;
let server: CliProcess;
let client: CliProcess;
let gw: { server: number; client: number };

before(async () => {
  if (unavailable !== undefined) return;
  await writeFile(UPLOAD_FILE, Buffer.alloc(4 * MiB, 0x75));
  pki = await makePki();
  link = await linkNamespaces(RATE_KBIT);
  const inNs = (ns: string, args: string[], name: string): CliProcess => {
    const { executable, args: pre } = link.execArgs(ns);
    return spawnCli([...pre, process.execPath, BIN.restpipe, ...args], { executable, name });
  };
  server = inNs(link.server.ns, ['server', '--cert-dir', await pki.certDir('server', pki.server), '--listen', `${link.server.address}:0`, '--http', '127.0.0.1:0', ...FLAGS], 'server');
  const port = await pipePort(server);
  client = inNs(link.client.ns, ['client', '--cert-dir', await pki.certDir('client', pki.client1), '--server', `${link.server.address}:${port}`, '--server-name', 'server', '--http', '127.0.0.1:0', ...FLAGS], 'client');
  gw = { server: (await gatewayAddress(server)).port, client: (await gatewayAddress(client)).port };
  await clientReady(client, 20_000);
});

after(async () => {
  await killAll();
  await link?.close();
  await pki?.cleanup();
  await rm(UPLOAD_FILE, { force: true });
});

/** curl inside a namespace; resolves with the status (0 when none) and the time taken. */
function curlIn(ns: string, url: string, args: string[] = []): { done: Promise<{ status: number; ms: number; body: string }>; kill(): void } {
  const { executable, args: pre } = link.execArgs(ns);
  const t0 = performance.now();
  const child = spawn(executable, [...pre, 'curl', '-sS', '-o', '-', '-w', '\n%{http_code}', ...args, url], { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString('latin1')));
  const done = new Promise<{ status: number; ms: number; body: string }>((resolve) =>
    child.on('close', () => {
      const i = out.lastIndexOf('\n');
      resolve({ status: Number(out.slice(i + 1)) || 0, ms: performance.now() - t0, body: out.slice(0, i) });
    }),
  );
  return { done, kill: () => child.kill('SIGKILL') };
}

test('a 4 MiB upload over 1 Mbit/s with small events both ways: ≥ 90 % answer 200, the pipe stays up', { skip: unavailable, timeout: 170_000 }, async (t) => {
  const upload = curlIn(link.client.ns, `http://127.0.0.1:${gw.client}/server/hash`, ['-X', 'POST', '-H', 'Content-Type: application/octet-stream', '--data-binary', `@${UPLOAD_FILE}`, '--max-time', '150']);
  const results: { way: string; status: number; ms: number }[] = [];
  let running = true;
  const smalls = (['client→server', 'server→client'] as const).map(async (way) => {
    while (running) {
      const r = await (way === 'client→server' ? curlIn(link.client.ns, `http://127.0.0.1:${gw.client}/server/time`, ['--max-time', '20']) : curlIn(link.server.ns, `http://127.0.0.1:${gw.server}/client/client1/time`, ['--max-time', '20'])).done;
      results.push({ way, status: r.status, ms: r.ms });
      await sleep(500);
    }
  });
  const rtts: number[] = [];
  const sampler = setInterval(() => {
    void curlIn(link.client.ns, `http://127.0.0.1:${gw.client}/status`).done.then((r) => {
      const rtt = (JSON.parse(r.body || '{}') as { rttMs?: number | null }).rttMs;
      if (typeof rtt === 'number') rtts.push(rtt);
    }, () => undefined);
  }, 1_000);
  const up = await upload.done;
  clearInterval(sampler);
  running = false;
  await Promise.all(smalls);
  const ok = results.filter((r) => r.status === 200).length;
  const slowest = Math.max(...results.map((r) => r.ms));
  const reconnects = client.log.filter((l) => l['msg'] === 'pipe closed' || /reconnect/.test(String(l['msg']))).length;
  t.diagnostic(`narrow link: upload ${up.status} in ${(up.ms / 1000).toFixed(1)} s (${up.body.slice(0, 120)}); small events ${ok}/${results.length} answered 200, slowest ${slowest.toFixed(0)} ms; heartbeat RTT max ${Math.max(0, ...rtts).toFixed(0)} ms over ${rtts.length} samples; pipe-closed/reconnect log lines ${reconnects}`);
  assert.equal(up.status, 200, up.body);
  assert.equal(JSON.parse(up.body).bytes, 4 * MiB);
  assert.ok(results.length >= 10, `${results.length} small events`);
  assert.ok(ok >= 0.9 * results.length, `${ok} of ${results.length} small events answered 200`);
  assert.ok(rtts.length > 0 && Math.max(...rtts) < HEARTBEAT_TIMEOUT_S * 1000, `heartbeat RTT up to ${Math.max(...rtts)} ms`);
  assert.equal(reconnects, 0, 'the pipe stayed up');
});

test('an upload given up at its timeout stops using the link within about one chunk', { skip: unavailable, timeout: 60_000 }, async (t) => {
  // post_stall never reads: the upload fills its window, then waits; at X-Event-Timeout the
  // caller gets 504 and the far side a CANCEL, and the body stops.
  const upload = curlIn(link.client.ns, `http://127.0.0.1:${gw.client}/server/stall`, ['-X', 'POST', '-H', 'X-Event-Timeout: 4', '--data-binary', `@${UPLOAD_FILE}`, '--max-time', '40']);
  const r = await upload.done;
  assert.equal(r.status, 504, r.body);
  await sleep(1_500); // what was already on the wire (at most the window and the kernel's buffer) drains
  const before = await link.txBytes(link.client.ns);
  await sleep(3_000);
  const sent = (await link.txBytes(link.client.ns)) - before;
  t.diagnostic(`narrow link: after the 504, the client's side of the link sent ${sent} bytes in 3 s (heartbeats included)`);
  assert.ok(sent < 64 * 1024 + 16 * 1024, `${sent} bytes went out after the upload was given up`);
});
