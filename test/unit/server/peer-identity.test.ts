// judgePeer (src/server/peer-identity.ts) reads the client certificate through Node's
// object view after a full handshake and its X509Certificate view on a resumed session, the
// cheaper one in each case (issue 14). Both must give the same verdict: exactly one CN that is a
// node name, a client EKU when an EKU is given. Certificates with no CN, two CNs, an escaped or
// multi-valued CN are made with the openssl CLI (restpipe's CA code only issues well-formed
// names) and shown over real TLS, first in a full handshake, then resumed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
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

type Verdict = ReturnType<typeof judgePeer>;

/**
 * judgePeer's verdicts on two connections presenting `id`: a full handshake, then one resuming
 * its session. They must agree (except for the X509Certificate handed on for the re-check).
 */
async function judged(id: { key: string; cert: string }): Promise<{ full: Verdict; resumed: Verdict }> {
  const verdicts: Verdict[] = [];
  const server = tls.createServer(
    { ...pki.server.tls, requestCert: true, rejectUnauthorized: false, ticketKeys: randomBytes(48), sessionTimeout: 60 },
    (socket) => {
      verdicts.push(judgePeer(socket));
      socket.on('error', () => {});
      socket.end('x'); // after the tickets, so the client gets its session
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  let session: Buffer | undefined;
  for (let i = 0; i < 2; i++) {
    const client = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...id, ca: pki.ca.certPem, ...(session === undefined ? {} : { session }) });
    let reused: boolean | undefined;
    client.on('secureConnect', () => (reused = client.isSessionReused()));
    client.on('session', (s: Buffer) => (session = s));
    client.on('error', () => {});
    client.resume();
    await new Promise<void>((r) => client.once('close', () => r()));
    if (reused !== (i === 1)) {
      server.close();
      assert.fail(`connection ${i + 1}: resumed ${String(reused)}`);
    }
  }
  await new Promise<void>((r) => server.close(() => r()));
  const [full, resumed] = verdicts;
  assert.ok(full !== undefined && resumed !== undefined);
  // The same verdict from either view; a refused name is quoted as each view prints it (the
  // X509Certificate view escapes a trailing space, for one), so quoted names are left out.
  const comparable = (v: Verdict): unknown =>
    v.accepted ? { ...v, cert: undefined } : { ...v, cn: undefined, reason: v.reason.replace(/CN ".*" is not/, 'CN … is not') };
  assert.deepEqual(comparable(resumed), comparable(full), 'the same verdict from either view');
  return { full, resumed };
}

test('a good client: its CN, fingerprint, notAfter, DER; the certificate object for a resumed session only', async () => {
  const { full, resumed } = await judged(pki.client1.tls);
  assert.equal(full.accepted && resumed.accepted, true);
  if (!full.accepted || !resumed.accepted) return;
  assert.equal(full.name, 'client1');
  assert.match(full.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  assert.equal(full.cert, undefined);
  assert.equal(resumed.cert?.validTo, full.validTo);
  assert.deepEqual(resumed.cert?.raw, full.der);
});

test('no CN, two CNs, a multi-valued RDN, a CN that needs escaping: refused with a reason; other attributes do not matter', async () => {
  const cases: Array<[string, string, RegExp | string]> = [
    ['nocn', '/O=restpipe test', 'certificate has no CN'],
    ['twocn', '/CN=client1/CN=client2', 'certificate has several CNs'],
    ['multi', '/CN=client1+CN=client2', 'certificate has several CNs'],
    ['plus', '/CN=client1 + CN=client2', /is not a valid node name/],
    ['comma', '/CN=a\\,b', /is not a valid node name/],
  ];
  for (const [name, subject, reason] of cases) {
    const { full: v } = await judged(issue(name, subject));
    assert.equal(v.accepted, false, subject);
    if (v.accepted) continue;
    if (typeof reason === 'string') assert.equal(v.reason, reason, subject);
    else assert.match(v.reason, reason, subject);
  }
  const { full: withO } = await judged(issue('witho', '/C=DE/O=ACME/OU=ops/CN=node-7'));
  assert.equal(withO.accepted && withO.name, 'node-7');
});

test('an EKU without clientAuth is refused (OpenSSL says INVALID_PURPOSE first); none at all is accepted', async () => {
  const { full: serverOnly } = await judged(pki.serverOnlyEku.tls);
  assert.equal(serverOnly.accepted, false);
  assert.match(serverOnly.accepted ? '' : serverOnly.reason, /INVALID_PURPOSE/);
  const { full: noEku } = await judged(issue('noeku', '/CN=noeku', ''));
  assert.equal(noEku.accepted && noEku.name, 'noeku');
});
