// CertificateRecheck (src/cert-recheck.ts): what a resumed TLS session's certificate is
// checked against (SPEC §6, issue 14): the CA in force, the dates now, the CRL in force; each
// fault named with OpenSSL's code. Whether a real handshake gives the same codes is in
// test/integration/pipe-tls-resumption-recheck.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';

import { createCa, createCrl, issueCertificate } from '../../src/identity/index.js';
import { CertificateRecheck, canonicalSerial, splitPemCertificates } from '../../src/cert-recheck.js';
import { crlsForRecheck } from '../../src/identity/revocation.js';
import { makePki, type Pki } from '../helpers/pki.js';

let pki: Pki;
before(async () => {
  pki = await makePki();
});
after(() => pki?.cleanup());

const x509 = (pem: string): X509Certificate => new X509Certificate(pem);

test('without a CRL: good passes; expired, not yet valid and foreign-CA certificates get OpenSSL codes', () => {
  const recheck = new CertificateRecheck({ ca: pki.ca.certPem });
  assert.equal(recheck.check(x509(pki.client1.certPem)), undefined);
  assert.equal(recheck.check(x509(pki.expired.certPem)), 'CERT_HAS_EXPIRED');
  assert.equal(recheck.check(x509(pki.notYetValid.certPem)), 'CERT_NOT_YET_VALID');
  assert.equal(recheck.check(x509(pki.foreignClient.certPem)), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'same CN, other CA');
  assert.equal(recheck.check(x509(pki.revoked.certPem)), undefined, 'no CRL configured: not checked, as OpenSSL without `crl`');
});

test('with a CRL: revoked, stale CRL, and a CA that has no CRL', async () => {
  const withCrl = new CertificateRecheck({ ca: pki.ca.certPem, crls: crlsForRecheck(pki.crl.pem, pki.ca.certPem) });
  assert.equal(withCrl.check(x509(pki.revoked.certPem)), 'CERT_REVOKED');
  assert.equal(withCrl.check(x509(pki.client1.certPem)), undefined);

  const stale = new CertificateRecheck({ ca: pki.ca.certPem, crls: crlsForRecheck(pki.staleCrl.pem, pki.ca.certPem) });
  assert.equal(stale.check(x509(pki.client1.certPem)), 'CRL_HAS_EXPIRED');
  assert.equal(stale.check(x509(pki.revoked.certPem)), 'CERT_REVOKED', 'OpenSSL reports the revocation after the CRL date');

  // Two trusted CAs, a CRL for one only: the other's certificates cannot be checked (X509_V_FLAG_CRL_CHECK).
  const foreignLeaf = await issueCertificate({ ca: pki.foreignCa, name: 'foreign2', usage: 'client' });
  const both = [pki.ca.certPem, pki.foreignCa.certPem];
  const partial = new CertificateRecheck({ ca: both, crls: crlsForRecheck(pki.crl.pem, both) });
  assert.equal(partial.check(x509(foreignLeaf.certPem)), 'UNABLE_TO_GET_CRL');
  assert.equal(partial.check(x509(pki.client2.certPem)), undefined);
  const foreignCrl = await createCrl({ ca: pki.foreignCa, revoked: [{ serialHex: foreignLeaf.serialHex }] });
  const full = new CertificateRecheck({ ca: both, crls: crlsForRecheck([pki.crl.pem, foreignCrl], both) });
  assert.equal(full.check(x509(foreignLeaf.certPem)), 'CERT_REVOKED');
  assert.equal(full.check(x509(pki.revoked.certPem)), 'CERT_REVOKED');
  assert.equal(full.check(x509(pki.client2.certPem)), undefined);
});

test('a certificate whose session came from a CA since replaced is refused; one from a bundle that still holds the old CA is not', async () => {
  const newCa = await createCa({ cn: 'restpipe-test-ca' }); // same name, new key: only the signature tells them apart
  const replaced = new CertificateRecheck({ ca: newCa.certPem });
  assert.equal(replaced.check(x509(pki.client1.certPem)), 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  const rollover = new CertificateRecheck({ ca: [newCa.certPem, pki.ca.certPem] });
  assert.equal(rollover.check(x509(pki.client1.certPem)), undefined);
});

test('dates follow the clock, to the second: valid during its notAfter second, expired after; the CA expiring counts too', async () => {
  const notBefore = new Date('2030-01-01T00:00:00Z');
  const notAfter = new Date('2030-01-01T01:00:00Z');
  const leaf = await issueCertificate({ ca: pki.ca, name: 'dated', usage: 'client', notBefore, notAfter });
  let now = notBefore.getTime() - 1;
  const recheck = new CertificateRecheck({ ca: pki.ca.certPem, now: () => now });
  const cert = x509(leaf.certPem);
  assert.equal(recheck.check(cert), 'CERT_NOT_YET_VALID');
  now = notBefore.getTime();
  assert.equal(recheck.check(cert), undefined);
  now = notAfter.getTime() + 999;
  assert.equal(recheck.check(cert), undefined, 'the last second is still valid (OpenSSL compares whole seconds)');
  now = notAfter.getTime() + 1_000;
  assert.equal(recheck.check(cert), 'CERT_HAS_EXPIRED');

  const caNotAfter = Date.parse(x509(pki.ca.certPem).validTo);
  now = caNotAfter + 1_000;
  assert.equal(new CertificateRecheck({ ca: pki.ca.certPem, now: () => now }).check(x509(pki.client1.certPem)), 'CERT_HAS_EXPIRED');
});

test('a certificate is verified once and remembered by fingerprint; the memory is bounded', async () => {
  const recheck = new CertificateRecheck({ ca: pki.ca.certPem, maxCached: 2 });
  recheck.check(x509(pki.client1.certPem));
  recheck.check(x509(pki.client1.certPem));
  assert.equal(recheck.cachedCount, 1);
  recheck.check(x509(pki.client2.certPem));
  recheck.check(x509(pki.revoked.certPem));
  assert.equal(recheck.cachedCount, 2, 'the oldest verdict made room');
  assert.equal(recheck.check(x509(pki.client1.certPem)), undefined, 'and is computed again when needed');
});

test('helpers: PEM bundles split per certificate; serials compare without separators or leading zero bytes', () => {
  assert.equal(splitPemCertificates(pki.ca.certPem + pki.foreignCa.certPem).length, 2);
  assert.equal(splitPemCertificates([pki.ca.certPem, Buffer.from(pki.foreignCa.certPem)]).length, 2);
  assert.equal(splitPemCertificates('no pem here').length, 0);
  assert.equal(canonicalSerial('00:AB:0c'), 'ab0c');
  assert.equal(canonicalSerial('ABC'), '0abc');
  assert.equal(canonicalSerial('00'), '00');
  assert.equal(canonicalSerial(x509(pki.revoked.certPem).serialNumber), canonicalSerial(pki.revoked.serialHex));
});
