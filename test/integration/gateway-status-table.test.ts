// SPEC §4's status table, row by row, in both directions, through real gateways, a real TLS
// pipe and real HTTP requests. Every wait is bounded; nothing sleeps to synchronise.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { link, lstat, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { createClient, type RestpipeClient } from '../../src/index.js';
import { createGateway, type Gateway } from '../../src/gateway/gateway.js';
import type { Logger } from '../../src/log.js';
import { httpRequest, onceMatching, rawConnect, type HttpResult, type RequestInit } from '../helpers/gateway-http.js';
import {
  CONNECT_WAIT_MS,
  GATEWAY_EVENT_TIMEOUT_MS,
  HEARTBEAT,
  PIPE_MAX_BODY,
  deadPort,
  startNodes,
  testHandlers,
  type TestNodes,
} from '../helpers/gateway-nodes.js';

let nodes: TestNodes;
before(async () => {
  nodes = await startNodes();
});
after(async () => {
  await nodes?.close();
});

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

function assertJsonError(r: HttpResult, status: number, code: string, message?: RegExp): void {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status}: ${r.body.toString()}`);
  assert.equal(r.headers['content-type'], 'application/json');
  const body = r.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message']);
  assert.equal(body.error.code, code);
  assert.equal(typeof body.error.message, 'string');
  if (message) assert.match(body.error.message, message);
}

interface Direction {
  title: string;
  gw(): Gateway;
  /** The route prefix up to the noun. */
  prefix: string;
  /** The node whose handlers answer. */
  far: string;
  /** The node whose gateway is asked (the far side sees it as ctx.peer). */
  near: string;
}

const directions: Direction[] = [
  { title: 'client node → server (/server/NOUN)', gw: () => nodes.clientGw, prefix: '/server', far: 'server', near: 'client1' },
  { title: 'server node → client (/client/NAME/NOUN)', gw: () => nodes.serverGw, prefix: '/client/client1', far: 'client1', near: 'server' },
];

function port(gw: Gateway): number {
  return (gw.address as { port: number }).port;
}

function req(gw: Gateway, init: RequestInit): Promise<HttpResult> {
  return httpRequest({ port: port(gw) }, init);
}

for (const d of directions) {
  describe(d.title, () => {
    test('200: JSON reply; // parameters percent-decoded; query passed', async () => {
      const r = await req(d.gw(), { path: `${d.prefix}/info//hello%20/world?a=1&b=x%20y` });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.equal(r.headers['x-event-return-code'], '0');
      assert.equal(r.headers['content-length'], String(r.body.length));
      assert.deepEqual(r.json(), {
        node: d.far,
        verb: 'get',
        noun: 'info',
        params: ['hello ', 'world'],
        query: [
          ['a', '1'],
          ['b', 'x y'],
        ],
        peer: d.near,
        postData: '',
      });
    });

    test('200: every method becomes its lower-case verb', async () => {
      for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']) {
        const r = await req(d.gw(), { method, path: `${d.prefix}/info` });
        assert.equal(r.status, 200, method);
        assert.equal(r.json().verb, method.toLowerCase());
      }
    });

    test('empty // parameters and a nested noun path', async () => {
      const r = await req(d.gw(), { path: `${d.prefix}/info//a//%2F` });
      assert.deepEqual(r.json().params, ['a', '', '/']);
    });

    test('the status the handler chose; a handler-chosen return code', async () => {
      const created = await req(d.gw(), { path: `${d.prefix}/created` });
      assert.equal(created.status, 201);
      assert.deepEqual(created.json(), { created: d.far });
      assert.equal(created.headers['x-event-return-code'], '0');

      const seven = await req(d.gw(), { path: `${d.prefix}/code7` });
      assert.equal(seven.status, 200, 'the handler returned normally: any code is a 200');
      assert.equal(seven.headers['x-event-return-code'], '7');
      assert.equal(seven.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(seven.body.toString(), 'seven');
    });

    test('binary round trip: all 256 byte values, Content-Type passed both ways', async () => {
      for (const type of ['application/octet-stream', 'image/x-test; q=1']) {
        const r = await req(d.gw(), { method: 'POST', path: `${d.prefix}/echo`, headers: { 'Content-Type': type }, body: ALL_BYTES });
        assert.equal(r.status, 200);
        assert.equal(r.headers['content-type'], type);
        assert.deepEqual(r.body, ALL_BYTES);
      }
      const back = await req(d.gw(), { path: `${d.prefix}/bytes` });
      assert.equal(back.headers['content-type'], 'application/x-test-bytes');
      assert.deepEqual(back.body, Buffer.from(ALL_BYTES).reverse());
      const typed = await req(d.gw(), { path: `${d.prefix}/typed` });
      assert.equal(typed.headers['content-type'], 'text/csv; charset=utf-8');
      assert.equal(typed.body.toString(), 'a,b\n1,2\n');
    });

    test('a body and no Content-Type: bytes, and no Content-Type on the reply', async () => {
      const r = await req(d.gw(), { method: 'PUT', path: `${d.prefix}/echo`, body: 'raw' });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], undefined);
      assert.equal(r.body.toString(), 'raw');
    });

    test('a JSON body reaches the handler parsed; an empty JSON body is fine', async () => {
      const value = { a: [1, 2, { b: 'ü' }], c: null };
      const r = await req(d.gw(), {
        method: 'POST',
        path: `${d.prefix}/echo`,
        headers: { 'Content-Type': 'application/json; charset=utf-8' },
        body: JSON.stringify(value),
      });
      assert.equal(r.status, 200);
      assert.deepEqual(r.json(), value);
      const empty = await req(d.gw(), { method: 'POST', path: `${d.prefix}/echo`, headers: { 'Content-Type': 'application/json' } });
      assert.equal(empty.status, 200);
      assert.equal(empty.body.toString(), 'null');
    });

    test('404 + 255: no handler for verb and noun', async () => {
      const r = await req(d.gw(), { path: `${d.prefix}/nosuch` });
      assert.equal(r.headers['x-event-return-code'], '255');
      assertJsonError(r, 404, 'no_handler', /get_nosuch/);
      const wrongVerb = await req(d.gw(), { method: 'DELETE', path: `${d.prefix}/time` });
      assert.equal(wrongVerb.status, 404);
      assert.equal(wrongVerb.headers['x-event-return-code'], '255');
    });

    test('500 + 251: the handler threw; exactly the exception JSON', async () => {
      const r = await req(d.gw(), { path: `${d.prefix}/boom` });
      assert.equal(r.status, 500);
      assert.equal(r.headers['x-event-return-code'], '251');
      assert.equal(r.headers['content-type'], 'application/json');
      const body = r.json();
      assert.deepEqual(Object.keys(body), ['exception']);
      assert.deepEqual(Object.keys(body.exception).sort(), ['class', 'message', 'traceback']);
      assert.equal(body.exception.class, 'TypeError');
      assert.equal(body.exception.message, `boom from ${d.far}`);
      assert.equal(typeof body.exception.traceback, 'string');
      assert.match(body.exception.traceback, /boom from/);
    });

    test('a reply over the nodes’ --max-body streams through the gateway whole (v2: the gateway buffers no reply)', async () => {
      // v1 answered 413 + 252 here: the reply had to fit in one frame. In v2 the gateway streams
      // it, and --max-body limits only what a node buffers (SPEC §9).
      const r = await req(d.gw(), { path: `${d.prefix}/big//${PIPE_MAX_BODY + 1}` });
      assert.equal(r.status, 200);
      assert.equal(r.headers['x-event-return-code'], '0');
      assert.equal(r.headers['content-length'], String(PIPE_MAX_BODY + 1));
      assert.equal(r.body.length, PIPE_MAX_BODY + 1);
    });

    test('504: no reply within the event timeout; the far handler is cancelled', async () => {
      const aborted = onceMatching(nodes.probe, 'aborted', (node: string, method: string) => node === d.far && method === 'get_wait');
      const r = await req(d.gw(), { path: `${d.prefix}/wait` });
      assertJsonError(r, 504, 'event_timeout');
      assert.ok(r.elapsedMs >= GATEWAY_EVENT_TIMEOUT_MS - 5, `answered after ${r.elapsedMs} ms`);
      assert.ok(r.elapsedMs < GATEWAY_EVENT_TIMEOUT_MS + 2_000, `answered after ${r.elapsedMs} ms`);
      await aborted;
    });

    test('504 sooner with X-Event-Timeout; a longer X-Event-Timeout lets a slow handler finish', async () => {
      const aborted = onceMatching(nodes.probe, 'aborted', (node: string, method: string) => node === d.far && method === 'get_wait');
      const r = await req(d.gw(), { path: `${d.prefix}/wait`, headers: { 'X-Event-Timeout': '0.15' } });
      assertJsonError(r, 504, 'event_timeout');
      assert.ok(r.elapsedMs >= 140 && r.elapsedMs < GATEWAY_EVENT_TIMEOUT_MS, `answered after ${r.elapsedMs} ms`);
      await aborted;

      const slow = await req(d.gw(), { path: `${d.prefix}/sleep//${GATEWAY_EVENT_TIMEOUT_MS + 200}`, headers: { 'X-Event-Timeout': '5' } });
      assert.equal(slow.status, 200);
      assert.deepEqual(slow.json(), { slept: GATEWAY_EVENT_TIMEOUT_MS + 200 });
    });

    test('502: the pipe broke while the event was in flight', async () => {
      const back = nodes.reconnected();
      const r = await req(d.gw(), { path: `${d.prefix}/break` });
      assertJsonError(r, 502, 'pipe_broken');
      await back;
      const after = await req(d.gw(), { path: `${d.prefix}/time` });
      assert.equal(after.status, 200, 'the reconnected pipe serves again');
    });

    test('a caller that hangs up cancels the far handler (its ctx.signal fires)', async () => {
      const gw = d.gw();
      const started = onceMatching(nodes.probe, 'started', (node: string, method: string) => node === d.far && method === 'get_wait');
      const aborted = onceMatching<[string, string, unknown]>(nodes.probe, 'aborted', (node, method) => node === d.far && method === 'get_wait');
      const r = http.request({ host: '127.0.0.1', port: port(gw), path: `${d.prefix}/wait`, agent: false });
      r.on('error', () => {});
      r.on('response', () => assert.fail('no response expected'));
      r.end();
      await started;
      assert.equal(gw.eventsInFlight, 1);
      r.destroy();
      const [, , reason] = await aborted;
      assert.match(String((reason as Error | undefined)?.message), /cancel/);
      assert.equal(gw.eventsInFlight, 0);
    });

    test('413: Content-Length over the far side’s --max-body (buffered handler) is refused before the body is sent', async () => {
      // v1 refused at the gateway (its own --max-body); in v2 the gateway streams every body and
      // the node whose buffered handler would hold it refuses it, from the declared length.
      const calls: string[] = [];
      const onCall = (node: string, method: string): void => void calls.push(`${node}:${method}`);
      nodes.probe.on('calls', onCall);
      try {
        const c = await rawConnect(port(d.gw()));
        // Headers only: the body is never sent, so an answer proves the gateway did not wait for it.
        c.socket.write(
          `POST ${d.prefix}/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${PIPE_MAX_BODY + 1}\r\n\r\n`,
        );
        await c.waitFor(/"body_too_large"[^]*\}\}$/);
        assert.match(c.received(), /^HTTP\/1\.1 413 /);
        assert.match(c.received(), /\r\nconnection: close\r\n/i);
        assert.match(c.received(), new RegExp(`${PIPE_MAX_BODY + 1} bytes exceeds the receiving node's limit of ${PIPE_MAX_BODY}`));
        await c.closed; // and the connection is closed rather than drained

        // With Expect: 100-continue: the gateway invites the body (it has no limit of its own),
        // the far side refuses it from the declared length, the connection closes.
        const e = await rawConnect(port(d.gw()));
        e.socket.write(
          `PUT ${d.prefix}/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: ${PIPE_MAX_BODY + 1}\r\n\r\n`,
        );
        await e.waitFor(/"body_too_large"[^]*\}\}$/);
        assert.match(e.received(), /HTTP\/1\.1 413 /);
        await e.closed;
        assert.deepEqual(calls, [], 'no handler ran');
      } finally {
        nodes.probe.off('calls', onCall);
      }
    });

    test('Expect: 100-continue within the limit: invited, then served', async () => {
      const c = await rawConnect(port(d.gw()));
      c.socket.write(`POST ${d.prefix}/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n`);
      await c.waitFor(/^HTTP\/1\.1 100 Continue\r\n\r\n$/);
      c.socket.write('hello');
      await c.waitFor(/\r\n\r\nhello$/);
      assert.match(c.received(), /HTTP\/1\.1 200 OK/);
      c.socket.destroy();
    });

    test('413: a chunked body over the far side’s --max-body (buffered handler) is refused while it streams', async () => {
      const c = await rawConnect(port(d.gw()));
      c.socket.write(`POST ${d.prefix}/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n`);
      const chunk = Buffer.alloc(16 * 1024, 0x62);
      // Seventeen 16 KiB chunks pass the far side's 256 KiB limit; the terminating chunk is never sent.
      for (let i = 0; i < 17 && !c.socket.destroyed; i++) {
        c.socket.write(`${chunk.length.toString(16)}\r\n`);
        c.socket.write(chunk);
        c.socket.write('\r\n');
      }
      await c.waitFor(/"body_too_large"[^]*\}\}$/);
      assert.match(c.received(), /^HTTP\/1\.1 413 /);
      assert.match(c.received(), /\r\nconnection: close\r\n/i);
      await c.closed;
    });

    test('400: each malformed input', async () => {
      const paths = [
        `${d.prefix}/../time`,
        `${d.prefix}/%2e%2e/time`,
        `${d.prefix}/info//a/./b`,
        `${d.prefix}/info//%zz`,
        `${d.prefix}/info//%`,
        `${d.prefix}/info//%FF`,
        `${d.prefix}/ti$me`,
        `${d.prefix}/time.json`,
        `${d.prefix}/`,
      ];
      for (const path of paths) assertJsonError(await req(d.gw(), { path }), 400, 'bad_request');

      const badJson = await req(d.gw(), { method: 'POST', path: `${d.prefix}/echo`, headers: { 'Content-Type': 'application/json' }, body: '{nope' });
      assertJsonError(badJson, 400, 'bad_request', /not valid JSON/);
      const notUtf8 = await req(d.gw(), {
        method: 'POST',
        path: `${d.prefix}/echo`,
        headers: { 'Content-Type': 'application/problem+json' },
        body: Buffer.from([0x22, 0xff, 0x22]),
      });
      assertJsonError(notUtf8, 400, 'bad_request', /not valid JSON/);

      for (const value of ['abc', '0', '-1', '1e3', 'Infinity', '', '0x10', '1, 2', '9'.repeat(400)]) {
        assertJsonError(await req(d.gw(), { path: `${d.prefix}/time`, headers: { 'X-Event-Timeout': value } }), 400, 'bad_request', /X-Event-Timeout/);
      }
      // A huge but finite value is clamped, not refused.
      assert.equal((await req(d.gw(), { path: `${d.prefix}/time`, headers: { 'X-Event-Timeout': '99999999999' } })).status, 200);
    });

    test('405: methods other than the seven (with Allow)', async () => {
      for (const method of ['TRACE', 'PROPFIND']) {
        const r = await req(d.gw(), { method, path: `${d.prefix}/time` });
        assert.equal(r.status, 405, method);
        assert.equal(r.headers.allow, 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS');
        assertJsonError(r, 405, 'method_not_allowed');
      }
      const r = await req(d.gw(), { method: 'POST', path: '/healthz' });
      assertJsonError(r, 405, 'method_not_allowed');
      assert.equal(r.headers.allow, 'GET');
    });

    test('403: a Host that is not loopback, or any browser Origin', async () => {
      const p = port(d.gw());
      for (const host of ['evil.example', `evil.example:${p}`, '10.0.0.1', `localhost.evil.example:${p}`, '[::2]']) {
        assertJsonError(await req(d.gw(), { path: `${d.prefix}/time`, headers: { Host: host } }), 403, 'forbidden', /Host/);
      }
      for (const origin of ['http://evil.example', 'null', `http://127.0.0.1:${p}`]) {
        assertJsonError(await req(d.gw(), { path: `${d.prefix}/time`, headers: { Origin: origin } }), 403, 'forbidden', /origin/);
      }
      assertJsonError(await req(d.gw(), { path: '/status', headers: { Host: 'evil.example' } }), 403, 'forbidden');
      for (const host of [`localhost:${p}`, 'LOCALHOST.', `app.localhost:${p}`, `127.1.2.3:${p}`, `[::1]:${p}`, '[::1]']) {
        assert.equal((await req(d.gw(), { path: `${d.prefix}/time`, headers: { Host: host } })).status, 200, host);
      }
    });

    test('404: paths that are not routes', async () => {
      for (const path of ['/', '/nope', '/healthz/', `/${d.prefix.split('/')[1]}x/time`]) {
        assertJsonError(await req(d.gw(), { path }), 404, 'not_found');
      }
    });
  });
}

describe('client node only', () => {
  test('404 for /client/... names the prefix a client node serves', async () => {
    assertJsonError(await req(nodes.clientGw, { path: '/client/client1/time' }), 404, 'not_found', /\/server\/NOUN/);
  });

  describe('503 when there is no pipe to the server within connect-wait', () => {
    let lonely: RestpipeClient;
    let gw: Gateway;
    before(async () => {
      lonely = createClient({
        host: '127.0.0.1',
        port: await deadPort(),
        tls: nodes.pki.client2.tls,
        handlers: testHandlers('lonely', nodes.probe, () => {}),
        ...HEARTBEAT,
        connectWaitMs: CONNECT_WAIT_MS,
        reconnectMinMs: 50,
        reconnectMaxMs: 200,
      });
      lonely.start();
      gw = await createGateway({
        sender: lonely.sender,
        listen: { host: '127.0.0.1', port: 0 },
        eventTimeoutMs: GATEWAY_EVENT_TIMEOUT_MS,
      });
    });
    after(async () => {
      await gw?.close({ graceMs: 100 });
      await lonely?.close({ graceMs: 100 });
    });

    test('503 no_connection after connect-wait', async () => {
      const r = await req(gw, { path: '/server/time' });
      assertJsonError(r, 503, 'no_connection', /no pipe to the server/);
      assert.ok(r.elapsedMs >= CONNECT_WAIT_MS - 5, `answered after ${r.elapsedMs} ms`);
      assert.ok(r.elapsedMs < CONNECT_WAIT_MS + 2_000, `answered after ${r.elapsedMs} ms`);
    });

    test('/healthz is 503 with the pipe state', async () => {
      const r = await req(gw, { path: '/healthz' });
      assert.equal(r.status, 503);
      const body = r.json();
      assert.equal(body.status, 'unavailable');
      assert.ok(['connecting', 'handshaking', 'backoff'].includes(body.state), body.state);
    });

    test('/metrics is 404 when metrics are not configured', async () => {
      assertJsonError(await req(gw, { path: '/metrics' }), 404, 'not_found', /metrics/);
    });
  });
});

describe('server node only: NAME resolution', () => {
  test('404 for /server/... names the prefix the server node serves', async () => {
    assertJsonError(await req(nodes.serverGw, { path: '/server/time' }), 404, 'not_found', /\/client\/NAME\/NOUN/);
  });

  test('400 for NAME syntax', async () => {
    for (const name of ['-bad', 'a%2Fb', '.a', 'a%20b']) {
      assertJsonError(await req(nodes.serverGw, { path: `/client/${name}/time` }), 400, 'bad_request', /client name/);
    }
  });

  test('by CN, by IP address (127.0.0.1, ::ffff:127.0.0.1) and by host name (localhost)', async () => {
    for (const name of ['client1', '127.0.0.1', '[::ffff:127.0.0.1]', 'localhost']) {
      const r = await req(nodes.serverGw, { path: `/client/${name}/info` });
      assert.equal(r.status, 200, `${name}: ${r.body.toString()}`);
      assert.equal(r.json().node, 'client1', name);
    }
  });

  test('503 after connect-wait: an unknown CN, an IP without a client, a name that does not resolve', async () => {
    for (const name of ['nobody', '10.255.255.1', 'no-such-host.invalid']) {
      const r = await req(nodes.serverGw, { path: `/client/${name}/time` });
      assertJsonError(r, 503, 'no_connection', new RegExp(`'${name.replace(/\./g, '\\.')}'`));
      assert.ok(r.elapsedMs >= CONNECT_WAIT_MS - 5, `${name}: answered after ${r.elapsedMs} ms`);
    }
  });

  test('several clients behind one address: 400 naming them; each still reachable by CN', async () => {
    const client2 = await nodes.addClient(nodes.pki.client2);
    try {
      for (const name of ['127.0.0.1', 'localhost']) {
        assertJsonError(await req(nodes.serverGw, { path: `/client/${name}/time` }), 400, 'bad_request', /client1, client2/);
      }
      assert.equal((await req(nodes.serverGw, { path: '/client/client2/info' })).json().node, 'client2');
      assert.equal((await req(nodes.serverGw, { path: '/client/client1/info' })).json().node, 'client1');
    } finally {
      const gone = onceMatching(nodes.server, 'connection_removed', (n: string) => n === 'client2');
      await client2.close({ graceMs: 100 });
      await gone;
    }
    assert.equal((await req(nodes.serverGw, { path: '/client/127.0.0.1/info' })).json().node, 'client1');
  });

  test('a client connecting within connect-wait is served', async () => {
    const pending = req(nodes.serverGw, { path: '/client/client2/info', headers: { 'X-Event-Timeout': '5' } });
    const client2 = await nodes.addClient(nodes.pki.client2);
    try {
      const r = await pending;
      assert.equal(r.status, 200);
      assert.equal(r.json().node, 'client2');
    } finally {
      await client2.close({ graceMs: 100 });
    }
  });
});

describe('GET /healthz, /status, /metrics', () => {
  test('/healthz is 200 {"status":"ok"} on both nodes', async () => {
    for (const gw of [nodes.serverGw, nodes.clientGw]) {
      const r = await req(gw, { path: '/healthz' });
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-type'], 'application/json');
      assert.deepEqual(r.json(), { status: 'ok' });
    }
  });

  test('/status on the server: role, identity, state, clients with name, address, connected-since, in-flight', async () => {
    const r = await req(nodes.serverGw, { path: '/status' });
    assert.equal(r.status, 200);
    const s = r.json();
    assert.equal(s.role, 'server');
    assert.equal(s.name, 'server');
    assert.equal(s.state, 'listening');
    const c = s.clients.find((x: { name: string }) => x.name === 'client1');
    assert.ok(c, JSON.stringify(s.clients));
    assert.equal(c.address, '127.0.0.1');
    assert.ok(!Number.isNaN(Date.parse(c.connectedSince)));
    assert.deepEqual(c.inFlight, { outbound: 0, inbound: 0 });
    assert.deepEqual(s.gateway.address, nodes.serverGw.address);
    assert.equal(s.gateway.eventsInFlight, 0);
    assert.equal(s.gateway.requestsInFlight, 0);
  });

  test('/status on a client: role, identity, pipe state, in-flight', async () => {
    const s = (await req(nodes.clientGw, { path: '/status' })).json();
    assert.equal(s.role, 'client');
    assert.equal(s.name, 'client1');
    assert.equal(s.state, 'ready');
    assert.equal(s.serverName, 'server');
    assert.deepEqual(s.inFlight, { outbound: 0, inbound: 0 });
  });

  test('/status counts events in flight', async () => {
    const started = onceMatching(nodes.probe, 'started', (node: string, method: string) => node === 'server' && method === 'get_wait');
    const pending = req(nodes.clientGw, { path: '/server/wait', headers: { 'X-Event-Timeout': '2' } });
    await started;
    const s = (await req(nodes.clientGw, { path: '/status' })).json();
    assert.equal(s.gateway.eventsInFlight, 1);
    assert.equal(s.inFlight.outbound, 1);
    const sv = (await req(nodes.serverGw, { path: '/status' })).json();
    assert.equal(sv.clients.find((x: { name: string }) => x.name === 'client1').inFlight.inbound, 1);
    assert.equal((await pending).status, 504);
  });

  test('/metrics is Prometheus text with restpipe metrics', async () => {
    const server = await req(nodes.serverGw, { path: '/metrics' });
    assert.equal(server.status, 200);
    assert.match(String(server.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = server.body.toString();
    assert.match(text, /^restpipe_up 1$/m);
    assert.match(text, /^restpipe_connected_clients 1$/m);
    assert.match(text, /^restpipe_events_total\{direction="outbound",outcome="ok"\} [1-9]\d*$/m);
    assert.match(text, /^restpipe_events_total\{direction="inbound",outcome="handler_error"\} [1-9]\d*$/m);
    assert.match(text, /^restpipe_event_duration_seconds_bucket\{le="0\.0001",direction="outbound"\} \d+$/m);
    assert.match(text, /^restpipe_pipes_opened_total [1-9]/m);
    assert.match(text, /^process_cpu_user_seconds_total /m, 'Node default metrics');

    const client = (await req(nodes.clientGw, { path: '/metrics' })).body.toString();
    assert.match(client, /^restpipe_up 1$/m);
    assert.match(client, /^restpipe_dials_total\{outcome="connected"\} [1-9]/m);
    assert.match(client, /^restpipe_reconnects_total [1-9]/m, 'the 502 tests cut the pipe');
    assert.doesNotMatch(client, /restpipe_connected_clients/);
  });
});

describe('Host and Origin allow-lists', () => {
  test('allowed hosts and origins pass; others are still refused', async () => {
    const gw = await nodes.addGateway('client', { allowedHosts: ['myhost.example', 'other.example:8080'], allowedOrigins: ['http://app.example'] });
    const ok = async (headers: Record<string, string>): Promise<number> => (await req(gw, { path: '/server/time', headers })).status;
    assert.equal(await ok({ Host: 'myhost.example' }), 200);
    assert.equal(await ok({ Host: 'MyHost.Example:1234' }), 200, 'an entry without a port matches any port');
    assert.equal(await ok({ Host: 'other.example:8080' }), 200);
    assert.equal(await ok({ Host: 'other.example:8081' }), 403);
    assert.equal(await ok({ Host: 'evil.example' }), 403);
    assert.equal(await ok({ Origin: 'http://app.example' }), 200);
    assert.equal(await ok({ Origin: 'http://evil.example' }), 403);

    const any = await nodes.addGateway('client', { allowedHosts: ['*'], allowedOrigins: ['*'] });
    assert.equal((await req(any, { path: '/server/time', headers: { Host: 'anything.example', Origin: 'https://x.example' } })).status, 200);
  });
});

describe('listen addresses', () => {
  test('a non-loopback TCP address is refused unless allowed, and then warned about', async () => {
    const base = {
      sender: nodes.client.sender,
      maxBodyBytes: 1024,
      eventTimeoutMs: 1000,
    };
    for (const host of ['0.0.0.0', '::', '10.1.2.3']) {
      await assert.rejects(createGateway({ ...base, listen: { host, port: 0 } }), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'invalid_option');
        assert.match(err.message, /not loopback/);
        return true;
      });
    }
    const warnings: string[] = [];
    const logger: Logger = {
      error() {},
      warn: (_o, msg) => void warnings.push(msg ?? ''),
      info() {},
      debug() {},
      child: () => logger,
      isLevelEnabled: () => false,
    };
    const gw = await createGateway({ ...base, listen: { host: '0.0.0.0', port: 0 }, allowNonLoopback: true, logger });
    try {
      assert.match(warnings.join('\n'), /not loopback/);
      assert.equal((gw.address as { host: string }).host, '0.0.0.0');
    } finally {
      await gw.close();
    }
    const v6 = await createGateway({ ...base, listen: { host: '::1', port: 0 } }).catch((err: Error & { code?: string }) => err);
    if (!(v6 instanceof Error)) await v6.close(); // ::1 is loopback (where IPv6 exists)
    else assert.notEqual(v6.code, 'invalid_option');
  });

  describe('unix socket gateway', () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'restpipe-gw-'));
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    test('serves events, skips Host/Origin checks, mode 0660, replaces a stale socket, unlinks on close', async () => {
      const path = join(dir, 'gw.sock');
      // A stale socket file: a listener's socket hard-linked to the path, then closed.
      const old = net.createServer();
      await new Promise<void>((resolve) => old.listen(join(dir, 'old.sock'), resolve));
      await link(join(dir, 'old.sock'), path);
      await new Promise<void>((resolve) => old.close(() => resolve()));
      assert.ok((await lstat(path)).isSocket());

      const gw = await nodes.addGateway('client', { listen: { path } });
      assert.deepEqual(gw.address, { path });
      assert.equal((await stat(path)).mode & 0o777, 0o660);
      const r = await httpRequest({ socketPath: path }, { path: '/server/info//x', headers: { Host: 'evil.example', Origin: 'http://evil.example' } });
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(r.json().node, 'server');
      assert.equal((await httpRequest({ socketPath: path }, { path: '/healthz' })).status, 200);

      // A live socket is never taken over.
      await assert.rejects(
        createGateway({ sender: nodes.client.sender, listen: { path }, maxBodyBytes: 1024, eventTimeoutMs: 1000 }),
        (err: Error & { code?: string }) => err.code === 'invalid_option' && /in use/.test(err.message),
      );
      await gw.close();
      assert.equal(existsSync(path), false, 'socket file removed on close');
    });

    test('a path that is not a socket is never deleted', async () => {
      const path = join(dir, 'not-a-socket');
      await writeFile(path, 'precious');
      await assert.rejects(
        createGateway({ sender: nodes.client.sender, listen: { path }, maxBodyBytes: 1024, eventTimeoutMs: 1000 }),
        (err: Error & { code?: string }) => err.code === 'invalid_option' && /not a socket/.test(err.message),
      );
      assert.ok(existsSync(path));
    });
  });
});
