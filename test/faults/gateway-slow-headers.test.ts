// A caller whose request headers are still trickling in when the gateway's headers timeout fires
// (issue 10 leftover). The gateway answers 408 with its JSON error and then lingers
// (src/gateway/client-error.ts, src/linger.ts): it sends FIN after the answer and reads and drops
// what the caller still sends until the caller closes. It used to destroy the socket right after
// the 408, so the caller's next bytes met a closed socket and a reset, and a reset that arrives
// before the caller has read the answer discards it. While lingering, the late bytes must never
// complete a request: the caller finishes its request after the 408, and it never runs.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';

import { within } from '../helpers/bounds.js';
import { httpRequest } from '../helpers/gateway-http.js';
import { startNodes, type TestNodes } from '../helpers/gateway-nodes.js';
import { waitUntil, withTimeout } from '../helpers/wait.js';

const HEADERS_TIMEOUT_MS = 300;
/** How the gateway checks its connections for the timeout (gateway.ts: a quarter of it, at least 50 ms). */
const CHECK_EVERY_MS = Math.max(50, Math.floor(HEADERS_TIMEOUT_MS / 4));
const TRICKLE_EVERY_MS = 10;
/** How long the gateway reads on after an early answer before it closes (gateway.ts LINGER_MS). */
const GATEWAY_LINGER_MS = 2_000;
/** How long the caller keeps trickling after the gateway's FIN: well inside the gateway's linger. */
const TRICKLE_AFTER_FIN_MS = 200;

let nodes: TestNodes;
before(async () => {
  nodes = await startNodes();
});
after(async () => {
  await nodes?.close();
});

test('headers still trickling at the headers timeout: the caller reads the whole 408 and a clean close, not a reset; its late request never runs', { timeout: 30_000 }, async () => {
  const gw = await nodes.addGateway('client', { headersTimeoutMs: HEADERS_TIMEOUT_MS, requestTimeoutMs: 2 * HEADERS_TIMEOUT_MS });
  const calls: string[] = [];
  const onCall = (node: string, method: string): void => void calls.push(`${node}:${method}`);
  nodes.probe.on('calls', onCall);
  // allowHalfOpen: the caller goes on sending after the gateway's FIN, as a slow uploader does.
  const socket = net.connect({ port: (gw.address as { port: number }).port, host: '127.0.0.1', allowHalfOpen: true });
  let trickle: NodeJS.Timeout | undefined;
  try {
    await once(socket, 'connect');
    let received = '';
    let error: Error | undefined;
    let finAt: number | undefined;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => (received += d));
    socket.on('error', (err: Error) => (error = err));
    socket.on('end', () => (finAt = performance.now()));
    const closed = once(socket, 'close');

    // Far more header than the timeout lets through at one byte per tick: it never completes.
    const head = `GET /server/info HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'s'.repeat(4_000)}`;
    let sent = 0;
    const t0 = performance.now();
    trickle = setInterval(() => {
      if (socket.writable && sent < head.length) socket.write(head[sent++]!);
    }, TRICKLE_EVERY_MS);

    await waitUntil(() => finAt !== undefined || error !== undefined, within(HEADERS_TIMEOUT_MS + CHECK_EVERY_MS), 'the gateway answered and sent FIN');
    const answeredAfterMs = finAt === undefined ? undefined : finAt - t0;
    // Still sending after the answer, then the end of the headers: a complete request, too late.
    await waitUntil(() => performance.now() - finAt! >= TRICKLE_AFTER_FIN_MS || error !== undefined, within(TRICKLE_AFTER_FIN_MS), 'trickling after the FIN');
    clearInterval(trickle);
    const bytesBeforeFin = sent;
    // The end of the headers (still lingering: the gateway reads it), then a request of the same
    // route on another connection: had the late one been let through, its event would have gone
    // down the pipe first and reached the handler before this one answered.
    if (socket.writable) socket.write(`${head.slice(sent, sent + 20)}\r\n\r\n`);
    const marker = await httpRequest({ port: (gw.address as { port: number }).port }, { path: '/server/info' });
    assert.equal(marker.status, 200);
    socket.end();
    await withTimeout(closed, within(GATEWAY_LINGER_MS), 'the close');

    assert.equal(error, undefined, `the caller's socket saw no error (a reset shows up as ECONNRESET or EPIPE): ${error?.message}`);
    assert.ok(answeredAfterMs! >= HEADERS_TIMEOUT_MS - CHECK_EVERY_MS, `answered after ${answeredAfterMs} ms, not before the timeout`);
    assert.ok(bytesBeforeFin > 0 && bytesBeforeFin < head.length, `the headers were still arriving (${bytesBeforeFin} of ${head.length} bytes)`);
    const m = /^HTTP\/1\.1 408 [^\r]*\r\n([^]*?)\r\n\r\n([^]*)$/.exec(received);
    assert.ok(m !== null, `a 408 with headers and a body: ${JSON.stringify(received.slice(0, 300))}`);
    const length = Number(/content-length: (\d+)/i.exec(m[1]!)?.[1]);
    assert.equal(m[2]!.length, length, 'the whole body, as its Content-Length says');
    assert.equal(JSON.parse(m[2]!).error.code, 'request_timeout');
    assert.match(m[1]!, /connection: close/i);
    assert.deepEqual(calls, ['server:get_info'], 'only the second request reached the handler, not the one completed after the 408');
    assert.equal(gw.inFlight, 0);
    assert.equal(gw.eventsInFlight, 0);
  } finally {
    clearInterval(trickle);
    nodes.probe.off('calls', onCall);
    socket.destroy();
  }
});
