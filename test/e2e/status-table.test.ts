// SPEC §4's status table over real processes: a `restpipe server` and `restpipe client` started
// from the CLI with the e2e handlers (test/fixtures/e2e-handlers.js) and short timings, every
// row checked through the real gateways and the real TLS pipe, both directions where it makes
// sense. The 502 rows kill a process mid-event, so they come last.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { httpRequest, type HttpResult, type RequestInit } from '../helpers/gateway-http.js';
import { makePki, type Pki } from '../helpers/pki.js';
import {
  E2E_HANDLERS,
  FAST_FLAGS,
  handlerStarted,
  killAll,
  startClient,
  startServer,
  startedCount,
  type StartedClient,
  type StartedServer,
} from '../helpers/cli-processes.js';

const COMMON = ['--handlers', E2E_HANDLERS, ...FAST_FLAGS, '--max-body', '64KiB'];
const EVENT_TIMEOUT_MS = 1_500;
const CONNECT_WAIT_MS = 500;

let pki: Pki;
let server: StartedServer;
let client: StartedClient;

/** A request through the client's gateway (to the server) or the server's (to client1). */
type Direction = { name: string; send: (init: RequestInit) => Promise<HttpResult>; prefix: string; far: 'server' | 'client' };
const toServer: Direction = {
  name: 'client → server',
  send: (init) => httpRequest({ port: client.gateway!.port }, init),
  prefix: '/server/',
  far: 'server',
};
const toClient: Direction = {
  name: 'server → client',
  send: (init) => httpRequest({ port: server.gateway!.port }, init),
  prefix: '/client/client1/',
  far: 'client',
};
const BOTH = [toServer, toClient];

before(async () => {
  pki = await makePki();
  server = await startServer(await pki.certDir('server', pki.server), COMMON);
  client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, COMMON);
});

after(async () => {
  await killAll();
  await pki?.cleanup();
});

function jsonError(res: HttpResult): { code: string; message: string } {
  assert.match(String(res.headers['content-type']), /^application\/json/);
  const body = res.json() as { error?: { code?: unknown; message?: unknown } };
  assert.equal(typeof body.error?.code, 'string', res.body.toString());
  assert.equal(typeof body.error?.message, 'string', res.body.toString());
  return body.error as { code: string; message: string };
}

for (const d of BOTH) {
  describe(d.name, () => {
    test('handler succeeded: 200, return code 0, the data', async () => {
      const res = await d.send({ path: `${d.prefix}time` });
      assert.equal(res.status, 200);
      assert.equal(res.headers['x-event-return-code'], '0');
      assert.equal(typeof res.json()[`time_from_${d.far}`], 'number');
      const cat = await d.send({ path: `${d.prefix}cat//hello%20/world?x=1` });
      assert.deepEqual(cat.json(), { [`result_from_${d.far}`]: 'hello world' });
    });

    test('the status the handler chose', async () => {
      for (const status of [201, 202, 418]) {
        const res = await d.send({ path: `${d.prefix}status//${status}` });
        assert.equal(res.status, status);
        assert.equal(res.headers['x-event-return-code'], '0');
        assert.deepEqual(res.json(), { chosen: status, from: d.far });
      }
      const tuple = await d.send({ path: `${d.prefix}code7` });
      assert.equal(tuple.status, 200);
      assert.equal(tuple.headers['x-event-return-code'], '7');
      assert.equal(tuple.headers['content-type'], 'text/plain; charset=utf-8');
      assert.equal(tuple.body.toString(), 'seven');
    });

    test('a binary body goes through unchanged, both ways', async () => {
      const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7 + 3) % 256));
      const res = await d.send({ method: 'POST', path: `${d.prefix}echo`, headers: { 'content-type': 'application/x-test' }, body: bytes });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/x-test');
      assert.ok(res.body.equals(bytes));
    });

    test('no handler: 404, return code 255, JSON error', async () => {
      const res = await d.send({ path: `${d.prefix}nosuchthing`, method: 'PUT' });
      assert.equal(res.status, 404);
      assert.equal(res.headers['x-event-return-code'], '255');
      assert.equal(jsonError(res).code, 'no_handler');
    });

    test('handler threw: 500, return code 251, the original’s exception body', async () => {
      const res = await d.send({ path: `${d.prefix}boom` });
      assert.equal(res.status, 500);
      assert.equal(res.headers['x-event-return-code'], '251');
      const { exception } = res.json() as { exception: { message: string; traceback: string; class: string } };
      assert.deepEqual(Object.keys(exception).sort(), ['class', 'message', 'traceback']);
      assert.equal(exception.class, 'TypeError');
      assert.equal(exception.message, `boom from the ${d.far}`);
      assert.match(exception.traceback, /TypeError: boom/);
    });

    test('no reply within --event-timeout: 504; X-Event-Timeout shortens it; a bad one is 400', async () => {
      const res = await d.send({ path: `${d.prefix}never` });
      assert.equal(res.status, 504);
      assert.equal(jsonError(res).code, 'event_timeout');
      assert.ok(res.elapsedMs >= EVENT_TIMEOUT_MS - 50 && res.elapsedMs < EVENT_TIMEOUT_MS + 3_000, `took ${res.elapsedMs} ms`);
      const short = await d.send({ path: `${d.prefix}never`, headers: { 'x-event-timeout': '0.3' } });
      assert.equal(short.status, 504);
      assert.ok(short.elapsedMs >= 250 && short.elapsedMs < 1_400, `took ${short.elapsedMs} ms`);
      const slowOk = await d.send({ path: `${d.prefix}sleep//300`, headers: { 'x-event-timeout': '5' } });
      assert.equal(slowOk.status, 200);
      for (const bad of ['abc', '-1', '0', '1e3']) {
        const r = await d.send({ path: `${d.prefix}time`, headers: { 'x-event-timeout': bad } });
        assert.equal(r.status, 400, `X-Event-Timeout: ${bad}`);
        assert.equal(jsonError(r).code, 'bad_request');
      }
    });

    test('a body over the far node’s --max-body (a buffered handler): 413; a reply over it streams through whole (v2)', async () => {
      const res = await d.send({ method: 'POST', path: `${d.prefix}echo`, headers: { 'content-type': 'application/octet-stream' }, body: Buffer.alloc(100 * 1024) });
      assert.equal(res.status, 413);
      assert.equal(jsonError(res).code, 'body_too_large');
      // v1 answered 413 + 252: a reply had to fit in one frame. The v2 gateway streams it.
      const reply = await d.send({ path: `${d.prefix}big//${100 * 1024}` });
      assert.equal(reply.status, 200);
      assert.equal(reply.headers['x-event-return-code'], '0');
      assert.equal(reply.body.length, 100 * 1024);
    });

    test('malformed requests: 400', async () => {
      for (const path of [`${d.prefix}cat//%zz`, `${d.prefix}a.b`, `${d.prefix}..%2f..`, `${d.prefix}`]) {
        const res = await d.send({ path });
        assert.equal(res.status, 400, path);
        assert.equal(jsonError(res).code, 'bad_request', path);
      }
      const json = await d.send({ method: 'POST', path: `${d.prefix}echo`, headers: { 'content-type': 'application/json' }, body: '{"unterminated' });
      assert.equal(json.status, 400);
      assert.match(jsonError(json).message, /not valid JSON/);
    });

    test('a method other than the seven: 405 with Allow', async () => {
      const res = await d.send({ method: 'PROPFIND', path: `${d.prefix}time` });
      assert.equal(res.status, 405);
      assert.equal(res.headers['allow'], 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS');
      assert.equal(jsonError(res).code, 'method_not_allowed');
    });

    test('a foreign Host or a browser Origin: 403', async () => {
      const host = await d.send({ path: `${d.prefix}time`, headers: { host: 'evil.example' } });
      assert.equal(host.status, 403);
      assert.equal(jsonError(host).code, 'forbidden');
      const origin = await d.send({ path: `${d.prefix}time`, headers: { origin: 'http://evil.example' } });
      assert.equal(origin.status, 403);
      const loopback = await d.send({ path: `${d.prefix}time`, headers: { host: `localhost:${server.gateway!.port}` } });
      assert.equal(loopback.status, 200);
    });
  });
}

test('server → a client that is not connected: 503 after --connect-wait', async () => {
  const res = await toClient.send({ path: '/client/nosuchclient/time' });
  assert.equal(res.status, 503);
  assert.equal(jsonError(res).code, 'no_connection');
  assert.ok(res.elapsedMs >= CONNECT_WAIT_MS - 50 && res.elapsedMs < CONNECT_WAIT_MS + 3_000, `took ${res.elapsedMs} ms`);
});

test('client → a server that is not there: 503 after --connect-wait', async () => {
  // Port 1: nothing listens there (a privileged port no test binds), so every dial is refused.
  const lonely = await startClient(await pki.certDir('client', pki.client2), 1, COMMON, { ready: false });
  try {
    const res = await httpRequest({ port: lonely.gateway!.port }, { path: '/server/time' });
    assert.equal(res.status, 503);
    assert.equal(jsonError(res).code, 'no_connection');
    assert.ok(res.elapsedMs >= CONNECT_WAIT_MS - 50, `took ${res.elapsedMs} ms`);
  } finally {
    await lonely.proc.kill();
  }
});

test('the far process is killed mid-event: 502 (server → client)', async () => {
  const started = startedCount(client.proc, 'get_never');
  const pending = toClient.send({ path: '/client/client1/never', headers: { 'x-event-timeout': '20' }, timeoutMs: 20_000 });
  await handlerStarted(client.proc, 'get_never', started + 1);
  client.proc.signal('SIGKILL');
  const res = await pending;
  assert.equal(res.status, 502);
  assert.equal(jsonError(res).code, 'pipe_broken');
  assert.ok(res.elapsedMs < 5_000, `took ${res.elapsedMs} ms`);
});

test('the far process is killed mid-event: 502 (client → server)', async () => {
  const other = await startClient(await pki.certDir('client', pki.client2), server.pipePort, COMMON);
  const started = startedCount(server.proc, 'get_never');
  const pending = httpRequest({ port: other.gateway!.port }, { path: '/server/never', headers: { 'x-event-timeout': '20' }, timeoutMs: 20_000 });
  await handlerStarted(server.proc, 'get_never', started + 1);
  server.proc.signal('SIGKILL');
  const res = await pending;
  assert.equal(res.status, 502);
  assert.equal(jsonError(res).code, 'pipe_broken');
  assert.ok(res.elapsedMs < 5_000, `took ${res.elapsedMs} ms`);
});
