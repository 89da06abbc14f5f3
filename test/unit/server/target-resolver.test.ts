// NAME of /client/NAME/NOUN → a client's CN, on the server's side (server/target-resolver.ts):
// by CN, IP address or host name (SPEC §4). A fake directory of clients and a fake DNS.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { silentLogger } from '../../../src/log.js';
import { TargetResolver, type ClientDirectory, type LookupAll } from '../../../src/server/target-resolver.js';

function resolver(clients: Partial<ClientDirectory>, lookup?: LookupAll): TargetResolver {
  return new TargetResolver(
    { knowsClient: () => false, clientsAt: () => [], ...clients },
    { dnsTimeoutMs: 1_000, logger: silentLogger, ...(lookup === undefined ? {} : { lookup }) },
  );
}

describe('server node: NAME resolution', () => {
  test('a connected CN is used as is, without asking clientsAt or DNS', async () => {
    let asked = 0;
    const r = resolver({ knowsClient: (n) => n === 'files', clientsAt: () => (asked++, []) }, async () => (asked++, []));
    assert.equal(r.resolve('files'), 'files', 'synchronously');
    assert.equal(asked, 0);
  });

  test('an IP: one client → its CN; several → bad_request naming them; none → the IP as a CN', async () => {
    const at: Record<string, string[]> = { '10.0.0.1': ['a'], '10.0.0.2': ['b', 'c'], '::1': ['v6'] };
    const r = resolver({ clientsAt: (ip) => at[ip] ?? [] });
    assert.equal(r.resolve('10.0.0.1'), 'a');
    assert.equal(r.resolve('::1'), 'v6');
    assert.throws(() => r.resolve('10.0.0.2'), (err: Error & { code?: string }) => err.code === 'bad_request' && /b, c/.test(err.message));
    assert.equal(r.resolve('10.0.0.3'), '10.0.0.3');
  });

  test('an IP address always routes by address, even where a CN of that spelling is known (SPEC §4)', async () => {
    // The server refuses such certificates; this is the second lock: the address is looked up
    // first, so no certificate can capture the requests meant for the client at an address.
    const r = resolver({
      knowsClient: (n) => n === '127.0.0.1' || n === 'legit',
      clientsAt: (ip) => (ip === '127.0.0.1' ? ['legit'] : []),
    });
    for (const name of ['127.0.0.1', '127.1', '2130706433']) assert.equal(await r.resolve(name), 'legit', name);
  });

  test('a host name: resolved, matched against client addresses; unresolvable → as a CN', async () => {
    const r = resolver({ clientsAt: (ip) => (ip === '127.0.0.1' ? ['local'] : []) });
    assert.equal(await r.resolve('localhost'), 'local');
    assert.equal(await r.resolve('does-not-exist.invalid'), 'does-not-exist.invalid');
  });

  test('a DNS answer that never comes is bounded by dnsTimeoutMs; the name is then a CN', async () => {
    const r = new TargetResolver({ knowsClient: () => false, clientsAt: () => ['x'] }, { dnsTimeoutMs: 20, logger: silentLogger, lookup: () => new Promise(() => {}) });
    assert.equal(await r.resolve('slow.example'), 'slow.example');
  });
});
