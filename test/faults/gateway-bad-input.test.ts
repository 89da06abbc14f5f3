// Gateway abuse, part 1 (issue 5 item 6): hostile request targets and headers against real CLI
// nodes over real HTTP on 127.0.0.1, sent on raw sockets so that nothing normalises them.
// Prototype names as nouns and as NAME, dot segments, bad percent-encoding, huge headers: each
// gets its specific status and JSON error, the handler object and Object.prototype stay as they
// were, and both nodes keep serving.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { rawExchange, rawGet, type RawExchange } from '../helpers/abuse.js';
import { killAll, startClient, startServer, type StartedClient, type StartedServer } from '../helpers/cli-processes.js';
import { makePki, type Pki } from '../helpers/pki.js';

const HANDLERS = 'test/fixtures/abuse-handlers.js';
const FLAGS = ['--handlers', HANDLERS, '--heartbeat-interval', '0.2', '--heartbeat-timeout', '2', '--connect-wait', '0.3', '--event-timeout', '5', '--grace', '1'];

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

/** Both routes: through the client node's gateway to the server, and the server's to client1. */
const ROUTES = [
  { name: 'client → server', port: () => client.gateway!.port, prefix: '/server/' },
  { name: 'server → client', port: () => server.gateway!.port, prefix: '/client/client1/' },
] as const;

function jsonError(r: RawExchange): { code: string; message: string } {
  assert.match(r.text, /\r\ncontent-type: application\/json/i, r.text);
  const body = JSON.parse(r.body) as { error?: { code?: string; message?: string } };
  assert.equal(typeof body.error?.code, 'string', r.body);
  assert.equal(typeof body.error?.message, 'string', r.body);
  return body.error as { code: string; message: string };
}

function returnCode(r: RawExchange): string | undefined {
  return /\r\nX-Event-Return-Code: (\d+)\r\n/i.exec(r.text)?.[1];
}

async function stillServing(): Promise<void> {
  for (const route of ROUTES) {
    const r = await rawExchange(route.port(), rawGet(`${route.prefix}time`), 10_000);
    assert.equal(r.status, 200, `${route.name}: ${r.text}`);
  }
  assert.equal(server.proc.child.exitCode, null, server.proc.dump());
  assert.equal(client.proc.child.exitCode, null, client.proc.dump());
}

async function integrityUnchanged(): Promise<void> {
  for (const route of ROUTES) {
    const r = await rawExchange(route.port(), rawGet(`${route.prefix}integrity`), 10_000);
    assert.equal(r.status, 200, r.text);
    const body = JSON.parse(r.body) as { unchanged: boolean; polluted: unknown; now: unknown };
    assert.equal(body.unchanged, true, `${route.name}: the handler object or Object.prototype changed: ${r.body}`);
    assert.equal(body.polluted, null, r.body);
  }
}

const PROTOTYPE_NOUNS = [
  'constructor',
  '__proto__',
  'toString',
  'hasOwnProperty',
  'valueOf',
  'isPrototypeOf',
  '__defineGetter__',
  '__lookupGetter__',
  'prototype',
  'constructor/prototype',
  '__proto__/polluted',
  'get_time', // a method name as a noun: `get_get_time`, which does not exist
];

describe('prototype names', () => {
  for (const route of ROUTES) {
    test(`${route.name}: as nouns, with every verb: 404, return code 255, no_handler`, async () => {
      for (const noun of PROTOTYPE_NOUNS) {
        for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']) {
          const body = method === 'GET' ? '' : '{"__proto__":{"polluted":true}}';
          const req =
            `${method} ${route.prefix}${noun} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n` +
            (body === '' ? '\r\n' : `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
          const r = await rawExchange(route.port(), req, 10_000);
          assert.equal(r.status, 404, `${method} ${noun}: ${r.text}`);
          assert.equal(returnCode(r), '255', `${method} ${noun}`);
          const err = jsonError(r);
          assert.equal(err.code, 'no_handler', `${method} ${noun}`);
          assert.match(err.message, new RegExp(`no handler for ${method.toLowerCase()} '${noun.replace(/[/$]/g, '\\$&')}'`));
          assert.equal(r.responses, 1, 'exactly one response');
        }
      }
      await integrityUnchanged();
    });

    test(`${route.name}: a JSON body with __proto__ and constructor keys reaches the handler as data, pollutes nothing`, async () => {
      const body = '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}},"toString":1}';
      const r = await rawExchange(
        route.port(),
        `POST ${route.prefix}echo HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
        10_000,
      );
      assert.equal(r.status, 200, r.text);
      const seen = JSON.parse(r.body) as { own: string[]; protoOfData: boolean; polluted: unknown };
      // JSON.parse makes `__proto__` an own key; it never sets the object's prototype.
      assert.deepEqual(seen.own.sort(), ['__proto__', 'constructor', 'toString']);
      assert.equal(seen.protoOfData, true);
      assert.equal(seen.polluted, null);
      await integrityUnchanged();
    });
  }

  test('as header names and query keys: ignored, the request is served as usual', async () => {
    for (const route of ROUTES) {
      const r = await rawExchange(
        route.port(),
        rawGet(`${route.prefix}time?__proto__[polluted]=1&constructor=x&toString=y`, '__proto__: {"polluted":true}\r\nconstructor: x\r\nhasOwnProperty: y\r\ntoString: z\r\n'),
        10_000,
      );
      assert.equal(r.status, 200, `${route.name}: ${r.text.slice(0, 300)}`);
    }
    await integrityUnchanged();
  });

  test('as the NAME of /client/NAME/NOUN: no such client (503 no_connection) or 400, never a crash', async () => {
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'prototype']) {
      const r = await rawExchange(server.gateway!.port, rawGet(`/client/${name}/time`), 10_000);
      assert.ok(r.status === 503 || r.status === 400, `${name}: ${r.text}`);
      const err = jsonError(r);
      if (r.status === 503) {
        assert.equal(err.code, 'no_connection', name);
        assert.match(err.message, new RegExp(name));
      }
    }
    const status = await rawExchange(server.gateway!.port, rawGet('/status'), 10_000);
    assert.equal(status.status, 200);
    const clients = (JSON.parse(status.body) as { clients: Array<{ name: string }> }).clients.map((c) => c.name);
    assert.deepEqual(clients, ['client1'], 'no phantom client appeared in the registry');
    await stillServing();
  });
});

describe('dot segments and bad percent-encoding: 400 with a specific message', () => {
  const CASES: Array<[suffix: string, message: RegExp]> = [
    ['../time', /contains a '\.' or '\.\.' segment/],
    ['%2e%2e/time', /contains a '\.' or '\.\.' segment/],
    ['.%2E/time', /contains a '\.' or '\.\.' segment/],
    ['./time', /contains a '\.' or '\.\.' segment/],
    ['time//..', /contains a '\.' or '\.\.' segment/],
    ['time//a/%2e%2e/b', /contains a '\.' or '\.\.' segment/],
    ['%zz', /malformed percent-encoding in path/],
    ['time//%zz', /malformed percent-encoding in path/],
    ['time//%', /malformed percent-encoding in path/],
    ['time//a%2', /malformed percent-encoding in path/],
    ['time//%c0%af', /percent-encoded bytes that are not valid UTF-8 in parameter "%c0%af"/],
    ['time//%ff', /not valid UTF-8 in parameter/],
    ['time//%ed%a0%80', /not valid UTF-8 in parameter/], // an encoded UTF-16 surrogate
    ['time//%00', /decodes to a NUL character \(%00\)/],
    ['time//report%00.pdf', /decodes to a NUL character/],
  ];
  // URL paths, but no handler's: they may be a forward's (SPEC §10), so they travel and the far
  // node, with no forward for them, refuses them (return code 250) with the same message.
  const FAR_CASES: Array<[suffix: string, message: RegExp]> = [
    ['%c0%af', /invalid noun "%c0%af"/],
    ['time%00', /invalid noun "time%00"/],
    ['ti%6De', /invalid noun/], // nouns are never decoded: `%6D` is not an `m`
  ];
  for (const route of ROUTES) {
    test(route.name, async () => {
      for (const [suffix, message] of CASES) {
        const r = await rawExchange(route.port(), rawGet(`${route.prefix}${suffix}`), 10_000);
        assert.equal(r.status, 400, `${suffix}: ${r.text}`);
        const err = jsonError(r);
        assert.equal(err.code, 'bad_request', suffix);
        assert.match(err.message, message, suffix);
        assert.equal(returnCode(r), undefined, `${suffix}: refused by the gateway, never sent as an event`);
      }
      for (const [suffix, message] of FAR_CASES) {
        const r = await rawExchange(route.port(), rawGet(`${route.prefix}${suffix}`), 10_000);
        assert.equal(r.status, 400, `${suffix}: ${r.text}`);
        const err = jsonError(r);
        assert.equal(err.code, 'bad_request', suffix);
        assert.match(err.message, message, suffix);
        assert.equal(returnCode(r), '250', `${suffix}: refused by the far node, which forwards no such noun`);
      }
      await stillServing();
    });
  }

  test('server → client: a bad NAME', async () => {
    for (const [name, message] of [
      ['%zz', /malformed percent-encoding in path/],
      ['%c0%af', /malformed percent-encoding in client name/],
      ['%00', /invalid client name/],
      ['..', /contains a '\.' or '\.\.' segment/],
      ['%2E', /contains a '\.' or '\.\.' segment/],
      ['a%2Fb', /invalid client name/],
    ] as const) {
      const r = await rawExchange(server.gateway!.port, rawGet(`/client/${name}/time`), 10_000);
      assert.equal(r.status, 400, `${name}: ${r.text}`);
      assert.match(jsonError(r).message, message, name);
    }
  });
});

describe('huge headers', () => {
  test('a 100 KiB header, a 100 KiB request target, 3,000 small headers: 431, and the nodes keep serving', async () => {
    for (const route of ROUTES) {
      const bigHeader = rawGet(`${route.prefix}time`, `X-Big: ${'x'.repeat(100 * 1024)}\r\n`);
      const bigTarget = rawGet(`${route.prefix}time//${'a'.repeat(100 * 1024)}`);
      const many = rawGet(`${route.prefix}time`, Array.from({ length: 3_000 }, (_, i) => `X-H${i}: ${i}\r\n`).join(''));
      for (const [what, req] of [['100 KiB header', bigHeader], ['100 KiB target', bigTarget], ['3,000 headers', many]] as const) {
        const r = await rawExchange(route.port(), req, 10_000);
        // Refused past Node's header limit (16 KiB) with a JSON error, then closed.
        assert.equal(r.status, 431, `${route.name}, ${what}: ${r.ended} ${r.text.slice(0, 200)}`);
        const err = jsonError(r);
        assert.equal(err.code, 'headers_too_large');
        assert.match(err.message, /exceed the limit of 16384 bytes/);
        assert.equal(r.responses, 1);
      }
      // Just under the limit is fine.
      const r = await rawExchange(route.port(), rawGet(`${route.prefix}time`, `X-Big: ${'x'.repeat(12 * 1024)}\r\n`), 10_000);
      assert.equal(r.status, 200, r.text.slice(0, 300));
    }
    await stillServing();
  });
});

describe('requests HTTP cannot parse', () => {
  test('garbage, conflicting framing, a bad header: 400 with a JSON error naming the parse error', async () => {
    for (const route of ROUTES) {
      for (const [what, req, reason] of [
        ['garbage request line', 'HELLO THERE\r\n\r\n', /HPE_INVALID_METHOD/],
        ['Content-Length and Transfer-Encoding', `POST ${route.prefix}echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc`, /HPE_/],
        ['two different Content-Lengths', `POST ${route.prefix}echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`, /HPE_/],
        ['a header name with a space', `GET ${route.prefix}time HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n\r\n`, /HPE_/],
        ['a bare LF in a header value', `GET ${route.prefix}time HTTP/1.1\r\nHost: 127.0.0.1\r\nX: a\rb\r\n\r\n`, /HPE_/],
      ] as const) {
        const r = await rawExchange(route.port(), req, 10_000);
        assert.equal(r.status, 400, `${route.name}, ${what}: ${r.ended} ${r.text.slice(0, 300)}`);
        const err = jsonError(r);
        assert.equal(err.code, 'bad_request', what);
        assert.match(err.message, /^malformed HTTP request/, what);
        assert.match(err.message, reason, what);
        assert.equal(r.responses, 1, what);
      }
    }
    await stillServing();
  });
});
