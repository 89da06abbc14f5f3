// Forwarding (SPEC §10) through a real pipe and a real gateway, against a Node HTTP upstream that
// echoes what it received: the path and query as sent, headers both ways, HEAD, statuses passed
// through, failures (502, 504), the access check before the forward, and a noun no forward takes.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

import { createGateway, ReturnCode, type Gateway, type RestpipeClient, type RestpipeServer } from 'restpipe';
import { startTestBed, type TestBed } from '../helpers/nodes.js';

/** What the upstream saw of a request. */
interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  bytes: number;
}

const FORWARD_TIMEOUT_MS = 400;

let bed: TestBed;
let upstream: http.Server;
let upstreamPort: number;
let server: RestpipeServer;
let client: RestpipeClient;
let gateway: Gateway;
let silentSockets: Set<import('node:net').Socket>;

before(async () => {
  silentSockets = new Set();
  upstream = http.createServer((req, res) => {
    if (req.url!.startsWith('/never')) {
      silentSockets.add(req.socket);
      return; // no response head: the forward's timeout answers
    }
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.byteLength));
    req.on('end', () => {
      const seen: Seen = { method: req.method!, url: req.url!, headers: req.headers, bytes };
      const body = JSON.stringify(seen);
      const status = req.url!.includes('/missing') ? 404 : 200;
      res.writeHead(status, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(body),
        ETag: '"v1"',
        'X-Length': Buffer.byteLength(body),
        'X-Upstream': 'yes',
        // Hop-by-hop: must not reach the caller.
        Connection: 'keep-alive, X-Hop',
        'X-Hop': 'secret',
        'Keep-Alive': 'timeout=5',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamPort = (upstream.address() as AddressInfo).port;
  bed = await startTestBed();
  const forward = {
    files: `http://127.0.0.1:${upstreamPort}/root/`,
    'files/deep': `http://127.0.0.1:${upstreamPort}/other`,
    down: 'http://127.0.0.1:1/',
    never: `http://127.0.0.1:${upstreamPort}/never`,
    secret: `http://127.0.0.1:${upstreamPort}/secret`,
  };
  // The client forwards; the server's gateway sends it events. The access check stands for the
  // rules: it refuses `secret/…`, which therefore never reaches the upstream.
  const refused = { code: ReturnCode.FORBIDDEN, mimetype: 'application/json', data: Buffer.from('{"error":{"code":"forbidden","message":"no"}}') };
  ({ server, client } = await bed.pair({
    forward,
    forwardTimeoutMs: FORWARD_TIMEOUT_MS,
    accessRules: { check: (event) => (event.noun.startsWith('secret') ? refused : undefined) },
  }));
  gateway = await createGateway({ sender: server.sender, listen: { host: '127.0.0.1', port: 0 }, eventTimeoutMs: 5_000 });
  bed.defer(() => gateway.close({ graceMs: 100 }));
});

after(async () => {
  for (const s of silentSockets) s.destroy();
  await bed?.close();
  await new Promise((resolve) => upstream?.close(resolve));
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request to the server's gateway, for the client's forwards; raw path, no normalisation. */
function call(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const { port } = gateway.address as { port: number };
  return new Promise((resolve, reject) => {
    // Node frames a DELETE's or OPTIONS's body only with an explicit length.
    const framed = body === undefined ? headers : { ...headers, 'Content-Length': String(Buffer.byteLength(body)) };
    const req = http.request({ host: '127.0.0.1', port, method, path: `/client/client1/${path}`, headers: framed, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function seen(a: Answer): Seen {
  assert.equal(a.headers['content-type'], 'application/json', a.body);
  return JSON.parse(a.body) as Seen;
}

describe('the upstream request', () => {
  test('path: the rest of the noun after the longest prefix, escapes and query exactly as sent', async () => {
    assert.equal(seen(await call('GET', 'files/docs/a%2Fb%20c.pdf?x=%2F&y')).url, '/root/docs/a%2Fb%20c.pdf?x=%2F&y');
    assert.equal(seen(await call('GET', 'files/deep/q')).url, '/other/q');
    assert.equal(seen(await call('GET', 'files/deeper')).url, '/root/deeper');
    assert.equal(seen(await call('GET', 'files')).url, '/root');
    assert.equal(seen(await call('GET', 'files/~user/@a:b;c=d,e!f$g&h\'(i)*+')).url, "/root/~user/@a:b;c=d,e!f$g&h'(i)*+");
  });

  test('methods pass as they are, bodies with their length and type', async () => {
    for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const s = seen(await call(method, 'files/m', { 'Content-Type': 'text/plain' }, method === 'GET' ? undefined : 'hello'));
      assert.equal(s.method, method);
      if (method !== 'GET') {
        assert.equal(s.bytes, 5, method);
        assert.equal(s.headers['content-length'], '5');
        assert.equal(s.headers['content-type'], 'text/plain');
      }
    }
  });

  test('headers: hop-by-hop ones stripped, Host the upstream\'s, X-Forwarded-*, X-Restpipe-Peer the calling node (a forged one replaced)', async () => {
    const s = seen(
      await call('GET', 'files/h', {
        Connection: 'X-Drop-Me',
        'X-Drop-Me': '1',
        'Keep-Alive': 'timeout=1',
        TE: 'trailers',
        'Proxy-Authorization': 'Basic eA==',
        'X-Keep': 'kept',
        'X-Restpipe-Peer': 'forged',
        'X-Forwarded-For': '10.9.8.7',
      }),
    );
    const h = s.headers;
    for (const name of ['x-drop-me', 'keep-alive', 'te', 'proxy-authorization', 'upgrade', 'transfer-encoding']) assert.equal(h[name], undefined, name);
    assert.equal(h['x-keep'], 'kept');
    assert.equal(h.host, `127.0.0.1:${upstreamPort}`);
    assert.equal(h['x-forwarded-host'], `127.0.0.1:${(gateway.address as { port: number }).port}`);
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-for'], '10.9.8.7, 127.0.0.1');
    assert.equal(h['x-restpipe-peer'], 'server');
  });
});

describe('the response', () => {
  test('status, headers (minus hop-by-hop) and Content-Length come back; a 404 is the upstream\'s, not a restpipe error', async () => {
    const ok = await call('GET', 'files/r');
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-upstream'], 'yes');
    assert.equal(ok.headers.etag, '"v1"');
    assert.equal(ok.headers['x-hop'], undefined);
    assert.equal(Number(ok.headers['content-length']), Buffer.byteLength(ok.body));
    assert.equal(ok.headers['x-event-return-code'], '0');
    const missing = await call('GET', 'files/missing/x');
    assert.equal(missing.status, 404);
    assert.equal(seen(missing).url, '/root/missing/x');
  });

  test('HEAD: the upstream\'s Content-Length, no body', async () => {
    const head = await call('HEAD', 'files/len');
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    assert.ok(Number(head.headers['x-length']) > 0);
    assert.equal(head.headers['content-length'], head.headers['x-length']);
  });
});

describe('failures', () => {
  test('an upstream that refuses connections: 502 upstream_unreachable naming it', async () => {
    const r = await call('GET', 'down/x');
    assert.equal(r.status, 502);
    const err = (JSON.parse(r.body) as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'upstream_unreachable');
    assert.match(err.message, /ECONNREFUSED/);
    assert.equal(r.headers['x-event-return-code'], '256');
  });

  test('an upstream that sends no response head: 504 upstream_timeout after --forward-timeout', async () => {
    const started = performance.now();
    const r = await call('GET', 'never/x');
    const took = performance.now() - started;
    assert.equal(r.status, 504);
    assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'upstream_timeout');
    assert.ok(took >= FORWARD_TIMEOUT_MS - 5, `answered after ${took} ms, before the timeout`);
  });

  test('the access check runs before the forward: a refused noun never reaches the upstream', async () => {
    const r = await call('GET', 'secret/x');
    assert.equal(r.status, 403);
    assert.equal(r.headers['x-event-return-code'], String(ReturnCode.FORBIDDEN));
  });

  test('a URL-path noun no forward takes is 400 from the far node, naming the noun', async () => {
    const r = await call('GET', 'nothing.here/x');
    assert.equal(r.status, 400);
    assert.match(r.body, /invalid noun \\"nothing\.here\/x\\"/);
  });

  test('a noun that is a handler\'s but not a safe URL path is refused by the forward, never sent upstream', async () => {
    // The gateway refuses these itself; a library caller or a hostile peer can still send them.
    for (const [noun, message] of [
      ['files//../../etc/passwd', /contains a '\.' or '\.\.' segment/],
      ['files//%2e%2e/x', /contains a '\.' or '\.\.' segment/],
      ['files//a\r\nX-Injected: 1', /not a URL path/],
    ] as const) {
      const r = await client.send({ verb: 'get', noun });
      assert.equal(r.code, ReturnCode.BAD_REQUEST, noun);
      assert.match(Buffer.from(r.data).toString(), message, noun);
    }
    const q = await client.send({ verb: 'get', noun: 'files/x', query: 'a=1\r\nX-Injected: 1' });
    assert.equal(q.code, ReturnCode.BAD_REQUEST);
    assert.match(Buffer.from(q.data).toString(), /query/);
  });

  test('the library sends to a forward too, with no HTTP hop', async () => {
    const r = await client.send({ verb: 'get', noun: 'files/lib.txt', query: 'a=1' });
    assert.equal(r.code, 0);
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(Buffer.from(r.data).toString()) as Seen).url, '/root/lib.txt?a=1');
  });
});

describe('upgrades at the gateway', () => {
  const h2c = { Connection: 'Upgrade, HTTP2-Settings', Upgrade: 'h2c', 'HTTP2-Settings': 'AAMAAABkAAQCAAAAAAIAAAAA' };
  const ws = { Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Version': '13', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };

  test('an h2c upgrade (curl --http2) is answered in HTTP/1.1 as if it had not asked', async () => {
    const r = await call('GET', 'time', h2c);
    assert.equal(r.status, 200);
    assert.match(r.body, /time_from_client/);
  });

  test('an h2c upgrade with a body is refused, not served with the body lost', async () => {
    const r = await call('POST', 'files/x', h2c, 'lost?');
    assert.equal(r.status, 400);
    assert.match(r.body, /cannot read the body of a request asking to upgrade to h2c/);
  });

  test('a WebSocket handshake to a handler that takes its body whole: 400 at once, not a hang', async () => {
    const r = await call('GET', 'time', ws);
    assert.equal(r.status, 400);
    assert.match(r.body, /WebSocket handshake reached handler get_time/);
  });

  test('a WebSocket handshake without Sec-WebSocket-Key, or from another site\'s page, is refused', async () => {
    const noKey = await call('GET', 'files/ws', { Connection: 'Upgrade', Upgrade: 'websocket' });
    assert.equal(noKey.status, 400);
    const crossSite = await call('GET', 'files/ws', { ...ws, Origin: 'https://evil.example' });
    assert.equal(crossSite.status, 403);
    assert.match(crossSite.body, /evil\.example/);
  });
});
