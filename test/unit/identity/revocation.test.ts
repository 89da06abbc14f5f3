// revocationChecker (src/identity/revocation.ts): the pipe server's check of open pipes against a
// reloaded CRL. A certificate is revoked when a CRL of its issuer lists its serial; the same
// serial from another issuer, or an unlisted one, is not.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';

import { createCrl, issueCertificate, revocationChecker } from '../../../src/identity/index.js';
import { makePki, type Pki } from '../../helpers/pki.js';

let pki: Pki;
before(async () => {
  pki = await makePki();
});
after(() => pki?.cleanup());

const der = (pem: string): Buffer => new X509Certificate(pem).raw;

test('listed serial of the same issuer: revoked; others: not', () => {
  const isRevoked = revocationChecker(pki.crl.pem);
  assert.equal(isRevoked(der(pki.revoked.certPem)), true);
  assert.equal(isRevoked(der(pki.client1.certPem)), false);
  assert.equal(isRevoked(der(pki.foreignClient.certPem)), false, 'another issuer');
});

test('an empty CRL revokes nothing; several CRLs (array or one file) are all applied', async () => {
  const empty = await createCrl({ ca: pki.ca, revoked: [] });
  assert.equal(revocationChecker(empty)(der(pki.revoked.certPem)), false);
  const foreignLeaf = await issueCertificate({ ca: pki.foreignCa, name: 'f1', usage: 'client' });
  const foreignCrl = await createCrl({ ca: pki.foreignCa, revoked: [{ serialHex: foreignLeaf.serialHex }] });
  for (const crls of [[pki.crl.pem, foreignCrl], pki.crl.pem + foreignCrl]) {
    const isRevoked = revocationChecker(crls);
    assert.equal(isRevoked(der(pki.revoked.certPem)), true);
    assert.equal(isRevoked(der(foreignLeaf.certPem)), true);
    assert.equal(isRevoked(der(pki.client2.certPem)), false);
  }
});

test('the same serial number under another issuer is not revoked', async () => {
  const foreignCrl = await createCrl({ ca: pki.foreignCa, revoked: [{ serialHex: pki.client1.serialHex }] });
  assert.equal(revocationChecker(foreignCrl)(der(pki.client1.certPem)), false);
});

test('a CRL that does not parse throws', () => {
  assert.throws(() => revocationChecker('-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n'));
});
