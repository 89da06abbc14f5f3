// dialTls's storm-time savings must not change what a dial verifies or what the socket looks
// like afterwards: one SecureContext per material object (rebuilt when its fields change), the
// server CN taken from Node's own name check, and the leaf-only answer to Node's detailed
// getPeerCertificate(true) limited to the handshake.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { clientSecureContext, dialTls, type ClientTlsMaterial } from '../../../src/client/connector.js';
import { type Pki, makePki } from '../../helpers/pki.js';

describe('dialTls', () => {
  let pki: Pki;
  const servers: tls.Server[] = [];

  before(async () => {
    pki = await makePki();
  });
  after(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  });

  async function server(identity: { key: string; cert: string }): Promise<number> {
    const s = tls.createServer({ ...identity, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: false }, (socket) => socket.end());
    servers.push(s);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return (s.address() as AddressInfo).port;
  }

  const dial = (port: number, material: ClientTlsMaterial, servername?: string) =>
    dialTls({ host: '127.0.0.1', port, ...(servername === undefined ? {} : { servername }), tls: material, connectTimeoutMs: 5_000, handshakeTimeoutMs: 5_000, keepAliveMs: 5_000 });

  it('returns the server CN; afterwards the socket answers getPeerCertificate(true) with the full chain again', async () => {
    const port = await server(pki.server.tls);
    const { socket, serverCn } = await dial(port, { ...pki.client1.tls, ca: pki.ca.certPem });
    try {
      assert.equal(serverCn, 'server');
      assert.equal(Object.hasOwn(socket, 'getPeerCertificate'), false);
      const detailed = socket.getPeerCertificate(true);
      assert.equal(detailed.subject.CN, 'server');
      assert.ok(detailed.issuerCertificate?.subject !== undefined, 'the detailed form has the issuer again');
    } finally {
      socket.destroy();
    }
  });

  it('still refuses a server certificate for another name (the name check sees the leaf)', async () => {
    const port = await server(pki.wrongNameServer.tls);
    await assert.rejects(dial(port, { ...pki.client1.tls, ca: pki.ca.certPem }, 'localhost'), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'tls_refused', 'one error family: a RestpipeError');
      assert.equal((err.cause as NodeJS.ErrnoException).code, 'ERR_TLS_CERT_ALTNAME_INVALID', "Node's error is its cause");
      return true;
    });
  });

  it('a timer made late by a busy event loop does not fail a connect or handshake that finished in time', async () => {
    const port = await server(pki.server.tls);
    const material = { ...pki.client1.tls, ca: pki.ca.certPem };
    clientSecureContext(material); // built outside the busy stretch
    const timeoutMs = 50;
    const dialing = dialTls({ host: '127.0.0.1', port, tls: material, servername: 'localhost', connectTimeoutMs: timeoutMs, handshakeTimeoutMs: 5_000, keepAliveMs: 5_000 });
    // The loop is blocked past the connect timeout; meanwhile the kernel completes the TCP connect.
    const until = Date.now() + 4 * timeoutMs;
    while (Date.now() < until) {
      // busy: a storm's TLS work in a real process
    }
    const { socket } = await dialing;
    socket.destroy();
  });

  it('builds one SecureContext per material object, and a new one when its fields are replaced', () => {
    const material: ClientTlsMaterial = { ...pki.client1.tls, ca: pki.ca.certPem };
    const first = clientSecureContext(material);
    assert.equal(clientSecureContext(material), first);
    assert.notEqual(clientSecureContext({ ...material }), first, 'another object, another context');
    material.cert = pki.client2.tls.cert;
    material.key = pki.client2.tls.key;
    assert.notEqual(clientSecureContext(material), first, 'replaced fields, new context');
  });
});
