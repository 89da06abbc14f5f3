// What reaches the pipe port that is not a restpipe client (RELIABILITY F17, F18): random bytes,
// a plain HTTP request, and a TLS client that stalls in the middle of its handshake (a partial
// ClientHello, then silence; and one that trickles its ClientHello a byte at a time, so an idle
// timer alone would never fire). Each is closed with one readable log line naming the reason,
// the stalled ones at the handshake timeout; the server stays up and a real client connected
// all along keeps its pipe and its events keep succeeding.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';

import type { RestpipeClient, RestpipeServer } from 'restpipe';
import { MemoryLogger, startTestBed, type TestBed } from '../helpers/nodes.js';
import { onceEvent, record, waitUntil, withTimeout } from '../helpers/wait.js';

/** Short, so the test is quick; the default is 10 s. */
const HANDSHAKE_TIMEOUT_MS = 500;
/** Node's timers have millisecond resolution: one may fire up to a millisecond early. */
const TIMER_SLACK_MS = 2;
/** Room for a loaded machine (2 cores shared with other test runs) beyond the timeout. */
const MARGIN_MS = 1_500;

let bed: TestBed;
let server: RestpipeServer;
let port: number;
let client: RestpipeClient;
const serverLog = new MemoryLogger();
let refused: ReturnType<typeof record<[{ address: string; reason: string }]>>;
let clientConnects = 0;

before(async () => {
  bed = await startTestBed();
  ({ server, port } = await bed.server({
    logger: serverLog,
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    // Generous heartbeats: this file is about the pipe port, not about dead-peer detection.
    heartbeatIntervalMs: 250,
    heartbeatTimeoutMs: 3_000,
  }));
  refused = record(server, 'refused');
  bed.defer(() => refused.stop());
  client = await bed.connectedClient(server, port, bed.pki.client1, { heartbeatIntervalMs: 250, heartbeatTimeoutMs: 3_000 });
  client.on('connect_success', () => clientConnects++);
});
after(async () => {
  await bed?.close();
});

/** The real client still has its first pipe and an event round-trips. */
async function realClientStillServed(): Promise<void> {
  const reply = await client.send({ verb: 'get', noun: 'cat//a/b' });
  assert.equal(reply.code, 0);
  assert.equal(clientConnects, 0, 'the real client never had to reconnect');
  assert.equal(server.clientCount, 1);
  assert.ok(server.listening);
}

/** Opens a raw TCP connection, lets `act` write to it, and resolves with how long until the server closed it. */
function rawConnection(act: (s: net.Socket) => void, timeoutMs = HANDSHAKE_TIMEOUT_MS + MARGIN_MS + 2_000): Promise<{ closedAfterMs: number; received: Buffer }> {
  // From before the connect: the server's handshake timer cannot start earlier, however late
  // this (busy) process sees its own 'connect'.
  const t0 = performance.now();
  const socket = net.connect(port, '127.0.0.1');
  bed.defer(() => void socket.destroy());
  socket.on('error', () => {});
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.once('connect', () => act(socket));
  return withTimeout(
    onceEvent(socket, 'close', { timeoutMs }).then(() => ({ closedAfterMs: performance.now() - t0, received: Buffer.concat(chunks) })),
    timeoutMs + 100,
    'the server to close the raw connection',
  );
}

/** A real TLS ClientHello, captured from Node's TLS client by a plain TCP listener. */
async function captureClientHello(): Promise<Buffer> {
  const catcher = net.createServer();
  await new Promise<void>((resolve) => catcher.listen(0, '127.0.0.1', resolve));
  const got = new Promise<Buffer>((resolve) => {
    catcher.once('connection', (s) => {
      s.once('data', (d: Buffer) => {
        resolve(d);
        s.destroy();
      });
    });
  });
  const t = tls.connect({ host: '127.0.0.1', port: (catcher.address() as net.AddressInfo).port, servername: 'localhost', ca: bed.pki.ca.certPem });
  t.on('error', () => {});
  const hello = await withTimeout(got, 3_000, 'a ClientHello');
  t.destroy();
  await new Promise<void>((resolve) => catcher.close(() => resolve()));
  assert.equal(hello[0], 0x16, 'a TLS handshake record');
  return hello;
}

function lastLineMatching(re: RegExp) {
  return serverLog.matching(re).at(-1);
}

test('random bytes on the pipe port: closed at once with "not TLS" in the log; the server and the real client carry on', async () => {
  const before = refused.items.length;
  // 0x00 first: never a TLS record type, so this is garbage whatever the random bytes are.
  const r = await rawConnection((s) => s.write(Buffer.concat([Buffer.from([0, 1, 2, 3, 4]), randomBytes(512)])));
  assert.ok(r.closedAfterMs < MARGIN_MS, `closed after ${r.closedAfterMs.toFixed(0)} ms`);
  assert.equal(r.received.length, 0, 'nothing sent back: no frame, no HTTP');
  await waitUntil(() => refused.items.length > before, 2_000, "the server's refused event");
  const line = lastLineMatching(/not TLS/);
  assert.ok(line !== undefined, serverLog.text().join('\n'));
  assert.equal(line.level, 'warn');
  assert.equal(line.fields['address'], '127.0.0.1');
  assert.equal(line.fields['code'], 'ERR_SSL_WRONG_VERSION_NUMBER');
  assert.doesNotMatch(line.msg, /SSL routines|deps\/openssl|\n/);
  await realClientStillServed();
  console.log(`garbage: closed after ${r.closedAfterMs.toFixed(1)} ms; log: "${line.msg}"`);
});

test('a plain HTTP request on the pipe port: no response, closed, "plain HTTP request" in the log', async () => {
  const before = refused.items.length;
  const t0 = performance.now();
  const err = await withTimeout(
    new Promise<Error>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/server/time', method: 'GET' }, (res) => {
        res.resume();
        resolve(new Error(`unexpected HTTP response ${res.statusCode}`));
      });
      req.on('error', resolve);
      req.end();
    }),
    3_000,
    'the HTTP request to end',
  );
  const ms = performance.now() - t0;
  assert.match(String((err as NodeJS.ErrnoException).code), /ECONNRESET|EPIPE/, String(err));
  await waitUntil(() => refused.items.length > before, 2_000, "the server's refused event");
  const line = lastLineMatching(/plain HTTP request on the pipe port/);
  assert.ok(line !== undefined, serverLog.text().join('\n'));
  assert.equal(line.fields['code'], 'ERR_SSL_HTTP_REQUEST');
  await realClientStillServed();
  console.log(`plain HTTP: request failed with ${(err as NodeJS.ErrnoException).code} after ${ms.toFixed(1)} ms; log: "${line.msg}"`);
});

test(`a partial ClientHello and then silence: dropped at the handshake timeout (${HANDSHAKE_TIMEOUT_MS} ms)`, async () => {
  const hello = await captureClientHello();
  const before = serverLog.matching(/TLS handshake not finished/).length;
  const r = await rawConnection((s) => s.write(hello.subarray(0, Math.floor(hello.length / 2))));
  assert.ok(r.closedAfterMs >= HANDSHAKE_TIMEOUT_MS - TIMER_SLACK_MS, `not before the timeout: ${r.closedAfterMs.toFixed(0)} ms`);
  assert.ok(r.closedAfterMs <= HANDSHAKE_TIMEOUT_MS + MARGIN_MS, `soon after the timeout: ${r.closedAfterMs.toFixed(0)} ms`);
  await waitUntil(() => serverLog.matching(/TLS handshake not finished/).length > before, 2_000, 'the timeout log line');
  const line = lastLineMatching(/TLS handshake not finished/)!;
  assert.match(line.msg, /within 0\.5 s/);
  assert.equal(line.fields['code'], 'ERR_TLS_HANDSHAKE_TIMEOUT');
  await realClientStillServed();
  console.log(`stalled handshake (${Math.floor(hello.length / 2)} of ${hello.length} ClientHello bytes): dropped after ${r.closedAfterMs.toFixed(0)} ms (timeout ${HANDSHAKE_TIMEOUT_MS} ms)`);
});

test('a ClientHello trickled one byte at a time: the timeout is a deadline, not an idle timer', async () => {
  const hello = await captureClientHello();
  const everyMs = HANDSHAKE_TIMEOUT_MS / 5;
  let timer: NodeJS.Timeout | undefined;
  let sent = 0;
  const r = await rawConnection((s) => {
    timer = setInterval(() => {
      if (s.destroyed || sent >= hello.length - 1) return; // never the last byte
      s.write(hello.subarray(sent, sent + 1));
      sent++;
    }, everyMs);
  });
  clearInterval(timer);
  assert.ok(sent >= 3, `bytes kept coming (${sent})`);
  assert.ok(r.closedAfterMs <= HANDSHAKE_TIMEOUT_MS + MARGIN_MS, `dropped ${r.closedAfterMs.toFixed(0)} ms after connect though a byte came every ${everyMs} ms`);
  await realClientStillServed();
  console.log(`trickled ClientHello (a byte every ${everyMs} ms, ${sent} bytes sent): dropped after ${r.closedAfterMs.toFixed(0)} ms`);
});

test('TCP connect and never a byte: dropped at the handshake timeout too', async () => {
  const r = await rawConnection(() => {});
  assert.ok(r.closedAfterMs >= HANDSHAKE_TIMEOUT_MS - TIMER_SLACK_MS && r.closedAfterMs <= HANDSHAKE_TIMEOUT_MS + MARGIN_MS, `${r.closedAfterMs.toFixed(0)} ms`);
  await realClientStillServed();
  console.log(`silent TCP connection: dropped after ${r.closedAfterMs.toFixed(0)} ms`);
});
