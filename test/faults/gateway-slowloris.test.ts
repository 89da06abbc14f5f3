// Gateway abuse, part 3 (issue 5 item 6): slowloris against a real CLI client node. Hundreds of
// connections send their request headers a byte at a time (never finishing), and more connect
// and say nothing. The gateway's headers timeout (10 s) must drop every one of them, counted
// from the connection's start however often bytes trickle in, while normal requests on other
// connections keep succeeding quickly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';

import { openFilesLimit, processMemory, rawExchange, rawGet } from '../helpers/abuse.js';
import { killAll, startClient, startServer, type StartedClient, type StartedServer } from '../helpers/cli-processes.js';
import { makePki, type Pki } from '../helpers/pki.js';

const HANDLERS = 'test/fixtures/abuse-handlers.js';
const FLAGS = ['--handlers', HANDLERS, '--heartbeat-interval', '0.2', '--heartbeat-timeout', '2', '--connect-wait', '0.3', '--event-timeout', '5', '--grace', '1'];
/** DEFAULT_GATEWAY_HEADERS_TIMEOUT_MS: the CLI has no flag for it. */
const HEADERS_TIMEOUT_MS = 10_000;
const TRICKLE_EVERY_MS = 250;

let pki: Pki;
let server: StartedServer;
let client: StartedClient;

before(async () => {
  pki = await makePki();
  server = await startServer(await pki.certDir('server', pki.server), FLAGS);
  client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, FLAGS);
});

after(async () => {
  await killAll();
  await pki?.cleanup();
});

interface Loris {
  socket: net.Socket;
  received: string;
  closedAfterMs: number | undefined;
}

test('slowloris: trickling and silent connections are dropped by the headers timeout; normal requests succeed meanwhile', { timeout: 40_000 }, async () => {
  // Well inside `ulimit -n` on both ends (1024 on many CI machines): each connection costs one
  // descriptor here and one in the gateway.
  const budget = Math.max(50, Math.min(400, Math.floor((openFilesLimit() - 200) / 2)));
  const trickling = Math.floor((budget * 3) / 4);
  const silent = budget - trickling;
  const port = client.gateway!.port;
  const before = processMemory(client.proc.pid);

  const request = Buffer.from(`GET /server/time HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'s'.repeat(4_000)}\r\n\r\n`);
  const started = performance.now();
  const lorises: Loris[] = [];
  for (let i = 0; i < trickling + silent; i++) {
    const socket = net.connect(port, '127.0.0.1');
    const l: Loris = { socket, received: '', closedAfterMs: undefined };
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (l.received += d));
    socket.on('error', () => {});
    socket.on('close', () => (l.closedAfterMs = performance.now() - started));
    lorises.push(l);
    if (i % 50 === 49) await once(socket, 'connect');
  }
  let sent = 0;
  const trickle = setInterval(() => {
    // One more byte of the headers on every trickling connection; the request never completes.
    for (let i = 0; i < trickling; i++) {
      const s = lorises[i]!.socket;
      if (!s.destroyed && s.writable) s.write(request.subarray(sent, sent + 1));
    }
    sent++;
  }, TRICKLE_EVERY_MS);

  const latencies: number[] = [];
  try {
    // Normal callers on fresh connections throughout, past the moment the lorises are cut.
    while (performance.now() - started < HEADERS_TIMEOUT_MS + 1_500) {
      const t0 = performance.now();
      const r = await rawExchange(port, rawGet('/server/time'), 5_000);
      latencies.push(performance.now() - t0);
      assert.equal(r.status, 200, `a normal request during the attack: ${r.ended} ${r.text.slice(0, 200)}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const deadline = started + HEADERS_TIMEOUT_MS + 8_000;
    while (lorises.some((l) => l.closedAfterMs === undefined) && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    clearInterval(trickle);
    for (const l of lorises) l.socket.destroy();
  }

  const open = lorises.filter((l) => l.closedAfterMs === undefined).length;
  const closedAt = lorises.map((l) => l.closedAfterMs ?? Infinity).sort((a, b) => a - b);
  const after = processMemory(client.proc.pid);
  console.log(
    `# slowloris: ${trickling} trickling + ${silent} silent connections; closed by the gateway after ` +
      `${(closedAt[0]! / 1000).toFixed(1)}–${(closedAt[closedAt.length - 1]! / 1000).toFixed(1)} s; ` +
      `${latencies.length} normal requests meanwhile, slowest ${Math.max(...latencies).toFixed(0)} ms; ` +
      (before && after ? `gateway RSS ${before.rssMiB.toFixed(1)} → peak ${after.peakMiB.toFixed(1)} → ${after.rssMiB.toFixed(1)} MiB` : ''),
  );
  assert.equal(open, 0, `${open} slow connections still open ${((HEADERS_TIMEOUT_MS + 8_000) / 1000).toFixed(0)} s after they started`);
  // Not before the timeout (trickling does not extend it, but it is not cut early either)...
  assert.ok(closedAt[0]! >= HEADERS_TIMEOUT_MS - 1_000, `a connection was cut after ${closedAt[0]} ms`);
  // ...and the trickling ones were told why.
  const told = lorises
    .slice(0, trickling)
    .filter((l) => /^HTTP\/1\.1 408 [^]*\r\n\r\n\{"error":\{"code":"request_timeout","message":"the request did not arrive in time: headers are allowed 10 s/.test(l.received)).length;
  assert.ok(told >= trickling * 0.9, `only ${told} of ${trickling} trickling connections got 408`);
  assert.ok(Math.max(...latencies) < 3_000, `a normal request took ${Math.max(...latencies).toFixed(0)} ms during the attack`);
  const r = await rawExchange(port, rawGet('/server/time'), 5_000);
  assert.equal(r.status, 200);
});
