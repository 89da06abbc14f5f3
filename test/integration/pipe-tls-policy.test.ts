// The TLS the pipe offers, on both ends (issue 13 item 4, src/tls-policy.ts): TLS 1.3, and for
// TLS 1.2 only Mozilla intermediate's ECDHE AEAD suites; `tlsMinVersion: 'TLSv1.3'` (--tls-min
// 1.3) refuses TLS 1.2. The server is probed with raw Node TLS clients offering one suite or
// group at a time; the client is pointed at plain Node TLS servers offering what it must refuse.
// testssl.sh scans a real server in test/faults/tls-testssl.test.ts; this one needs nothing
// outside Node.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';

import { TLS12_CIPHERS, TLS13_CIPHERSUITES, type RestpipeServer } from 'restpipe';
import { startTestBed, type TestBed } from '../helpers/nodes.js';
import { onceEvent } from '../helpers/wait.js';

/** What a raw TLS client got: the protocol and suite, or the error code. */
type Outcome = { ok: true; protocol: string; cipher: string } | { ok: false; code: string };

let bed: TestBed;
let port: number;

before(async () => {
  bed = await startTestBed();
  ({ port } = await bed.server());
});
after(async () => {
  await bed?.close();
});

/** One TLS handshake with the client1 identity and `options`, bounded. */
function handshake(targetPort: number, options: tls.ConnectionOptions): Promise<Outcome> {
  const id = bed.pki.client1.tls;
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port: targetPort, servername: 'localhost', ...id, ...options });
    const timer = setTimeout(() => finish({ ok: false, code: 'TIMEOUT' }), 3_000);
    const finish = (outcome: Outcome): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    socket.once('secureConnect', () => finish({ ok: true, protocol: socket.getProtocol() ?? '', cipher: socket.getCipher().name }));
    socket.once('error', (err: NodeJS.ErrnoException) => finish({ ok: false, code: err.code ?? err.message }));
  });
}

describe('the server (default: TLS 1.2 and 1.3)', () => {
  test('negotiates TLS 1.3 with an AEAD suite, and TLS 1.2 with an ECDHE AEAD suite', async () => {
    const v13 = await handshake(port, {});
    assert.ok(v13.ok && v13.protocol === 'TLSv1.3' && TLS13_CIPHERSUITES.includes(v13.cipher), JSON.stringify(v13));
    for (const cipher of TLS12_CIPHERS.filter((c) => c.startsWith('ECDHE-ECDSA'))) {
      const v12 = await handshake(port, { maxVersion: 'TLSv1.2', ciphers: cipher });
      assert.deepEqual(v12, { ok: true, protocol: 'TLSv1.2', cipher }, cipher);
    }
  });

  test('refuses every suite outside the policy: CBC with SHA-1 or SHA-2 MACs, CCM, CCM8, ARIA', async () => {
    const tls12 = ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA', 'ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA384',
      'ECDHE-ECDSA-AES128-CCM', 'ECDHE-ECDSA-AES256-CCM8', 'ECDHE-ECDSA-ARIA128-GCM-SHA256', 'ECDHE-ECDSA-ARIA256-GCM-SHA384'];
    for (const cipher of tls12) {
      const r = await handshake(port, { maxVersion: 'TLSv1.2', ciphers: cipher });
      assert.deepEqual(r, { ok: false, code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' }, cipher);
    }
    for (const cipher of ['TLS_AES_128_CCM_SHA256', 'TLS_AES_128_CCM_8_SHA256']) {
      const r = await handshake(port, { minVersion: 'TLSv1.3', ciphers: cipher });
      assert.deepEqual(r, { ok: false, code: 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE' }, cipher);
    }
  });

  test('offers only X25519, P-256 and P-384 for the key exchange', async () => {
    for (const group of ['X25519', 'P-256', 'P-384']) assert.equal((await handshake(port, { ecdhCurve: group })).ok, true, group);
    for (const group of ['P-521', 'X448']) assert.equal((await handshake(port, { ecdhCurve: group })).ok, false, group);
  });

  test('refuses a TLS 1.2 renegotiation, even from a peer with a valid certificate', async () => {
    // Node alone lets a client renegotiate three times per 10 minutes (each one a full handshake
    // for the server): the renegotiate() callback then reports success. Refused, the server
    // answers with an alert and the connection ends.
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...bed.pki.client1.tls, maxVersion: 'TLSv1.2' });
    await onceEvent(socket, 'secureConnect');
    const errored = onceEvent<[NodeJS.ErrnoException]>(socket, 'error');
    let renegotiated = false;
    socket.renegotiate({}, (err) => (renegotiated = err === null || err === undefined));
    const [err] = await errored;
    // The no_renegotiation alert; OpenSSL reports EPROTO instead when application data (the
    // server's hello frame) reaches it first.
    assert.match(String(err.code), /^(ERR_SSL_NO_RENEGOTIATION|EPROTO)$/);
    assert.equal(renegotiated, false);
    socket.destroy();
  });

  test('refuses TLS 1.1 and older', async () => {
    const r = await handshake(port, { minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' });
    assert.equal(r.ok, false);
  });
});

describe('tlsMinVersion TLSv1.3 (--tls-min 1.3)', () => {
  let server13: RestpipeServer;
  let port13: number;
  before(async () => {
    ({ server: server13, port: port13 } = await bed.server({ tlsMinVersion: 'TLSv1.3' }));
  });

  test('the server refuses a TLS 1.2 client and serves a restpipe client over TLS 1.3', async () => {
    const r = await handshake(port13, { maxVersion: 'TLSv1.2' });
    assert.equal(r.ok, false);
    assert.equal((await handshake(port13, {})).ok, true);
    await bed.connectedClient(server13, port13, bed.pki.client2, { tlsMinVersion: 'TLSv1.3' });
  });

  test('a library caller gets invalid_option for anything else', () => {
    assert.throws(() => bed.client(port13, bed.pki.client1, { tlsMinVersion: 'TLSv1.1' as 'TLSv1.2' }), { code: 'invalid_option' });
  });
});

describe('the client refuses a server outside the policy', () => {
  /** A plain Node TLS server with the server identity and `options`; reports handshakes that completed or failed. */
  async function plainServer(options: tls.TlsOptions): Promise<{ port: number; server: tls.Server }> {
    const { key, cert } = bed.pki.server.tls;
    const server = tls.createServer({ key, cert, ...options });
    // Closed a turn later, so that a test's own listener still reads the negotiated protocol.
    server.on('secureConnection', (s) => setImmediate(() => s.destroy()));
    server.on('tlsClientError', () => {});
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    bed.defer(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return { port: (server.address() as AddressInfo).port, server };
  }

  test('a TLS 1.2 server with only CBC suites: no handshake', async () => {
    const { port: p, server } = await plainServer({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384' });
    const failed = onceEvent(server, 'tlsClientError');
    const client = bed.client(p, bed.pki.client1);
    const [err] = (await failed) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ERR_SSL_NO_SHARED_CIPHER');
    await client.close({ graceMs: 0 });
  });

  test('a TLS 1.2-only server: accepted by default, refused by a client with tlsMinVersion TLSv1.3', async () => {
    const { port: p, server } = await plainServer({ maxVersion: 'TLSv1.2' });
    const secured = onceEvent(server, 'secureConnection');
    const ok = bed.client(p, bed.pki.client1);
    const [socket] = (await secured) as [tls.TLSSocket];
    assert.equal(socket.getProtocol(), 'TLSv1.2');
    assert.ok(TLS12_CIPHERS.includes(socket.getCipher().name), socket.getCipher().name);
    await ok.close({ graceMs: 0 });

    const failed = onceEvent(server, 'tlsClientError');
    const strict = bed.client(p, bed.pki.client1, { tlsMinVersion: 'TLSv1.3' });
    const [err] = (await failed) as [NodeJS.ErrnoException];
    assert.equal(err.code, 'ERR_SSL_UNSUPPORTED_PROTOCOL');
    await strict.close({ graceMs: 0 });
  });
});
