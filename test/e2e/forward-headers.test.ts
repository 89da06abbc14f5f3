// Forwarding (issue 12, SPEC §10): what the upstream receives and what the caller gets back.
// The caller uses the server's gateway; client1 forwards `up` to the upstream fixture, which
// answers with exactly what arrived (method, raw request target, raw headers).
//   - hop-by-hop headers are dropped both ways, with every header the Connection header names
//   - Host is the upstream's; X-Forwarded-Host / -Proto / -For and X-Restpipe-Peer are set, and a
//     caller cannot pass its own X-Restpipe-Peer off as the peer's
//   - the rest of the noun and the query arrive byte for byte (`%2F` stays `%2F`); dot segments
//     are refused with 400 before anything is sent
//   - every gateway method reaches the upstream as itself
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { upstreamForwardBed } from '../helpers/forward.js';
import { httpRequest } from '../helpers/gateway-http.js';

const bed = upstreamForwardBed();

interface Echo {
  method: string;
  url: string;
  rawHeaders: string[];
  bodyBytes: number;
}

/** The upstream's view of one request: its headers by lower-case name, every value kept. */
function headersOf(echo: Echo): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i < echo.rawHeaders.length; i += 2) {
    const name = echo.rawHeaders[i]!.toLowerCase();
    m.set(name, [...(m.get(name) ?? []), echo.rawHeaders[i + 1]!]);
  }
  return m;
}

const gw = (): { port: number } => ({ port: bed.pair.gatewayPort });

test('hop-by-hop request headers are dropped (and every header Connection names); the others pass', async () => {
  const res = await httpRequest(gw(), {
    method: 'POST',
    path: '/client/client1/up/echo',
    headers: {
      Connection: 'keep-alive, X-Hop-Custom',
      'X-Hop-Custom': 'must not pass',
      'Keep-Alive': 'timeout=5, max=100',
      TE: 'trailers',
      Trailer: 'X-Checksum',
      'Proxy-Authorization': 'Basic c2VjcmV0OnNlY3JldA==',
      'Proxy-Connection': 'keep-alive',
      'X-Kept': 'yes',
      Authorization: 'Bearer end-to-end',
      'Content-Type': 'text/plain',
    },
    body: 'twelve bytes',
  });
  assert.equal(res.status, 200, res.body.toString());
  const echo = res.json() as Echo;
  const h = headersOf(echo);
  for (const name of ['x-hop-custom', 'keep-alive', 'te', 'trailer', 'proxy-authorization', 'proxy-connection']) {
    assert.equal(h.get(name), undefined, `${name} reached the upstream: ${JSON.stringify(echo.rawHeaders)}`);
  }
  for (const v of h.get('connection') ?? []) assert.doesNotMatch(v, /x-hop-custom/i, 'the Connection header the upstream got names the caller’s hop header');
  assert.deepEqual(h.get('x-kept'), ['yes']);
  assert.deepEqual(h.get('authorization'), ['Bearer end-to-end']);
  assert.deepEqual(h.get('content-type'), ['text/plain']);
  assert.equal(echo.method, 'POST');
  assert.equal(echo.bodyBytes, 12);
});

test('hop-by-hop response headers are dropped; the others pass, and Content-Length is kept', async () => {
  const res = await httpRequest(gw(), { path: '/client/client1/up/echo' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-upstream-kept'], 'passes');
  assert.equal(res.headers['x-upstream-hop'], undefined, JSON.stringify(res.headers));
  assert.equal(res.headers['proxy-authenticate'], undefined);
  assert.equal(res.headers['upgrade'], undefined);
  // The gateway's own connection may carry its own Keep-Alive; not the upstream's.
  assert.notEqual(res.headers['keep-alive'], 'timeout=30');
  assert.doesNotMatch(String(res.headers['connection'] ?? ''), /x-upstream-hop/i);
  assert.equal(res.headers['content-type'], 'application/json');
  assert.equal(res.headers['content-length'], String(res.body.length));
});

test('Host is the upstream’s; X-Forwarded-Host, -Proto, -For and X-Restpipe-Peer are set', async () => {
  const res = await httpRequest(gw(), { path: '/client/client1/up/echo/who' });
  assert.equal(res.status, 200);
  const h = headersOf(res.json() as Echo);
  assert.deepEqual(h.get('host'), [`127.0.0.1:${bed.upstream.port}`]);
  assert.deepEqual(h.get('x-forwarded-host'), [`127.0.0.1:${bed.pair.gatewayPort}`]);
  assert.deepEqual(h.get('x-forwarded-proto'), ['http']);
  assert.deepEqual(h.get('x-forwarded-for'), ['127.0.0.1']);
  // The calling node is the server (CN server); the client forwards on its behalf.
  assert.deepEqual(h.get('x-restpipe-peer'), ['server']);
});

test('X-Forwarded-For is appended to; a caller’s own X-Restpipe-Peer does not pass for the peer', async () => {
  const res = await httpRequest(gw(), {
    path: '/client/client1/up/echo/spoof',
    headers: { 'X-Forwarded-For': '203.0.113.7', 'X-Restpipe-Peer': 'admin' },
  });
  assert.equal(res.status, 200);
  const h = headersOf(res.json() as Echo);
  assert.deepEqual(h.get('x-forwarded-for'), ['203.0.113.7, 127.0.0.1']);
  assert.deepEqual(h.get('x-restpipe-peer'), ['server']);
});

test('the rest of the noun and the query arrive byte for byte (percent-encoding kept)', async () => {
  const cases = [
    ['echo/a%2Fb%20c', '/echo/a%2Fb%20c'],
    ['echo/a%2Fb%20c?x=%2F&y=1%20%2B&z', '/echo/a%2Fb%20c?x=%2F&y=1%20%2B&z'],
    ['echo/v1.2/~user/a:b@c/%C3%A9/x%2520y', '/echo/v1.2/~user/a:b@c/%C3%A9/x%2520y'],
    ["echo/sub-delims/!$&'()*+,;=", "/echo/sub-delims/!$&'()*+,;="],
    ['echo/%7e%2f%41', '/echo/%7e%2f%41'],
  ] as const;
  for (const [rest, expected] of cases) {
    const res = await httpRequest(gw(), { path: `/client/client1/up/${rest}` });
    assert.equal(res.status, 200, `${rest}: ${res.body.toString()}`);
    assert.equal((res.json() as Echo).url, expected, rest);
  }
});

test('dot segments in the rest of the noun are 400, and nothing reaches the upstream', async () => {
  for (const rest of ['echo/../n/escaped', 'echo/./n/escaped', 'echo/%2e%2e/n/escaped', 'echo/%2E/n/escaped', 'echo/.%2e/n/escaped', '../up/n/escaped']) {
    const res = await httpRequest(gw(), { path: `/client/client1/up/${rest}` });
    assert.equal(res.status, 400, `${rest}: ${res.status} ${res.body.toString()}`);
    assert.equal(typeof res.json().error?.code, 'string', res.body.toString());
  }
  // /n/K counts every request it gets: none of the refused ones arrived.
  const counts = await httpRequest({ port: bed.upstream.port }, { path: '/counts' });
  assert.deepEqual(counts.json(), {});
});

test('every gateway method reaches the upstream as itself', async () => {
  for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
    // A body on the methods that usually carry one (Node's client would send a DELETE's unframed).
    const body = ['POST', 'PUT', 'PATCH'].includes(method) ? { body: 'x' } : {};
    const res = await httpRequest(gw(), { method, path: '/client/client1/up/echo/m', ...body });
    assert.equal(res.status, 200, `${method}: ${res.body.toString()}`);
    assert.equal((res.json() as Echo).method, method);
  }
  const head = await httpRequest(gw(), { method: 'HEAD', path: '/client/client1/up/echo/m' });
  assert.equal(head.status, 200);
  assert.equal(head.body.length, 0);
  assert.ok(Number(head.headers['content-length']) > 0, JSON.stringify(head.headers));
});
