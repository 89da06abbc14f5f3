// Issue 5 item 1: the fault proxy itself (test/helpers/fault-proxy.ts), against a plain TCP echo
// server on 127.0.0.1, so the fault tests can trust what each mode does: pass forwards; cut
// closes both sides at once (FIN) and reset with RST; blackhole keeps every socket open and
// forwards nothing, the close of either side included; delay adds its time each way (a latency,
// not a growing queue); throttle keeps to its rate. A pipe whose RTT equals its heartbeat
// timeout stays up: any data, not a prompt reply, proves the peer alive.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';

import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { HEARTBEAT, startTestBed, type TestBed } from '../helpers/nodes.js';
import { record } from '../helpers/wait.js';
import { within } from '../helpers/bounds.js';

let echo: net.Server;
const echoSockets = new Set<net.Socket>();
let proxy: FaultProxy;
before(async () => {
  echo = net.createServer((s) => {
    echoSockets.add(s);
    s.on('error', () => {});
    s.on('close', () => echoSockets.delete(s));
    s.pipe(s);
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  proxy = await startFaultProxy((echo.address() as AddressInfo).port);
});
after(async () => {
  await proxy.close();
  for (const s of echoSockets) s.destroy();
  await new Promise<void>((resolve) => echo.close(() => resolve()));
});

async function dial(): Promise<{ socket: net.Socket; received: () => number; closed: Promise<string> }> {
  const socket = net.connect(proxy.port, '127.0.0.1');
  await once(socket, 'connect');
  let bytes = 0;
  socket.on('data', (c: Buffer) => (bytes += c.byteLength));
  const closed = new Promise<string>((resolve) => {
    socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
    socket.on('close', () => resolve('close'));
  });
  return { socket, received: () => bytes, closed };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(2);
  }
}

/** The proxy's delay each way. */
const DELAY_MS = 100;

test('pass, delay and throttle: echoes arrive, delayed by twice the delay, or at the throttled rate', async (t) => {
  proxy.setMode('pass');
  const c = await dial();
  let t0 = performance.now();
  c.socket.write('x');
  await until(() => c.received() === 1, 2_000, 'the echo');
  const passMs = performance.now() - t0;

  proxy.setMode('delay', { delayMs: DELAY_MS });
  t0 = performance.now();
  c.socket.write('y');
  await until(() => c.received() === 2, within(2 * DELAY_MS), 'the delayed echo');
  const delayMs = performance.now() - t0;
  assert.ok(delayMs >= 2 * DELAY_MS - 5 && delayMs < within(2 * DELAY_MS), `round trip through ${DELAY_MS} ms each way: ${delayMs.toFixed(0)} ms`);

  const rate = 256 * 1024;
  proxy.setMode('throttle', { bytesPerSecond: rate });
  const size = 192 * 1024;
  t0 = performance.now();
  c.socket.write(Buffer.alloc(size));
  await until(() => c.received() === 2 + size, 5_000, 'the throttled echo');
  const throttleMs = performance.now() - t0;
  // Each way at `rate`, pipelined in 16 KiB slices: about size / rate (+ one slice).
  const expectMs = (size / rate) * 1000;
  assert.ok(throttleMs >= expectMs * 0.9 && throttleMs < expectMs * 2 + 500, `192 KiB echo at 256 KiB/s took ${throttleMs.toFixed(0)} ms (≈ ${expectMs} expected)`);
  t.diagnostic(`fault proxy: pass RTT ${passMs.toFixed(1)} ms; delay 100 ms each way → RTT ${delayMs.toFixed(0)} ms; 192 KiB echo at 256 KiB/s → ${throttleMs.toFixed(0)} ms`);
  proxy.setMode('pass');
  c.socket.destroy();
});

test('blackhole: nothing passes, not even a close; sockets stay open; cut closes, reset sends RST', async () => {
  proxy.setMode('pass');
  const a = await dial();
  await until(() => proxy.connections === 1, 2_000, 'one relayed connection');
  proxy.setMode('blackhole');
  a.socket.write('lost');
  const b = await dial(); // new connections are accepted and go nowhere
  b.socket.end(); // a close during the partition is not passed on either
  await sleep(200);
  assert.equal(a.received(), 0, 'nothing came back');
  assert.equal(a.socket.destroyed, false, 'the black-holed socket is still open');
  assert.equal(echoSockets.size, 2, 'the far side still holds both connections');

  proxy.setMode('pass'); // the one closed during the partition is gone after the heal
  await until(() => proxy.connections === 1, 2_000, 'only the live connection left');
  a.socket.write('z');
  await until(() => a.received() === 1, 2_000, 'the echo after the heal');

  proxy.cut();
  assert.equal(await a.closed, 'close', 'cut closes the client side');
  const r = await dial();
  await until(() => proxy.connections === 1, 2_000, 'one relayed connection');
  proxy.reset();
  assert.equal(await r.closed, 'ECONNRESET', 'reset sends RST');
});

let bed: TestBed | undefined;
after(async () => {
  await bed?.close();
});

test('a pipe through a delay of 200 ms each way (RTT = the 400 ms heartbeat timeout) stays up: a steady delay is not silence', async (t) => {
  bed = await startTestBed();
  const { server, port } = await bed.server();
  const delayed = await startFaultProxy(port);
  bed.defer(() => delayed.close());
  const client = await bed.connectedClient(server, delayed.port, bed.pki.client1, { helloTimeoutMs: 3_000, handshakeTimeoutMs: 3_000 });
  delayed.setMode('delay', { delayMs: 200 });
  const removed = record(server, 'connection_removed');
  const t0 = performance.now();
  const r = await client.send({ verb: 'get', noun: 'time' });
  const rtt = performance.now() - t0;
  assert.equal(r.code, 0);
  await sleep(2_000);
  removed.stop();
  assert.equal(removed.items.length, 0, 'no false dead-peer');
  assert.equal(client.connects, 1, 'no reconnect');
  // About 400 ms: a steady latency, not a queue that grows behind the heartbeats.
  assert.ok(rtt >= 390 && rtt < 800, `an event's round trip took ${rtt.toFixed(0)} ms`);
  const hbRtt = client.pipe()?.rttMs ?? 0;
  assert.ok(hbRtt >= 390 && hbRtt < 800, `heartbeat RTT ${hbRtt.toFixed(0)} ms`);
  t.diagnostic(`delay 200 ms each way, heartbeat ${HEARTBEAT.heartbeatIntervalMs}/${HEARTBEAT.heartbeatTimeoutMs} ms: event RTT ${rtt.toFixed(0)} ms, heartbeat RTT ${client.pipe()?.rttMs?.toFixed(0)} ms, 0 disconnects in 2 s`);
});
