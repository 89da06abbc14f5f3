// The gateway's connection handling: close with grace, keep-alive, timeouts against stalled
// callers, Node's own limits, pipelining. Real sockets, bounded waits, no sleeps.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import type { Gateway } from '../../src/gateway/gateway.js';
import { httpRequest, onceMatching, rawConnect } from '../helpers/gateway-http.js';
import { startNodes, type TestNodes } from '../helpers/gateway-nodes.js';

let nodes: TestNodes;
before(async () => {
  nodes = await startNodes();
});
after(async () => {
  await nodes?.close();
});

function port(gw: Gateway): number {
  return (gw.address as { port: number }).port;
}

const started = (method: string): Promise<unknown> =>
  onceMatching(nodes.probe, 'started', (node: string, m: string) => node === 'server' && m === method);
const aborted = (method: string): Promise<unknown> =>
  onceMatching(nodes.probe, 'aborted', (node: string, m: string) => node === 'server' && m === method);

describe('close({ graceMs })', () => {
  test('in-flight requests finish; no new connections; idle keep-alive connections close at once', async () => {
    const gw = await nodes.addGateway('client', {});
    const p = port(gw);
    // An idle keep-alive connection: one request answered, the socket left open.
    const idle = await rawConnect(p);
    idle.socket.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await idle.waitFor(/\{"status":"ok"\}$/);

    const inFlightStarted = started('get_sleep');
    const inFlight = httpRequest({ port: p }, { path: '/server/sleep//300', headers: { 'X-Event-Timeout': '5' } });
    await inFlightStarted;

    const t0 = performance.now();
    const closing = gw.close({ graceMs: 5_000 });
    await idle.closed;
    assert.ok(performance.now() - t0 < 250, 'the idle connection was closed without waiting for the grace period');
    await assert.rejects(httpRequest({ port: p }, { path: '/healthz', timeoutMs: 2_000 }), /ECONNREFUSED/);

    const r = await inFlight;
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { slept: 300 });
    assert.equal(r.headers.connection, 'close', 'answers during close end their connection');
    await closing;
    assert.ok(performance.now() - t0 < 2_000, 'close returned once the last request finished');
    assert.equal(gw.inFlight, 0);
  });

  test('after the grace period: 503 closed, and the far handler is cancelled', async () => {
    const gw = await nodes.addGateway('client', {});
    const isStarted = started('get_wait');
    const isAborted = aborted('get_wait');
    const pending = httpRequest({ port: port(gw) }, { path: '/server/wait', headers: { 'X-Event-Timeout': '30' } });
    await isStarted;
    const t0 = performance.now();
    await gw.close({ graceMs: 150 });
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 140 && elapsed < 2_000, `close took ${elapsed} ms`);
    const r = await pending;
    assert.equal(r.status, 503);
    assert.equal(r.json().error.code, 'closed');
    await isAborted;
    assert.equal(gw.inFlight, 0);
    assert.equal(gw.eventsInFlight, 0);
  });

  test('close is idempotent', async () => {
    const gw = await nodes.addGateway('server', {});
    await Promise.all([gw.close(), gw.close()]);
    await gw.close();
  });
});

describe('stalled and oversized callers', () => {
  test('slow headers are cut off by headersTimeout', async () => {
    const gw = await nodes.addGateway('client', { headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const c = await rawConnect(port(gw));
    const t0 = performance.now();
    c.socket.write('GET /server/time HTTP/1.1\r\nHost: 127');
    await c.closed;
    const elapsed = performance.now() - t0;
    assert.ok(elapsed >= 150 && elapsed < 2_000, `closed after ${elapsed} ms`);
    assert.match(c.received(), /^HTTP\/1\.1 408 /);
  });

  test('a slow body is cut off by requestTimeout; no event is sent', async () => {
    const gw = await nodes.addGateway('client', { headersTimeoutMs: 200, requestTimeoutMs: 400 });
    const calls: string[] = [];
    const onCall = (node: string, method: string): void => void calls.push(`${node}:${method}`);
    nodes.probe.on('calls', onCall);
    try {
      const c = await rawConnect(port(gw));
      const t0 = performance.now();
      c.socket.write('POST /server/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nonly a little');
      await c.closed;
      const elapsed = performance.now() - t0;
      assert.ok(elapsed >= 350 && elapsed < 3_000, `closed after ${elapsed} ms`);
      assert.match(c.received(), /^HTTP\/1\.1 408 /);
      assert.deepEqual(calls, []);
      assert.equal(gw.inFlight, 0);
      assert.equal(gw.eventsInFlight, 0);
    } finally {
      nodes.probe.off('calls', onCall);
    }
  });

  test('oversized headers get Node’s 431', async () => {
    const r = await httpRequest({ port: port(nodes.clientGw) }, { path: '/server/time', headers: { 'X-Big': 'x'.repeat(20_000) } });
    assert.equal(r.status, 431);
  });

  test('an idle keep-alive connection is closed after keepAliveTimeout', async () => {
    const gw = await nodes.addGateway('client', { keepAliveTimeoutMs: 200 });
    const c = await rawConnect(port(gw));
    c.socket.write('GET /server/time HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    await c.waitFor(/time_from_server/);
    const t0 = performance.now();
    await c.closed;
    const elapsed = performance.now() - t0;
    assert.ok(elapsed < 2_000, `closed after ${elapsed} ms`);
  });
});

describe('keep-alive and pipelining', () => {
  test('several requests on one connection, answered in order', async () => {
    const c = await rawConnect(port(nodes.clientGw));
    c.socket.write(
      'GET /server/info//1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' +
        'POST /server/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nabc' +
        'GET /server/info//3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n',
    );
    await c.waitFor(/"params":\["3"\][^]*$/);
    const text = c.received();
    const one = text.indexOf('"params":["1"]');
    const two = text.indexOf('\r\n\r\nabc');
    const three = text.indexOf('"params":["3"]');
    assert.ok(one !== -1 && one < two && two < three, text);
    c.socket.destroy();
  });

  test('a pipelined request behind one whose caller left is cancelled and counted out too', async () => {
    const gw = await nodes.addGateway('client', {});
    const bothStarted = Promise.all([started('get_wait'), started('get_sleep')]);
    const firstAborted = aborted('get_wait');
    const secondAborted = aborted('get_sleep');
    const c = await rawConnect(port(gw));
    c.socket.write(
      'GET /server/wait HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Event-Timeout: 30\r\n\r\n' +
        'GET /server/sleep//20000 HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Event-Timeout: 30\r\n\r\n',
    );
    await bothStarted;
    assert.equal(gw.eventsInFlight, 2);
    c.socket.destroy();
    await firstAborted;
    await secondAborted;
    // Both calls end with the connection: Node never emits 'close' for a queued response,
    // which would otherwise stay until its event timed out (30 s here).
    assert.equal(gw.inFlight, 0);
    assert.equal(gw.eventsInFlight, 0);
    const s = (await httpRequest({ port: port(nodes.clientGw) }, { path: '/status' })).json();
    assert.equal(s.inFlight.outbound, 0, 'the queued event was cancelled on the pipe as well');
  });
});

test('the gateway keeps no state per finished request', async () => {
  const gw = nodes.clientGw;
  const before = gw.requests;
  await Promise.all(Array.from({ length: 50 }, (_, i) => httpRequest({ port: port(gw) }, { path: `/server/info//${i}` })));
  assert.equal(gw.requests - before, 50);
  assert.equal(gw.inFlight, 0);
  assert.equal(gw.eventsInFlight, 0);
});
