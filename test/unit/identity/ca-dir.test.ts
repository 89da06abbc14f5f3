// The CA directory's operations (src/identity/ca-dir.ts, ca-index.ts, crl.ts) without the CLI:
// the index, the CRL that never loses a revocation, rebuilding the index of a CA dir made before
// it existed, renewals, the lock, and a clear error for each bad input.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { hasErrorCode } from '../../../src/errors.js';
import {
  CA_INDEX_FILE,
  CRL_FILE,
  createCa,
  createCrl,
  initCaDir,
  issueInCaDir,
  listCaDir,
  parseRevocationReason,
  readCrl,
  renewInCaDir,
  resignCaCrl,
  revocationChecker,
  revokeInCaDir,
  type CaIndex,
} from '../../../src/identity/index.js';
import { withCaDirLock } from '../../../src/identity/ca-index.js';

let root: string;
let n = 0;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'restpipe-ca-dir-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** A fresh CA dir with `names` issued. */
async function caDir(...names: string[]): Promise<string> {
  const dir = join(root, `ca-${++n}`);
  await initCaDir(dir, {});
  for (const name of names) await issueInCaDir(dir, name);
  return dir;
}

async function index(dir: string): Promise<CaIndex> {
  return JSON.parse(await readFile(join(dir, CA_INDEX_FILE), 'utf8')) as CaIndex;
}

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;
const identityError = (re: RegExp) => (err: Error) => hasErrorCode(err, 'identity_invalid') && re.test(err.message);
const invalidOption = (re: RegExp) => (err: Error) => hasErrorCode(err, 'invalid_option') && re.test(err.message);

describe('init and issue', () => {
  it('init writes the CA (key 0600) and an empty index (0644); a second init is refused', async () => {
    const dir = await caDir();
    assert.equal(await mode(join(dir, 'ca.key.pem')), 0o600);
    assert.equal(await mode(join(dir, CA_INDEX_FILE)), 0o644);
    const ix = await index(dir);
    assert.deepEqual(ix.certificates, []);
    assert.equal(ix.caFingerprint256, new X509Certificate(await readFile(join(dir, 'ca.crt.pem'))).fingerprint256);
    await assert.rejects(initCaDir(dir, {}), identityError(/index\.json: already exists/));
  });

  it('issue records the certificate as it is; a name that has a key here, or an IP, is refused', async () => {
    const dir = await caDir();
    const r = await issueInCaDir(dir, 'web', { sans: ['web.example.com', '10.1.2.3'] });
    const cert = new X509Certificate(r.issued.certPem);
    const [entry] = (await index(dir)).certificates;
    assert.deepEqual(entry, {
      name: 'web',
      serial: r.issued.serialHex,
      notBefore: new Date(cert.validFrom).toISOString(),
      notAfter: new Date(cert.validTo).toISOString(),
      sans: ['DNS:web', 'DNS:web.example.com', 'IP:10.1.2.3', 'DNS:localhost', 'IP:127.0.0.1', 'IP:::1'],
      keyType: 'ec',
      fingerprint256: cert.fingerprint256,
      recordedAt: entry!.recordedAt,
    });
    await assert.rejects(issueInCaDir(dir, 'web'), identityError(/web\.key\.pem: already exists; to give web a new certificate, use: restpipe ca renew web --dir /));
    await assert.rejects(issueInCaDir(dir, '10.0.0.9'), invalidOption(/an IP address/));
    await assert.rejects(issueInCaDir(join(root, 'nowhere'), 'x'), identityError(/ca\.crt\.pem: not found: run `restpipe ca init --dir DIR` first/));
    assert.equal((await index(dir)).certificates.length, 1);
  });
});

describe('revoke and the CRL', () => {
  it('revokes every valid certificate of a name into a CRL the CA signed, with the reason', async () => {
    const dir = await caDir('a', 'b');
    const renewed = await renewInCaDir(dir, 'a'); // two valid certificates named a now
    const r = await revokeInCaDir(dir, 'a', 'keyCompromise');
    assert.deepEqual(r.revoked.map((c) => c.serial).sort(), [renewed.previous.serial, renewed.entry.serial].sort());
    assert.equal(r.crl?.revokedCount, 2);
    const pem = await readFile(join(dir, CRL_FILE), 'utf8');
    assert.equal(await mode(join(dir, CRL_FILE)), 0o644);
    const crl = await readCrl(pem, await readFile(join(dir, 'ca.crt.pem'), 'utf8'));
    assert.equal(crl.signedByCa, true);
    assert.deepEqual(crl.entries.map((e) => e.reason), ['keyCompromise', 'keyCompromise']);
    // What the server's re-check uses sees it revoked; b is not.
    const isRevoked = revocationChecker(pem);
    assert.equal(isRevoked(new X509Certificate(await readFile(join(dir, 'a.crt.pem'))).raw), true);
    assert.equal(isRevoked(new X509Certificate(await readFile(join(dir, 'b.crt.pem'))).raw), false);
    const ix = await index(dir);
    assert.deepEqual(ix.certificates.filter((c) => c.revoked !== undefined).map((c) => c.name), ['a', 'a']);

    const again = await revokeInCaDir(dir, 'a');
    assert.deepEqual([again.revoked.length, again.alreadyRevoked.length, again.crl], [0, 2, undefined]);
  });

  it('revokes by serial in any form; an unknown short name is an error, an unknown full serial is revoked with a note', async () => {
    const dir = await caDir('a', 'b');
    const serialB = (await index(dir)).certificates[1]!.serial;
    const colons = serialB.toUpperCase().match(/../g)!.join(':');
    const r = await revokeInCaDir(dir, colons);
    assert.deepEqual(r.revoked.map((c) => c.name), ['b']);
    await assert.rejects(revokeInCaDir(dir, 'nobody'), invalidOption(/no certificate named "nobody" in .*index\.json/));
    await assert.rejects(revokeInCaDir(dir, 'abc'), invalidOption(/an unknown serial must be given in full/));
    const unknown = await revokeInCaDir(dir, '00f00dfeedbeef01', 'cessationOfOperation');
    assert.match(unknown.notes[0]!, /^note: serial f00dfeedbeef01 is not in .*; revoked anyway/);
    const crl = await readCrl(await readFile(join(dir, CRL_FILE), 'utf8'));
    assert.deepEqual(crl.entries.map((e) => [e.serialHex, e.reason]), [[serialB, 'unspecified'], ['f00dfeedbeef01', 'cessationOfOperation']]);
  });

  it('re-signing keeps every revocation, numbers each CRL above the last, and creates an empty one when missing', async () => {
    const dir = await caDir('a');
    const empty = await resignCaCrl(dir);
    assert.equal(empty.crl.revokedCount, 0);
    await revokeInCaDir(dir, 'a');
    const numbers: number[] = [];
    for (let i = 0; i < 3; i++) numbers.push((await resignCaCrl(dir)).crl.crlNumber!);
    assert.ok(numbers[0]! < numbers[1]! && numbers[1]! < numbers[2]!, `increasing within one second: ${numbers.join(', ')}`);
    const crl = await readCrl(await readFile(join(dir, CRL_FILE), 'utf8'));
    assert.equal(crl.entries.length, 1);
    assert.ok(Math.abs(crl.nextUpdate!.getTime() - (Date.now() + 7 * 86_400_000)) < 60_000);
  });

  it('refuses a crl.pem another CA signed, rather than replace its revocations', async () => {
    const dir = await caDir('a');
    await writeFile(join(dir, CRL_FILE), await createCrl({ ca: await createCa(), revoked: [] }));
    await assert.rejects(resignCaCrl(dir), identityError(/crl\.pem: is not signed by this CA/));
    await writeFile(join(dir, CRL_FILE), 'junk');
    await assert.rejects(revokeInCaDir(dir, 'a'), identityError(/crl\.pem: not a CRL/));
  });

  it('parses reasons as users type them', () => {
    assert.equal(parseRevocationReason('key-compromise', '--reason'), 'keyCompromise');
    assert.equal(parseRevocationReason('SUPERSEDED', '--reason'), 'superseded');
    assert.equal(parseRevocationReason('cessation_of_operation', '--reason'), 'cessationOfOperation');
    assert.throws(() => parseRevocationReason('certificateHold', '--reason'), invalidOption(/^--reason: expected one of unspecified, keyCompromise/));
  });
});

describe('an index rebuilt for a CA dir made before the index existed', () => {
  it('is started from the certificates this CA signed, revocations taken from the CRL, with a note', async () => {
    const dir = await caDir('a', 'b');
    await revokeInCaDir(dir, 'a', 'superseded');
    const before = await index(dir);
    await rm(join(dir, CA_INDEX_FILE));
    // A certificate of another CA and a file that is no certificate are not indexed.
    await writeFile(join(dir, 'other.crt.pem'), (await createCa({ cn: 'other' })).certPem);
    await writeFile(join(dir, 'junk.crt.pem'), 'junk');
    const listed = await listCaDir(dir);
    assert.deepEqual(listed.notes, [`note: ${join(dir, CA_INDEX_FILE)} did not exist: started it from the 2 certificates this CA signed found in ${dir}`]);
    assert.deepEqual(
      listed.certificates.map((c) => [c.name, c.serial, c.revoked?.reason]),
      before.certificates.map((c) => [c.name, c.serial, c.revoked?.reason]),
    );
    assert.equal((await index(dir)).certificates.length, 2, 'and written');
    assert.deepEqual((await listCaDir(dir)).notes, [], 'once');
  });

  it('a broken or foreign index is an error naming the file, and nothing is written', async () => {
    const dir = await caDir('a');
    const path = join(dir, CA_INDEX_FILE);
    const good = await readFile(path, 'utf8');
    for (const [text, re] of [
      ['{', /index\.json: not valid JSON/],
      ['{"version":2}', /"version": expected 1, got 2/],
      [good.replace(/"serial": "[0-9a-f]+"/, '"serial": "XYZ"'), /certificates\[0\]\.serial: expected lower-case hex/],
      [good.replace(/"caFingerprint256": "[^"]+"/, '"caFingerprint256": "AA:BB"'), /lists certificates of another CA \(AA:BB\)/],
    ] as const) {
      await writeFile(path, text);
      await assert.rejects(issueInCaDir(dir, 'b'), identityError(re));
      await assert.rejects(stat(join(dir, 'b.crt.pem')), { code: 'ENOENT' });
    }
  });
});

describe('renew', () => {
  it('keeps the SANs; a new key unless keepKey; the previous one is marked', async () => {
    const dir = await caDir();
    const first = await issueInCaDir(dir, 'fs', { sans: ['*.files.example.com', '10.9.8.7', '::2'], keyType: 'rsa' });
    const renewed = await renewInCaDir(dir, 'fs', { days: 10 });
    const a = new X509Certificate(first.issued.certPem);
    const b = new X509Certificate(renewed.issued.certPem);
    assert.equal(b.subjectAltName, a.subjectAltName);
    assert.equal(b.publicKey.asymmetricKeyType, 'rsa', 'the same key type');
    assert.notEqual(renewed.issued.keyPem, first.issued.keyPem);
    assert.ok(new Date(b.validTo).getTime() < Date.now() + 11 * 86_400_000);
    const kept = await renewInCaDir(dir, 'fs', { keepKey: true });
    assert.equal(kept.issued.keyPem, renewed.issued.keyPem);
    assert.equal(new X509Certificate(kept.issued.certPem).subjectAltName, a.subjectAltName);
    const ix = await index(dir);
    assert.deepEqual(ix.certificates.map((c) => [c.renews, c.renewedBy]), [
      [undefined, renewed.entry.serial],
      [first.entry.serial, kept.entry.serial],
      [renewed.entry.serial, undefined],
    ]);
  });

  it('needs a certificate to renew, and a matching key to keep', async () => {
    const dir = await caDir('fs', 'other');
    await assert.rejects(renewInCaDir(dir, 'nobody'), identityError(/nobody\.crt\.pem: no certificate to renew: issue one with restpipe ca issue nobody/));
    await rename(join(dir, 'other.key.pem'), join(dir, 'fs.key.pem'));
    await assert.rejects(renewInCaDir(dir, 'fs', { keepKey: true }), identityError(/fs\.key\.pem: does not match .*fs\.crt\.pem/));
    await rm(join(dir, 'fs.key.pem'));
    await assert.rejects(renewInCaDir(dir, 'fs', { keepKey: true }), identityError(/fs\.key\.pem: the key to keep \(--keep-key\) is missing/));
  });
});

describe('the lock', () => {
  it('refuses a second command while one runs, and takes over a lock its dead holder left', async () => {
    const dir = await caDir();
    await withCaDirLock(dir, async () => {
      await assert.rejects(issueInCaDir(dir, 'x'), identityError(new RegExp(`another restpipe ca command \\(pid ${process.pid}\\) is working on this CA dir`)));
    });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    await writeFile(join(dir, '.restpipe-ca.lock'), `${dead}\n`);
    await issueInCaDir(dir, 'x');
    await assert.rejects(stat(join(dir, '.restpipe-ca.lock')), { code: 'ENOENT' }, 'released');
  });
});
