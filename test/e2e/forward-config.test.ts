// Forwarding (issue 12, SPEC §10): the other ways to say it, and the other direction. Forwards
// given as RP_FORWARD (comma-separated PREFIX=URL pairs) and as a config file's "forward" object
// work as the flag does; a forward on the server node answers a client's `/server/…` requests,
// with the client's CN as X-Restpipe-Peer.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { clientConnected, killAll, startClient, startServer, tempDir } from '../helpers/cli-processes.js';
import { FORWARD_NODE_FLAGS, startForwardPair, startUpstream, type Upstream } from '../helpers/forward.js';
import { httpRequest } from '../helpers/gateway-http.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { stopAll } from '../helpers/processes.js';

let pki: Pki;
let tmp: { dir: string; remove: () => Promise<void> };
let upstream: Upstream;

before(async () => {
  pki = await makePki();
  tmp = await tempDir();
  upstream = await startUpstream();
});

after(async () => {
  await killAll();
  await stopAll();
  await pki?.cleanup();
  await tmp?.remove();
});

test('RP_FORWARD: two comma-separated PREFIX=URL pairs', async () => {
  const pair = await startForwardPair(pki, {}, [], [], { RP_FORWARD: `a=${upstream.base}echo/, b=${upstream.base}n/` });
  const a = await httpRequest({ port: pair.gatewayPort }, { path: '/client/client1/a/x%2Fy?q=1' });
  assert.equal(a.status, 200, a.body.toString());
  assert.equal(a.json().url, '/echo/x%2Fy?q=1');
  const b = await httpRequest({ port: pair.gatewayPort }, { path: '/client/client1/b/from-env' });
  assert.equal(b.status, 200, b.body.toString());
  assert.equal(b.body.toString(), 'n=from-env');
});

test('a config file’s "forward" object', async () => {
  const config = join(tmp.dir, 'forward.json');
  await writeFile(config, JSON.stringify({ forward: { c: `${upstream.base}echo/`, 'c/deeper': `${upstream.base}n/` } }));
  const pair = await startForwardPair(pki, {}, ['--config', config]);
  const c = await httpRequest({ port: pair.gatewayPort }, { path: '/client/client1/c/y' });
  assert.equal(c.status, 200, c.body.toString());
  assert.equal(c.json().url, '/echo/y');
  const deeper = await httpRequest({ port: pair.gatewayPort }, { path: '/client/client1/c/deeper/from-config' });
  assert.equal(deeper.body.toString(), 'n=from-config');
});

test('a forward on the server node: a client’s /server/… request reaches it, X-Restpipe-Peer is the client', async () => {
  const server = await startServer(await pki.certDir('server', pki.server), [...FORWARD_NODE_FLAGS, '--no-http', '--forward', `srv=${upstream.base}echo/`]);
  const connected = clientConnected(server.proc, 'client1');
  const client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, [...FORWARD_NODE_FLAGS]);
  await connected;
  const res = await httpRequest(client.gateway!, { method: 'POST', path: '/server/srv/z?k=v', body: 'abc' });
  assert.equal(res.status, 200, res.body.toString());
  const echo = res.json() as { method: string; url: string; rawHeaders: string[]; bodyBytes: number };
  assert.equal(echo.url, '/echo/z?k=v');
  assert.equal(echo.method, 'POST');
  assert.equal(echo.bodyBytes, 3);
  const peer = echo.rawHeaders.findIndex((h, i) => i % 2 === 0 && h.toLowerCase() === 'x-restpipe-peer');
  assert.equal(echo.rawHeaders[peer + 1], 'client1');
});

test('GET /status lists the node’s forwards, longest prefix first; a node without any lists none', async () => {
  const server = await startServer(await pki.certDir('server', pki.server), [
    ...FORWARD_NODE_FLAGS,
    '--forward',
    `files=${upstream.base}f/`,
    '--forward',
    `files/big=${upstream.base}big/`,
  ]);
  const connected = clientConnected(server.proc, 'client1');
  const client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, [...FORWARD_NODE_FLAGS]);
  await connected;
  const onServer = await httpRequest(server.gateway!, { path: '/status' });
  assert.equal(onServer.status, 200, onServer.body.toString());
  assert.deepEqual((onServer.json() as { forwards: unknown }).forwards, [
    { prefix: 'files/big', url: `${upstream.base}big/` },
    { prefix: 'files', url: `${upstream.base}f/` },
  ]);
  const onClient = await httpRequest(client.gateway!, { path: '/status' });
  assert.equal(onClient.status, 200, onClient.body.toString());
  assert.deepEqual((onClient.json() as { forwards: unknown }).forwards, []);
});
