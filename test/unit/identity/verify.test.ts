import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { IdentityError } from '../../../src/errors.js';
import {
  type IdentityFiles,
  type PemPair,
  createCa,
  issueCertificate,
  peerCertificateSummary,
  verifyIdentity,
} from '../../../src/identity/index.js';
import { nodeCrypto, x509 } from '../../../src/identity/x509.js';
import { type Pki, type PkiIdentity, makePki } from '../../helpers/pki.js';

/** Asserts an IdentityError for `file` whose problem matches `problem`, on one line. */
function expectIdentityError(fn: () => unknown, file: string, problem: RegExp | string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof IdentityError, `expected IdentityError, got ${String(err)}`);
    assert.equal(err.code, 'identity_invalid');
    assert.equal(err.file, file);
    if (typeof problem === 'string') assert.equal(err.problem, problem);
    else assert.match(err.problem, problem);
    assert.equal(err.message, `${file}: ${err.problem}`);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return true;
  });
}

function filesOf(id: { keyPem: string; certPem: string }, caPem: string): IdentityFiles {
  return { key: { path: '/in/key.pem', pem: id.keyPem }, cert: { path: '/in/crt.pem', pem: id.certPem }, ca: { path: '/in/ca.pem', pem: caPem } };
}

/**
 * A leaf signed by `ca` with a hand-made subject and extensions, for certificates
 * issueCertificate refuses to make (bad CN, no CN, no EKU).
 */
async function rawLeaf(ca: PemPair, subject: x509.JsonName, extensions: x509.Extension[]): Promise<PemPair> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256' };
  const caKey = await webcrypto.subtle.importKey('pkcs8', createPrivateKey(ca.keyPem).export({ type: 'pkcs8', format: 'der' }), alg, false, ['sign']);
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const caCert = new x509.X509Certificate(ca.certPem);
  const ski = caCert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId ?? '';
  const cert = await x509.X509CertificateGenerator.create(
    {
      subject,
      issuer: caCert.subjectName,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      publicKey: keys.publicKey as never,
      signingKey: caKey as never,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as never,
      extensions: [new x509.AuthorityKeyIdentifierExtension(ski), ...extensions],
    },
    nodeCrypto,
  );
  return {
    keyPem: webcryptoToPem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
    certPem: cert.toString('pem'),
  };
}

function webcryptoToPem(der: ArrayBuffer): string {
  return createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' }).export({ type: 'pkcs8', format: 'pem' }).toString();
}

describe('verifyIdentity', () => {
  let pki: Pki;
  before(async () => {
    pki = await makePki();
  });
  after(async () => {
    await pki.cleanup();
  });

  const good = (id: PkiIdentity = pki.client1): IdentityFiles => filesOf(id, pki.ca.certPem);

  it('returns the identity of a good key, certificate and CA', () => {
    const info = verifyIdentity(good(pki.server), { purpose: 'server' });
    const cert = new X509Certificate(pki.server.certPem);
    assert.equal(info.cn, 'server');
    assert.equal(info.fingerprint256, cert.fingerprint256);
    assert.equal(info.notBefore.getTime(), Date.parse(cert.validFrom));
    assert.equal(info.notAfter.getTime(), Date.parse(cert.validTo));
    assert.deepEqual(info.sans, ['DNS:server', 'DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
    assert.equal(info.serialHex, pki.server.serialHex);
    assert.equal(info.issuerCn, 'restpipe-test-ca');
  });

  it('accepts Buffers as well as strings', () => {
    const f = good();
    const info = verifyIdentity({
      key: { path: f.key.path, pem: Buffer.from(f.key.pem) },
      cert: { path: f.cert.path, pem: Buffer.from(f.cert.pem) },
      ca: { path: f.ca.path, pem: Buffer.from(f.ca.pem) },
    });
    assert.equal(info.cn, 'client1');
  });

  it('accepts a CA bundle that holds the issuer among others', () => {
    const info = verifyIdentity(filesOf(pki.client1, pki.foreignCa.certPem + pki.ca.certPem));
    assert.equal(info.cn, 'client1');
  });

  describe('key file', () => {
    it('empty', () => expectIdentityError(() => verifyIdentity({ ...good(), key: { path: '/k', pem: '  \n' } }), '/k', /^file is empty/));
    it('not PEM', () =>
      expectIdentityError(() => verifyIdentity({ ...good(), key: { path: '/k', pem: 'hello' } }), '/k', /^not a PEM private key/));
    it('holds a certificate (arguments swapped)', () =>
      expectIdentityError(() => verifyIdentity({ ...good(), key: { path: '/k', pem: pki.client1.certPem } }), '/k', /certificate, not a private key.*swapped/));
    it('holds a public key', () => {
      const pubPem = new X509Certificate(pki.client1.certPem).publicKey.export({ type: 'spki', format: 'pem' }).toString();
      expectIdentityError(() => verifyIdentity({ ...good(), key: { path: '/k', pem: pubPem } }), '/k', /public key, not a private key/);
    });
    it('encrypted', () => {
      const enc = createPrivateKey(pki.client1.keyPem)
        .export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' })
        .toString();
      expectIdentityError(() => verifyIdentity({ ...good(), key: { path: '/k', pem: enc } }), '/k', /^private key is encrypted/);
    });
    it('does not parse', () =>
      expectIdentityError(
        () => verifyIdentity({ ...good(), key: { path: '/k', pem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' } }),
        '/k',
        /^private key does not parse: /,
      ));
    it('is checked before the certificate', () =>
      expectIdentityError(
        () => verifyIdentity({ ...good(), key: { path: '/k', pem: 'x' }, cert: { path: '/c', pem: 'y' } }),
        '/k',
        /^not a PEM private key/,
      ));
  });

  describe('certificate file', () => {
    it('empty', () => expectIdentityError(() => verifyIdentity({ ...good(), cert: { path: '/c', pem: '' } }), '/c', /^file is empty/));
    it('not PEM', () =>
      expectIdentityError(() => verifyIdentity({ ...good(), cert: { path: '/c', pem: 'nope' } }), '/c', /^not a PEM certificate/));
    it('holds a private key (arguments swapped)', () =>
      expectIdentityError(() => verifyIdentity({ ...good(), cert: { path: '/c', pem: pki.client1.keyPem } }), '/c', /private key, not a certificate.*swapped/));
    it('does not parse', () =>
      expectIdentityError(
        () => verifyIdentity({ ...good(), cert: { path: '/c', pem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' } }),
        '/c',
        /^certificate does not parse: /,
      ));
  });

  describe('CA file', () => {
    it('empty', () => expectIdentityError(() => verifyIdentity({ ...good(), ca: { path: '/ca', pem: '' } }), '/ca', /^file is empty/));
    it('not PEM', () =>
      expectIdentityError(() => verifyIdentity({ ...good(), ca: { path: '/ca', pem: 'junk' } }), '/ca', /^not a PEM CA certificate/));
    it('does not parse', () =>
      expectIdentityError(
        () => verifyIdentity({ ...good(), ca: { path: '/ca', pem: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' } }),
        '/ca',
        /^CA certificate does not parse: /,
      ));
    it('is not a CA', () =>
      expectIdentityError(
        () => verifyIdentity({ ...good(), ca: { path: '/ca', pem: pki.client2.certPem } }),
        '/ca',
        'not a CA certificate (basicConstraints CA:TRUE missing)',
      ));
  });

  it('key does not match the certificate', () =>
    expectIdentityError(
      () => verifyIdentity({ ...good(), key: { path: '/k', pem: pki.client2.keyPem } }),
      '/k',
      'private key does not match the certificate in /in/crt.pem',
    ));

  it('certificate from a foreign CA (same CN)', () =>
    expectIdentityError(
      () => verifyIdentity(filesOf(pki.foreignClient, pki.ca.certPem)),
      '/in/crt.pem',
      'certificate is not signed by the CA in /in/ca.pem: issued by "CN=foreign-ca", CA is "CN=restpipe-test-ca"',
    ));

  it('certificate from another CA of the same name: the message names the fingerprint of the CA it was checked against', async () => {
    const twin = await createCa({ cn: 'restpipe-test-ca' });
    const leaf = await issueCertificate({ ca: twin, name: 'client1' });
    expectIdentityError(
      () => verifyIdentity(filesOf(leaf, pki.ca.certPem)),
      '/in/crt.pem',
      'certificate is not signed by the CA in /in/ca.pem but by another CA of the same name "CN=restpipe-test-ca" ' +
        `(the one in /in/ca.pem has SHA-256 fingerprint ${new X509Certificate(pki.ca.certPem).fingerprint256}): install the CA certificate that issued it`,
    );
  });

  it('expired certificate', () =>
    expectIdentityError(() => verifyIdentity(good(pki.expired)), '/in/crt.pem', 'certificate expired on 2020-02-01T00:00:00Z'));

  it('not-yet-valid certificate', () =>
    expectIdentityError(() => verifyIdentity(good(pki.notYetValid)), '/in/crt.pem', 'certificate not valid before 2099-01-01T00:00:00Z'));

  it('checks validity at opts.now', () => {
    expectIdentityError(() => verifyIdentity(good(), { now: new Date('2001-01-01T00:00:00Z') }), '/in/crt.pem', /^certificate not valid before /);
    const later = new Date(Date.now() + 900 * 86_400_000);
    expectIdentityError(() => verifyIdentity(good(), { now: later }), '/in/crt.pem', /^certificate expired on \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it('expired CA', async () => {
    const oldCa = await createCa({ notBefore: new Date('2019-01-01T00:00:00Z'), notAfter: new Date('2021-01-01T00:00:00Z') });
    const leaf = await issueCertificate({ ca: oldCa, name: 'client9' });
    expectIdentityError(() => verifyIdentity(filesOf(leaf, oldCa.certPem)), '/in/ca.pem', 'CA certificate expired on 2021-01-01T00:00:00Z');
  });

  it('CN that is not a valid node name', async () => {
    const bad = await rawLeaf(pki.ca, [{ CN: ['bad name/x'] }], []);
    expectIdentityError(() => verifyIdentity(filesOf(bad, pki.ca.certPem)), '/in/crt.pem', /^CN "bad name\/x" is not a valid node name \(1-64 /);
  });

  it('no CN at all', async () => {
    const noCn = await rawLeaf(pki.ca, [{ O: ['acme'] }], []);
    expectIdentityError(() => verifyIdentity(filesOf(noCn, pki.ca.certPem)), '/in/crt.pem', /^certificate has no CN/);
  });

  it('extended key usage that does not allow the purpose', () => {
    expectIdentityError(
      () => verifyIdentity(good(pki.serverOnlyEku), { purpose: 'client' }),
      '/in/crt.pem',
      "certificate's extended key usage (serverAuth) does not allow TLS client authentication",
    );
    assert.equal(verifyIdentity(good(pki.serverOnlyEku), { purpose: 'server' }).cn, 'wrongeku1');
    assert.equal(verifyIdentity(good(pki.serverOnlyEku)).cn, 'wrongeku1', "purpose defaults to 'any'");
  });

  it('a certificate without extended key usage allows any purpose', async () => {
    const noEku = await rawLeaf(pki.ca, [{ CN: ['plain'] }], []);
    assert.equal(new X509Certificate(noEku.certPem).keyUsage, undefined);
    assert.equal(verifyIdentity(filesOf(noEku, pki.ca.certPem), { purpose: 'client' }).cn, 'plain');
    assert.equal(verifyIdentity(filesOf(noEku, pki.ca.certPem), { purpose: 'server' }).cn, 'plain');
  });
});

describe('peerCertificateSummary', () => {
  let pki: Pki;
  before(async () => {
    pki = await makePki();
  });
  after(async () => {
    await pki.cleanup();
  });

  it('summarises an X509Certificate', () => {
    const cert = new X509Certificate(pki.expired.certPem);
    assert.deepEqual(peerCertificateSummary(cert), {
      cn: 'expired1',
      issuerCn: 'restpipe-test-ca',
      fingerprint256: cert.fingerprint256,
      validTo: '2020-02-01T00:00:00Z',
    });
  });

  it('summarises a tls PeerCertificate and tolerates the empty one', () => {
    const legacy = new X509Certificate(pki.client1.certPem).toLegacyObject();
    const s = peerCertificateSummary(legacy);
    assert.equal(s.cn, 'client1');
    assert.equal(s.issuerCn, 'restpipe-test-ca');
    assert.equal(s.fingerprint256, legacy.fingerprint256);
    assert.match(s.validTo ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.deepEqual(Object.keys(s).sort(), ['cn', 'fingerprint256', 'issuerCn', 'validTo']);
    assert.deepEqual(peerCertificateSummary({} as PeerCertificate), {});
    assert.deepEqual(peerCertificateSummary(undefined), {});
  });
});
