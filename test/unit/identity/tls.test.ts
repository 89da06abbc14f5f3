// Real TLS on 127.0.0.1 with certificates from src/identity: what Node accepts and refuses
// (RELIABILITY §3.2). The server runs with requestCert: true, rejectUnauthorized: false, as the
// pipe server does, so that the refusal reason is readable from authorizationError.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { type Pki, type PkiIdentity, makePki } from '../../helpers/pki.js';

interface ServerSeen {
  authorized: boolean;
  authorizationError: string | undefined;
  cn: string | undefined;
  protocol: string | null;
}

interface ClientSeen {
  ok: boolean;
  error?: string;
}

const servers = new Set<tls.Server>();
const sockets = new Set<tls.TLSSocket>();

after(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all([...servers].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** A pipe-like server: mutual TLS, refusals left to the application. */
async function startServer(id: PkiIdentity, ca: string, crl?: string): Promise<{ port: number; next: () => Promise<ServerSeen> }> {
  const waiting: ((seen: ServerSeen) => void)[] = [];
  const server = tls.createServer({
    key: id.keyPem,
    cert: id.certPem,
    ca,
    requestCert: true,
    rejectUnauthorized: false,
    ...(crl === undefined ? {} : { crl }),
  });
  servers.add(server);
  server.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => sockets.delete(socket));
    const peer = socket.getPeerCertificate();
    const cn = (peer.subject as { CN?: string } | undefined)?.CN;
    const authError = socket.authorizationError as unknown;
    waiting.shift()?.({
      authorized: socket.authorized,
      authorizationError: authError === null || authError === undefined ? undefined : String((authError as { code?: string }).code ?? authError),
      cn,
      protocol: socket.getProtocol(),
    });
    socket.end();
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { port, next: () => new Promise<ServerSeen>((resolve) => waiting.push(resolve)) };
}

/** Dials with Node's default verification; resolves with what the client saw. */
function dial(port: number, opts: tls.ConnectionOptions): Promise<ClientSeen> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ...opts });
    sockets.add(socket);
    socket.on('secureConnect', () => resolve({ ok: true }));
    socket.on('error', (err: NodeJS.ErrnoException) => resolve({ ok: false, error: err.code ?? err.message }));
    socket.on('close', () => {
      sockets.delete(socket);
      resolve({ ok: false, error: 'closed' });
    });
    socket.resume();
  });
}

describe('TLS with issued certificates', () => {
  let pki: Pki;
  before(async () => {
    pki = await makePki();
  });
  after(async () => {
    await pki.cleanup();
  });

  const clientOpts = (id: PkiIdentity): tls.ConnectionOptions => ({
    key: id.keyPem,
    cert: id.certPem,
    ca: pki.ca.certPem,
    servername: 'localhost',
  });

  it('accepts an issued client certificate both ways (TLS 1.3, identity = CN)', async () => {
    const srv = await startServer(pki.server, pki.ca.certPem);
    const seen = srv.next();
    const client = await dial(srv.port, clientOpts(pki.client1));
    assert.deepEqual(client, { ok: true });
    assert.deepEqual(await seen, { authorized: true, authorizationError: undefined, cn: 'client1', protocol: 'TLSv1.3' });
  });

  it('refuses a CRL-revoked client with CERT_REVOKED and still accepts the others', async () => {
    const srv = await startServer(pki.server, pki.ca.certPem, pki.crl.pem);
    let seen = srv.next();
    await dial(srv.port, clientOpts(pki.revoked));
    assert.deepEqual(await seen, { authorized: false, authorizationError: 'CERT_REVOKED', cn: 'revoked1', protocol: 'TLSv1.3' });
    seen = srv.next();
    await dial(srv.port, clientOpts(pki.client2));
    const ok = await seen;
    assert.equal(ok.authorized, true);
    assert.equal(ok.cn, 'client2');
  });

  it('accepts the revoked client when no CRL is configured (why the crl option matters)', async () => {
    const srv = await startServer(pki.server, pki.ca.certPem);
    const seen = srv.next();
    await dial(srv.port, clientOpts(pki.revoked));
    assert.equal((await seen).authorized, true);
  });

  const refusals: [string, (p: Pki) => PkiIdentity, string, ((p: Pki) => string) | undefined][] = [
    ['expired', (p) => p.expired, 'CERT_HAS_EXPIRED', undefined],
    ['not yet valid', (p) => p.notYetValid, 'CERT_NOT_YET_VALID', undefined],
    ['foreign CA, same CN', (p) => p.foreignClient, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', undefined],
    ['EKU serverAuth only', (p) => p.serverOnlyEku, 'INVALID_PURPOSE', undefined],
    ['CRL past nextUpdate', (p) => p.client1, 'CRL_HAS_EXPIRED', (p) => p.staleCrl.pem],
  ];
  for (const [label, pick, code, crl] of refusals) {
    it(`refuses a client certificate: ${label} -> ${code}`, async () => {
      const srv = await startServer(pki.server, pki.ca.certPem, crl?.(pki));
      const seen = srv.next();
      await dial(srv.port, clientOpts(pick(pki)));
      const s = await seen;
      assert.equal(s.authorized, false);
      assert.equal(s.authorizationError, code);
    });
  }

  it('the server certificate verifies for hostname localhost and for 127.0.0.1', async () => {
    const srv = await startServer(pki.server, pki.ca.certPem);
    assert.deepEqual(await dial(srv.port, clientOpts(pki.client1)), { ok: true });
    // No servername: Node then checks the dialed IP against the certificate's IP SANs.
    const { servername: _omit, ...byIp } = clientOpts(pki.client1);
    assert.deepEqual(await dial(srv.port, byIp), { ok: true });
  });

  it('a server certificate for another name is refused by the client (ERR_TLS_CERT_ALTNAME_INVALID)', async () => {
    const srv = await startServer(pki.wrongNameServer, pki.ca.certPem);
    assert.deepEqual(await dial(srv.port, clientOpts(pki.client1)), { ok: false, error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    const { servername: _omit, ...byIp } = clientOpts(pki.client1);
    assert.deepEqual(await dial(srv.port, byIp), { ok: false, error: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    assert.deepEqual(await dial(srv.port, { ...clientOpts(pki.client1), servername: 'other.example' }), { ok: true });
  });

  it('a client that trusts only another CA refuses the server', async () => {
    const srv = await startServer(pki.server, pki.ca.certPem);
    const r = await dial(srv.port, { ...clientOpts(pki.client1), ca: pki.foreignCa.certPem });
    assert.equal(r.ok, false);
    // OpenSSL sends the server's CA along with its certificate (it builds the chain from `ca`),
    // so the client sees a self-signed root it does not trust.
    assert.equal(r.error, 'SELF_SIGNED_CERT_IN_CHAIN');
  });
});
