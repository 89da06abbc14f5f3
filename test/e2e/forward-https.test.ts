// Forwarding (issue 12, SPEC §10) to an https:// upstream: verified against the system's trust
// store plus `--forward-ca FILE`. The upstream is Node's https server with a certificate of the
// test CA (SANs include 127.0.0.1), on 127.0.0.1. With the CA given, the forward works; without
// it, the upstream's certificate is not trusted and nothing is sent to it: 502.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type { AddressInfo } from 'node:net';

import { killAll } from '../helpers/cli-processes.js';
import { startForwardPair, type ForwardPair } from '../helpers/forward.js';
import { httpRequest } from '../helpers/gateway-http.js';
import { makePki, type Pki } from '../helpers/pki.js';

let pki: Pki;
let upstream: https.Server;
let trusting: ForwardPair;
let untrusting: ForwardPair;
let requestsSeen = 0;

before(async () => {
  pki = await makePki();
  upstream = https.createServer({ key: pki.server.keyPem, cert: pki.server.certPem }, (req, res) => {
    requestsSeen++;
    const body = JSON.stringify({ url: req.url, tls: true });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
  const base = `https://127.0.0.1:${(upstream.address() as AddressInfo).port}/`;
  trusting = await startForwardPair(pki, { secure: base }, ['--forward-ca', pki.ca.certPath]);
  untrusting = await startForwardPair(pki, { secure: base });
});

after(async () => {
  await killAll();
  upstream?.closeAllConnections();
  await new Promise((resolve) => upstream?.close(resolve));
  await pki?.cleanup();
});

test('an https upstream whose CA is given with --forward-ca: forwarded', async () => {
  const res = await httpRequest({ port: trusting.gatewayPort }, { path: '/client/client1/secure/a/b?c=d' });
  assert.equal(res.status, 200, res.body.toString());
  assert.deepEqual(res.json(), { url: '/a/b?c=d', tls: true });
});

test('an https upstream whose certificate is not trusted: 502, and no request reaches it', async () => {
  const before = requestsSeen;
  const res = await httpRequest({ port: untrusting.gatewayPort }, { path: '/client/client1/secure/a' });
  assert.equal(res.status, 502, res.body.toString());
  assert.equal(typeof res.json().error.code, 'string');
  assert.equal(requestsSeen, before);
});
