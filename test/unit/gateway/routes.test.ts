import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ErrorCode } from '../../../src/errors.js';
import {
  EVENT_METHODS,
  GatewayRouteError,
  INFO_METHODS,
  parseGatewayRequest,
  type GatewayRoute,
} from '../../../src/gateway/routes.js';

function ok(method: string, url: string, role: 'server' | 'client'): GatewayRoute {
  const r = parseGatewayRequest(method, url, role);
  if (r instanceof GatewayRouteError) assert.fail(`${method} ${url} (${role}) refused: ${r.code} ${r.message}`);
  return r;
}

function refused(method: string, url: string, role: 'server' | 'client', code: ErrorCode): GatewayRouteError {
  const r = parseGatewayRequest(method, url, role);
  assert.ok(r instanceof GatewayRouteError, `${method} ${url} (${role}) was accepted: ${JSON.stringify(r)}`);
  assert.equal(r.code, code, `${method} ${url} (${role}): ${r.message}`);
  return r;
}

describe('client node routes', () => {
  test('/server/NOUN becomes an event to the server, verb in lower case', () => {
    for (const [method, verb] of [
      ['GET', 'get'],
      ['POST', 'post'],
      ['PUT', 'put'],
      ['DELETE', 'delete'],
      ['PATCH', 'patch'],
      ['HEAD', 'head'],
      ['OPTIONS', 'options'],
    ] as const) {
      assert.deepEqual(ok(method, '/server/time', 'client'), { kind: 'event', verb, target: undefined, noun: 'time', path: 'time', params: [], method: `${verb}_time`, query: '' });
    }
  });

  test('parameters stay percent-encoded in the noun; the query is split off without "?"', () => {
    assert.deepEqual(ok('GET', '/server/cat//hello%20/world?a=1&b=%20', 'client'), {
      kind: 'event',
      verb: 'get',
      target: undefined,
      noun: 'cat//hello%20/world',
      path: 'cat',
      params: ['hello ', 'world'],
      method: 'get_cat',
      query: 'a=1&b=%20',
    });
  });

  test('nested noun paths, empty and odd parameters', () => {
    assert.equal((ok('GET', '/server/time/utc', 'client') as { noun: string }).noun, 'time/utc');
    assert.equal((ok('GET', '/server/cat//', 'client') as { noun: string }).noun, 'cat//');
    assert.equal((ok('GET', '/server/cat//a//b', 'client') as { noun: string }).noun, 'cat//a//b');
    assert.equal((ok('GET', '/server/cat//...', 'client') as { noun: string }).noun, 'cat//...', "'...' is not a dot segment");
    assert.equal((ok('GET', '/server/cat//%2F', 'client') as { noun: string }).noun, 'cat//%2F');
    assert.equal((ok('GET', '/server/a-b_c', 'client') as { noun: string }).noun, 'a-b_c');
  });

  test('an empty query after "?" is an empty query', () => {
    assert.equal((ok('GET', '/server/time?', 'client') as { query: string }).query, '');
  });

  test('empty noun is 400', () => {
    for (const url of ['/server', '/server/', '/server?x=1']) {
      const e = refused('GET', url, 'client', ErrorCode.BAD_REQUEST);
      assert.match(e.message, /empty noun/);
    }
  });

  test('dot segments are 400, also percent-encoded, never resolved', () => {
    for (const url of [
      '/server/../status',
      '/server/./time',
      '/server/time/..',
      '/server/cat//../x',
      '/server/cat//a/./b',
      '/server/%2e%2e/x',
      '/server/%2E/x',
      '/server/.%2e/x',
      '/server/cat//%2e%2E',
      '/../server/time',
    ]) {
      const e = refused('GET', url, 'client', ErrorCode.BAD_REQUEST);
      assert.match(e.message, /'\.' or '\.\.' segment/, url);
    }
  });

  test('malformed percent-encoding anywhere in the path is 400', () => {
    for (const url of ['/server/cat//%zz', '/server/cat//%', '/server/cat//a%2', '/server/ti%me', '/%/server/time']) {
      const e = refused('GET', url, 'client', ErrorCode.BAD_REQUEST);
      assert.match(e.message, /percent-encoding/, url);
    }
    // Well-formed escapes that are not UTF-8 fail when the parameter is decoded.
    refused('GET', '/server/cat//%E0%A4%A', 'client', ErrorCode.BAD_REQUEST);
    refused('GET', '/server/cat//%FF', 'client', ErrorCode.BAD_REQUEST);
  });

  test('parameters that decode to bytes that are not UTF-8, or to a NUL, are 400 naming which', () => {
    for (const url of ['/server/cat//%c0%af', '/server/cat//%FF', '/server/cat//%ed%a0%80', '/server/cat//%f4%90%80%80']) {
      assert.match(refused('GET', url, 'client', ErrorCode.BAD_REQUEST).message, /not valid UTF-8 in parameter/, url);
    }
    for (const url of ['/server/cat//%00', '/server/cat//report%00.pdf', '/client/c1/cat//a/%00']) {
      assert.match(refused('GET', url, url.startsWith('/client') ? 'server' : 'client', ErrorCode.BAD_REQUEST).message, /NUL character \(%00\)/, url);
    }
    // Other escaped control characters are the handler's to judge.
    assert.equal((ok('GET', '/server/cat//a%0d%0ab', 'client') as { noun: string }).noun, 'cat//a%0d%0ab');
  });

  test('a bad percent escape in the query is not the path’s business', () => {
    assert.equal((ok('GET', '/server/time?x=%zz', 'client') as { query: string }).query, 'x=%zz');
  });

  test('a noun that is a URL path but no handler\'s passes, unparsed and with no method: the far node forwards or refuses it (SPEC §10)', () => {
    // `%74ime` is "time" percent-encoded: the noun is taken as sent, never decoded.
    for (const url of ['/server/time.json', '/server/ti$me', '/server/a%20b', '/server/time/', '/server/a:b', '/server/%74ime', '/server/files/docs/a%2Fb.pdf']) {
      const route = ok('GET', url, 'client') as { noun: string; path: string; method: string };
      assert.equal(route.method, '', url);
      assert.equal(route.path, route.noun, url);
      assert.equal(`/server/${route.noun}`, url);
    }
  });

  test('a noun that is not even a URL path is 400 at the gateway', () => {
    for (const url of ['/server//time', '/server/a"b', '/server/a{b}', '/server/a|b', '/server/a\\b', '/server/caf\u00e9']) {
      assert.match(refused('GET', url, 'client', ErrorCode.BAD_REQUEST).message, /invalid noun|empty noun/, url);
    }
  });

  test('methods other than the seven are 405 with Allow', () => {
    for (const method of ['TRACE', 'CONNECT', 'PROPFIND', 'get']) {
      const e = refused(method, '/server/time', 'client', ErrorCode.METHOD_NOT_ALLOWED);
      assert.equal(e.allow, EVENT_METHODS);
    }
    refused(undefined as unknown as string, '/server/time', 'client', ErrorCode.METHOD_NOT_ALLOWED);
  });

  test('/client/... on a client node is 404 naming the prefix it serves', () => {
    const e = refused('GET', '/client/x/time', 'client', ErrorCode.NOT_FOUND);
    assert.match(e.message, /client node.*\/server\/NOUN/);
  });

  test('other paths are 404', () => {
    for (const url of ['/', '/servers/time', '/serverx', '/healthz/', '/favicon.ico', '/SERVER/time']) {
      refused('GET', url, 'client', ErrorCode.NOT_FOUND);
    }
  });

  test('a request target that is not a path is 400', () => {
    for (const url of ['*', 'http://evil.example/server/time', '', 'server/time']) {
      refused('GET', url, 'client', ErrorCode.BAD_REQUEST);
    }
    refused('GET', undefined as unknown as string, 'client', ErrorCode.BAD_REQUEST);
  });
});

describe('server node routes', () => {
  test('/client/NAME/NOUN becomes an event to NAME', () => {
    assert.deepEqual(ok('POST', '/client/fileserver/cat//a/b?q=1', 'server'), {
      kind: 'event',
      verb: 'post',
      target: 'fileserver',
      noun: 'cat//a/b',
      path: 'cat',
      params: ['a', 'b'],
      method: 'post_cat',
      query: 'q=1',
    });
  });

  test('NAME may be a node name, an IP literal or a host name', () => {
    const target = (url: string): string | undefined => (ok('GET', url, 'server') as { target?: string }).target;
    assert.equal(target('/client/client_1.example-x/time'), 'client_1.example-x');
    assert.equal(target('/client/127.0.0.1/time'), '127.0.0.1');
    assert.equal(target('/client/::1/time'), '::1');
    assert.equal(target('/client/[::1]/time'), '::1', 'brackets removed');
    assert.equal(target('/client/%5B::1%5D/time'), '::1', 'percent-decoded, then brackets removed');
    assert.equal(target('/client/localhost/time'), 'localhost');
    assert.equal(target('/client/files.internal.example.com/time'), 'files.internal.example.com');
    assert.equal(target('/client/' + 'a'.repeat(63) + '.' + 'b'.repeat(63) + '/time'), 'a'.repeat(63) + '.' + 'b'.repeat(63));
  });

  test('bad NAME syntax is 400', () => {
    for (const url of ['/client/-bad/time', '/client/a%2Fb/time', '/client/a%20b/time', '/client/[nope]/time', '/client/.a/time', '/client/%ZZ/time', '/client/a@b/time']) {
      const e = refused('GET', url, 'server', ErrorCode.BAD_REQUEST);
      assert.ok(/client name|percent-encoding/.test(e.message), `${url}: ${e.message}`);
    }
    const tooLong = 'a'.repeat(65);
    refused('GET', `/client/${tooLong}/time`, 'server', ErrorCode.BAD_REQUEST); // a label over 63 and a node name over 64
  });

  test('missing NAME or noun is 400', () => {
    assert.match(refused('GET', '/client', 'server', ErrorCode.BAD_REQUEST).message, /missing client NAME/);
    assert.match(refused('GET', '/client/', 'server', ErrorCode.BAD_REQUEST).message, /missing client NAME/);
    assert.match(refused('GET', '/client//time', 'server', ErrorCode.BAD_REQUEST).message, /missing client NAME/);
    assert.match(refused('GET', '/client/x', 'server', ErrorCode.BAD_REQUEST).message, /empty noun/);
    assert.match(refused('GET', '/client/x/', 'server', ErrorCode.BAD_REQUEST).message, /empty noun/);
  });

  test('dot segments in NAME position are 400 too', () => {
    refused('GET', '/client/../time', 'server', ErrorCode.BAD_REQUEST);
    refused('GET', '/client/%2e%2e/time', 'server', ErrorCode.BAD_REQUEST);
  });

  test('/server/... on the server node is 404 naming the prefix it serves', () => {
    const e = refused('GET', '/server/time', 'server', ErrorCode.NOT_FOUND);
    assert.match(e.message, /server node.*\/client\/NAME\/NOUN/);
  });
});

describe('info routes', () => {
  test('GET /healthz, /status, /metrics on both roles, query ignored', () => {
    for (const role of ['server', 'client'] as const) {
      assert.deepEqual(ok('GET', '/healthz', role), { kind: 'healthz' });
      assert.deepEqual(ok('GET', '/status?pretty', role), { kind: 'status' });
      assert.deepEqual(ok('GET', '/metrics', role), { kind: 'metrics' });
    }
  });

  test('anything but GET is 405 with Allow: GET', () => {
    for (const method of ['POST', 'HEAD', 'DELETE', 'OPTIONS']) {
      const e = refused(method, '/healthz', 'server', ErrorCode.METHOD_NOT_ALLOWED);
      assert.equal(e.allow, INFO_METHODS);
    }
  });
});


test('the result is a RestpipeError-shaped value, never a throw, for any input', () => {
  const inputs = ['/server/\u0000', '/server/' + '%'.repeat(10), '/client/' + '/'.repeat(50), '/server/' + 'x/'.repeat(5000) + 'y'];
  for (const url of inputs) {
    for (const role of ['server', 'client'] as const) {
      const r = parseGatewayRequest('GET', url, role);
      assert.ok(r instanceof GatewayRouteError || r.kind === 'event', url);
    }
  }
});
