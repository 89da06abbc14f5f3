import { test } from 'node:test';
import assert from 'node:assert/strict';

import { HostPolicy, isLoopbackHostHeader, isLoopbackListenHost, isLoopbackName } from '../../../src/gateway/host-check.js';

test('isLoopbackHostHeader: loopback names and addresses, with or without a port', () => {
  for (const h of ['localhost', 'LOCALHOST:80', 'localhost.', 'localhost.:8080', 'a.b.localhost:1', '127.0.0.1', '127.255.0.9:8080', '[::1]', '[::1]:80', '[::ffff:127.0.0.1]:1']) {
    assert.ok(isLoopbackHostHeader(h), h);
  }
  for (const h of ['', 'evil.example', 'localhost.evil.example', 'localhostx', '128.0.0.1', '[::2]', '::1', '[::1]x', 'localhost:abc', '10.0.0.1:80', '[::1]:99999999', '[127.0.0.1]']) {
    assert.ok(!isLoopbackHostHeader(h), h);
  }
});

test('isLoopbackName and isLoopbackListenHost', () => {
  assert.ok(isLoopbackName('127.0.0.2'));
  assert.ok(isLoopbackName('::1'));
  assert.ok(!isLoopbackName('0.0.0.0'));
  assert.ok(!isLoopbackName('::'));
  assert.ok(isLoopbackListenHost('[::1]'));
  assert.ok(isLoopbackListenHost('localhost'));
  assert.ok(!isLoopbackListenHost('192.168.1.10'));
});

test('HostPolicy: loopback Host passes, others and any Origin are forbidden', () => {
  const p = new HostPolicy([], []);
  assert.equal(p.check({ host: 'localhost:8080' }), undefined);
  assert.equal(p.check({}), undefined, 'no Host (HTTP/1.0) is not a browser');
  assert.equal(p.check({ host: 'evil.example' })?.code, 'forbidden');
  assert.equal(p.check({ host: 'localhost', origin: 'http://localhost:3000' })?.code, 'forbidden');
});

test('HostPolicy: a refusal says which option (and CLI flag) allows it', () => {
  const p = new HostPolicy([], []);
  assert.equal(
    p.check({ host: 'evil.example' })?.message,
    'Host "evil.example" is not a loopback name or address (DNS-rebinding protection); to accept it, allow it with httpAllowedHosts (--http-allow-host)',
  );
  assert.equal(
    p.check({ host: 'localhost', origin: 'http://localhost:3000' })?.message,
    'requests from browser origin "http://localhost:3000" are refused (cross-site protection); to accept it, allow the origin with httpAllowedOrigins (--http-allow-origin)',
  );
});

test('HostPolicy: allow-lists, with and without ports, case-insensitive; * allows all', () => {
  const p = new HostPolicy(['Files.Example', 'api.example:8443'], ['HTTP://App.Example']);
  assert.equal(p.check({ host: 'files.example:1234' }), undefined);
  assert.equal(p.check({ host: 'FILES.EXAMPLE.' }), undefined);
  assert.equal(p.check({ host: 'api.example:8443' }), undefined);
  assert.equal(p.check({ host: 'api.example:8444' })?.code, 'forbidden');
  assert.equal(p.check({ host: 'api.example' })?.code, 'forbidden');
  assert.equal(p.check({ host: 'localhost', origin: 'http://app.example' }), undefined);
  assert.equal(p.check({ host: 'localhost', origin: 'http://app.example:81' })?.code, 'forbidden');
  const any = new HostPolicy(['*'], ['*']);
  assert.equal(any.check({ host: 'anything', origin: 'null' }), undefined);
});

test('HostPolicy: Sec-Fetch-Site from another page is refused unless its Origin is allowed (issue 8: no-cors GETs carry no Origin)', () => {
  const p = new HostPolicy([], ['http://app.example']);
  for (const site of ['cross-site', 'same-site', 'CROSS-SITE', 'made-up']) {
    const refused = p.check({ host: 'localhost', 'sec-fetch-site': site });
    assert.equal(refused?.code, 'forbidden', site);
    assert.match(refused!.message, /Sec-Fetch-Site.*--http-allow-origin/, site);
  }
  assert.equal(p.check({ host: 'localhost', 'sec-fetch-site': 'same-origin' }), undefined);
  assert.equal(p.check({ host: 'localhost', 'sec-fetch-site': 'none' }), undefined, 'typed in or a bookmark');
  assert.equal(p.check({ host: 'localhost' }), undefined, 'not a browser (curl, a program)');
  assert.equal(p.check({ host: 'localhost', 'sec-fetch-site': 'cross-site', origin: 'http://app.example' }), undefined, 'a cors fetch from an allowed origin');
  assert.equal(p.check({ host: 'localhost', 'sec-fetch-site': 'cross-site', origin: 'http://evil.example' })?.code, 'forbidden');
  assert.equal(new HostPolicy([], ['*']).check({ host: 'localhost', 'sec-fetch-site': 'cross-site' }), undefined, '* allows any page');
});
