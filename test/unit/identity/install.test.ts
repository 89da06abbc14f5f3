import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { IdentityError, hasErrorCode } from '../../../src/errors.js';
import {
  CA_CERT_FILE,
  CLIENT_CERT_FILE,
  CLIENT_KEY_FILE,
  SERVER_CERT_FILE,
  SERVER_KEY_FILE,
  installIdentity,
  writeKeyPair,
} from '../../../src/identity/index.js';
import { type Pki, type PkiIdentity, makePki } from '../../helpers/pki.js';

const mode = async (path: string): Promise<number> => (await stat(path)).mode & 0o777;

describe('installIdentity', () => {
  let pki: Pki;
  let n = 0;
  const freshDir = (): string => join(pki.dir, `install-${++n}`, 'certs');
  const source = (id: PkiIdentity, withCa = true): { keyPath: string; certPath: string; caPath?: string } =>
    withCa ? { keyPath: id.keyPath, certPath: id.certPath, caPath: pki.ca.certPath } : { keyPath: id.keyPath, certPath: id.certPath };

  before(async () => {
    pki = await makePki();
  });
  after(async () => {
    await pki.cleanup();
  });

  it('installs a server identity under the original names, keys 0600, certs 0644, dir 0700', async () => {
    const dir = freshDir();
    const r = await installIdentity('server', source(pki.server), dir);
    assert.equal(r.certDir, dir);
    assert.deepEqual(r.files, { key: join(dir, SERVER_KEY_FILE), cert: join(dir, SERVER_CERT_FILE), ca: join(dir, CA_CERT_FILE) });
    assert.deepEqual(r.written, [r.files.key, r.files.cert, r.files.ca]);
    assert.equal(r.info.cn, 'server');
    assert.deepEqual((await readdir(dir)).sort(), ['ca.crt.pem', 'restpipe.server.crt.pem', 'restpipe.server.key.pem']);
    assert.equal(await readFile(r.files.key, 'utf8'), pki.server.keyPem);
    assert.equal(await readFile(r.files.cert, 'utf8'), pki.server.certPem);
    assert.equal(await readFile(r.files.ca, 'utf8'), pki.ca.certPem);
    assert.equal(await mode(r.files.key), 0o600);
    assert.equal(await mode(r.files.cert), 0o644);
    assert.equal(await mode(r.files.ca), 0o644);
    assert.equal(await mode(dir), 0o700);
  });

  it('sets exact modes whatever the umask', async () => {
    const old = process.umask(0o077);
    try {
      const r = await installIdentity('client', source(pki.client1), freshDir());
      assert.equal(await mode(r.files.key), 0o600);
      assert.equal(await mode(r.files.cert), 0o644);
    } finally {
      process.umask(old);
    }
  });

  it('writes nothing when verification fails (not even the directory)', async () => {
    const dir = freshDir();
    await assert.rejects(installIdentity('client', source(pki.expired), dir), (err: unknown) => {
      assert.ok(err instanceof IdentityError);
      assert.equal(err.file, pki.expired.certPath);
      assert.match(err.problem, /^certificate expired on 2020-02-01T00:00:00Z$/);
      return true;
    });
    await assert.rejects(stat(dir), { code: 'ENOENT' });
  });

  it('leaves an existing installation untouched when the new one fails', async () => {
    const dir = freshDir();
    const first = await installIdentity('client', source(pki.client1), dir);
    const before = await Promise.all(first.written.map((p) => readFile(p, 'utf8')));
    for (const bad of [pki.foreignClient, pki.notYetValid]) {
      await assert.rejects(installIdentity('client', { keyPath: bad.keyPath, certPath: bad.certPath, caPath: pki.ca.certPath }, dir), IdentityError);
    }
    await assert.rejects(installIdentity('client', { keyPath: pki.client2.keyPath, certPath: pki.client1.certPath, caPath: pki.ca.certPath }, dir), /does not match/);
    assert.deepEqual(await Promise.all(first.written.map((p) => readFile(p, 'utf8'))), before);
    assert.deepEqual((await readdir(dir)).sort(), ['ca.crt.pem', 'restpipe.client.crt.pem', 'restpipe.client.key.pem']);
  });

  it('rolls back to the old files when a rename fails half-way', async () => {
    const dir = freshDir();
    const first = await installIdentity('client', source(pki.client1), dir);
    // A directory where the certificate goes: the key's rename succeeds, the certificate's fails.
    await rm(first.files.cert);
    await mkdir(join(first.files.cert, 'block'), { recursive: true });
    await assert.rejects(installIdentity('client', source(pki.client2), dir), IdentityError);
    assert.equal(await readFile(first.files.key, 'utf8'), pki.client1.keyPem, 'old key restored');
    assert.deepEqual((await readdir(dir)).sort(), ['ca.crt.pem', 'restpipe.client.crt.pem', 'restpipe.client.key.pem'], 'no temp or backup files left');
  });

  it('client 2-argument form fails clearly when no CA is installed', async () => {
    const dir = freshDir();
    await assert.rejects(installIdentity('client', source(pki.client1, false), dir), (err: unknown) => {
      assert.ok(err instanceof IdentityError);
      assert.equal(err.file, join(dir, CA_CERT_FILE));
      assert.match(err.message, /pass the CA certificate as the third argument/);
      return true;
    });
    await assert.rejects(stat(dir), { code: 'ENOENT' });
  });

  it('client 2-argument form uses the installed CA and does not rewrite it', async () => {
    const dir = freshDir();
    await installIdentity('client', source(pki.client1), dir);
    const caBefore = await stat(join(dir, CA_CERT_FILE));
    const r = await installIdentity('client', source(pki.client2, false), dir);
    assert.equal(r.info.cn, 'client2');
    assert.deepEqual(r.written, [join(dir, CLIENT_KEY_FILE), join(dir, CLIENT_CERT_FILE)]);
    assert.equal((await stat(join(dir, CA_CERT_FILE))).ino, caBefore.ino);
    assert.equal(await readFile(join(dir, CLIENT_CERT_FILE), 'utf8'), pki.client2.certPem);
    // And the installed CA still guards: a foreign certificate is refused.
    await assert.rejects(installIdentity('client', source(pki.foreignClient, false), dir), /not signed by the CA in .*ca\.crt\.pem/);
  });

  it('the server needs the CA argument', async () => {
    await assert.rejects(installIdentity('server', source(pki.server, false), freshDir()), /third argument/);
  });

  it('checks the extended key usage for the role', async () => {
    await assert.rejects(installIdentity('client', source(pki.serverOnlyEku), freshDir()), /does not allow TLS client authentication/);
    const r = await installIdentity('server', source(pki.serverOnlyEku), freshDir());
    assert.equal(r.info.cn, 'wrongeku1');
  });

  it('names a missing source file', async () => {
    const missing = join(pki.dir, 'nope.key.pem');
    await assert.rejects(installIdentity('server', { ...source(pki.server), keyPath: missing }, freshDir()), (err: unknown) => {
      assert.ok(err instanceof IdentityError);
      assert.equal(err.message, `${missing}: file not found`);
      return true;
    });
  });

  it('verifies at opts.now', async () => {
    await assert.rejects(
      installIdentity('client', source(pki.client1), freshDir(), { now: new Date('2001-01-01T00:00:00Z') }),
      /not valid before/,
    );
  });
});

describe('writeKeyPair', () => {
  let pki: Pki;
  before(async () => {
    pki = await makePki();
  });
  after(async () => {
    await pki.cleanup();
  });

  it('writes NAME.key.pem 0600 and NAME.crt.pem 0644, creating the directory 0700', async () => {
    const dir = join(pki.dir, 'kp', 'new');
    const r = await writeKeyPair(dir, 'ca', pki.ca);
    assert.deepEqual(r, { keyPath: join(dir, 'ca.key.pem'), certPath: join(dir, 'ca.crt.pem') });
    assert.equal(await readFile(r.keyPath, 'utf8'), pki.ca.keyPem);
    assert.equal(await readFile(r.certPath, 'utf8'), pki.ca.certPem);
    assert.equal(await mode(r.keyPath), 0o600);
    assert.equal(await mode(r.certPath), 0o644);
    assert.equal(await mode(dir), 0o700);
  });

  it('refuses to overwrite an existing key unless told to', async () => {
    const dir = join(pki.dir, 'kp2');
    const r = await writeKeyPair(dir, 'client1', pki.client1);
    await assert.rejects(writeKeyPair(dir, 'client1', pki.client2), (err: unknown) => {
      assert.ok(err instanceof IdentityError);
      assert.equal(err.file, r.keyPath);
      assert.match(err.problem, /already exists; refusing to overwrite/);
      return true;
    });
    assert.equal(await readFile(r.keyPath, 'utf8'), pki.client1.keyPem);
    await writeKeyPair(dir, 'client1', pki.client2, { overwrite: true });
    assert.equal(await readFile(r.keyPath, 'utf8'), pki.client2.keyPem);
    assert.equal(await readFile(r.certPath, 'utf8'), pki.client2.certPem);
    assert.deepEqual((await readdir(dir)).sort(), ['client1.crt.pem', 'client1.key.pem']);
  });

  it('refuses a name that is no node name (it becomes a file name)', async () => {
    await assert.rejects(writeKeyPair(pki.dir, '../escape', pki.client1), (err: unknown) => hasErrorCode(err, 'invalid_option'));
  });
});
