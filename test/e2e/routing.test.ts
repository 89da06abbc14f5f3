// SPEC §4 routing over real processes: on the server's gateway `/client/NAME/…` reaches a client
// by its certificate CN, by its IP address (as the original routed) and by a host name that
// resolves to its address; two clients behind one address make the address ambiguous (400),
// and a name nobody has is a 503 after --connect-wait, with an info line naming the clients there are.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { httpRequest } from '../helpers/gateway-http.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { E2E_HANDLERS, FAST_FLAGS, clientConnected, killAll, startClient, startServer, type StartedServer } from '../helpers/cli-processes.js';

const COMMON = ['--handlers', E2E_HANDLERS, ...FAST_FLAGS];
let pki: Pki;
let server: StartedServer;

before(async () => {
  pki = await makePki();
  server = await startServer(await pki.certDir('server', pki.server), COMMON);
});

after(async () => {
  await killAll();
  await pki?.cleanup();
});

const ask = (path: string) => httpRequest({ port: server.gateway!.port }, { path });

test('by CN, by IP address and by host name, the same client answers', async () => {
  const client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, COMMON);
  await clientConnected(server.proc, 'client1');
  for (const name of ['client1', '127.0.0.1', 'localhost', '%31%32%37.0.0.1']) {
    const res = await ask(`/client/${name}/whoami//a%2Fb/c?q=1`);
    assert.equal(res.status, 200, `${name}: ${res.body.toString()}`);
    const who = res.json() as { node: string; pid: number; peer: { name: string; address: string }; params: string[]; query: Record<string, string> };
    assert.equal(who.node, 'client');
    assert.equal(who.pid, client.proc.pid, name);
    assert.deepEqual(who.peer, { name: 'server', address: '127.0.0.1' });
    assert.deepEqual(who.params, ['a/b', 'c']);
    assert.deepEqual(who.query, { q: '1' });
  }
  // The other way, the server sees the client's CN and address.
  const back = await httpRequest({ port: client.gateway!.port }, { path: '/server/whoami' });
  assert.deepEqual((back.json() as { peer: unknown }).peer, { name: 'client1', address: '127.0.0.1' });
});

test('two clients behind one address: the address is ambiguous (400), the CNs are not', async () => {
  await startClient(await pki.certDir('client', pki.client2), server.pipePort, COMMON);
  await clientConnected(server.proc, 'client2');
  const res = await ask('/client/127.0.0.1/whoami');
  assert.equal(res.status, 400);
  assert.match((res.json() as { error: { message: string } }).error.message, /client1, client2/);
  for (const name of ['client1', 'client2']) {
    const r = await ask(`/client/${name}/whoami`);
    assert.equal(r.status, 200);
    assert.equal((r.json() as { node: string }).node, 'client');
  }
  const status = (await ask('/status')).json() as { clients: Array<{ name: string; address: string }> };
  assert.deepEqual(status.clients.map((c) => c.name).sort(), ['client1', 'client2']);
});

test('a name no client has: 503 after --connect-wait, with one info line saying why; a malformed one: 400', async () => {
  const from = server.proc.log.length;
  for (let i = 0; i < 2; i++) {
    const res = await ask('/client/client9/time');
    assert.equal(res.status, 503);
    assert.equal((res.json() as { error: { code: string } }).error.code, 'no_connection');
  }
  // Logged as the request starts waiting (before its 503), once per name per minute.
  const why = await server.proc.waitForLog((l) => server.proc.log.indexOf(l) >= from && l['client'] === 'client9', 'the waiting line');
  assert.equal(why['level'], 30, 'info');
  assert.equal(
    why['msg'],
    'a request for client "client9" waits up to 0.5 s (connect-wait) for it: no client of that name has connected since the server started; connected now: client1, client2',
  );
  assert.equal(server.proc.log.slice(from).filter((l) => l['client'] === 'client9').length, 1, 'not once per request');
  const bad = await ask('/client/bad!name/time');
  assert.equal(bad.status, 400);
});
