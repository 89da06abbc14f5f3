// judgePeer (src/server/peer-identity.ts) reads the client certificate through Node's
// X509Certificate view (issue 14: the object form cost a storm ~150 µs a connection). What it
// accepts and refuses must not change: exactly one CN that is a node name, a client EKU when an
// EKU is given. Certificates with no CN, two CNs, an escaped or multi-valued CN are made with
// the openssl CLI (restpipe's CA code only issues well-formed names) and shown over real TLS.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import tls from 'node:tls';

import { judgePeer } from '../../../src/server/peer-identity.js';
import { makePki, type Pki } from '../../helpers/pki.js';

let pki: Pki;
before(async () => {
  pki = await makePki();
});
after(() => pki?.cleanup());

/** A client certificate signed by the test CA with this subject (openssl's -subj syntax). */
function issue(name: string, subject: string, eku = 'clientAuth'): { key: string; cert: string } {
  const key = join(pki.dir, `${name}.key.pem`);
  const csr = join(pki.dir, `${name}.csr`);
  const cert = join(pki.dir, `${name}.crt.pem`);
  const ext = join(pki.dir, `${name}.ext`);
  writeFileSync(ext, `basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n${eku === '' ? '' : `extendedKeyUsage=${eku}\n`}`);
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', subject, '-multivalue-rdn', '-out', csr], { stdio: 'ignore' });
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', pki.ca.certPath, '-CAkey', pki.ca.keyPath, '-CAcreateserial', '-days', '2', '-extfile', ext, '-out', cert], { stdio: 'ignore' });
  return { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') };
}

/** judgePeer's verdict on a connection presenting `id`. */
async function judged(id: { key: string; cert: string }): Promise<ReturnType<typeof judgePeer>> {
  let verdict: ReturnType<typeof judgePeer> | undefined;
  const server = tls.createServer({ ...pki.server.tls, requestCert: true, rejectUnauthorized: false }, (socket) => {
    verdict = judgePeer(socket);
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, servername: 'localhost', ...id, ca: pki.ca.certPem });
  client.on('error', () => {});
  await new Promise<void>((r) => client.once('close', () => r()));
  await new Promise<void>((r) => server.close(() => r()));
  assert.ok(verdict !== undefined);
  return verdict;
}

test('a good client: its CN, fingerprint, notAfter, DER and the certificate object', async () => {
  const v = await judged(pki.client1.tls);
  assert.equal(v.accepted, true);
  if (!v.accepted) return;
  assert.equal(v.name, 'client1');
  assert.match(v.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(v.validTo, v.cert.validTo);
  assert.deepEqual(v.der, v.cert.raw);
});

test('no CN, two CNs, a multi-valued RDN, a CN that needs escaping: refused with a reason; other attributes do not matter', async () => {
  const cases: Array<[string, string, RegExp | string]> = [
    ['nocn', '/O=restpipe test', 'certificate has no CN'],
    ['twocn', '/CN=client1/CN=client2', 'certificate has several CNs'],
    ['multi', '/CN=client1+CN=client2', /is not a valid node name/],
    ['comma', '/CN=a\\,b', /is not a valid node name/],
  ];
  for (const [name, subject, reason] of cases) {
    const v = await judged(issue(name, subject));
    assert.equal(v.accepted, false, subject);
    if (v.accepted) continue;
    if (typeof reason === 'string') assert.equal(v.reason, reason, subject);
    else assert.match(v.reason, reason, subject);
  }
  const withO = await judged(issue('witho', '/C=DE/O=ACME/OU=ops/CN=node-7'));
  assert.equal(withO.accepted && withO.name, 'node-7');
});

test('an EKU without clientAuth is refused (OpenSSL says INVALID_PURPOSE first); none at all is accepted', async () => {
  const serverOnly = await judged(pki.serverOnlyEku.tls);
  assert.equal(serverOnly.accepted, false);
  assert.match(serverOnly.accepted ? '' : serverOnly.reason, /INVALID_PURPOSE/);
  const noEku = await judged(issue('noeku', '/CN=noeku', ''));
  assert.equal(noEku.accepted && noEku.name, 'noeku');
});
