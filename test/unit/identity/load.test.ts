import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { IdentityError } from '../../../src/errors.js';
import type { Logger } from '../../../src/log.js';
import { CA_CERT_FILE, SERVER_KEY_FILE, loadCrl, loadIdentity } from '../../../src/identity/index.js';
import { type Pki, makePki } from '../../helpers/pki.js';

/** A Logger that keeps what was warned. */
function recordingLogger(): Logger & { warnings: { obj: object; msg?: string }[] } {
  const warnings: { obj: object; msg?: string }[] = [];
  const logger = {
    warnings,
    error: () => {},
    warn: (obj: object, msg?: string) => {
      warnings.push({ obj, ...(msg === undefined ? {} : { msg }) });
    },
    info: () => {},
    debug: () => {},
    child: () => logger,
    isLevelEnabled: () => true,
  };
  return logger;
}

describe('loadIdentity', () => {
  let pki: Pki;
  before(async () => {
    pki = await makePki();
  });
  after(async () => {
    await pki.cleanup();
  });

  it('reads and verifies an installed server identity', async () => {
    const dir = await pki.certDir('server', pki.server);
    const logger = recordingLogger();
    const id = await loadIdentity('server', dir, { logger });
    assert.equal(id.name, 'server');
    assert.equal(id.info.cn, 'server');
    assert.equal(id.key, pki.server.keyPem);
    assert.equal(id.cert, pki.server.certPem);
    assert.equal(id.ca, pki.ca.certPem);
    assert.deepEqual(id.files, {
      key: join(dir, 'restpipe.server.key.pem'),
      cert: join(dir, 'restpipe.server.crt.pem'),
      ca: join(dir, 'ca.crt.pem'),
    });
    assert.deepEqual(logger.warnings, [], 'a 0600 key draws no warning');
  });

  it('says how to install a missing identity, with --cert-dir when set-identity would not pick the dir by itself', async () => {
    const dir = await pki.certDir('client', pki.client1);
    await rm(join(dir, CA_CERT_FILE));
    await assert.rejects(loadIdentity('client', dir), (err: unknown) => {
      assert.ok(err instanceof IdentityError);
      assert.equal(err.file, join(dir, CA_CERT_FILE));
      assert.equal(err.problem, `not found: run \`restpipe client set-identity --cert-dir ${dir} KEY CRT CA\` first`);
      return true;
    });
    // The client's directory holds no server files at all.
    await assert.rejects(loadIdentity('server', dir), new RegExp(`restpipe\\.server\\.key\\.pem: not found: run \`restpipe server set-identity --cert-dir ${dir} KEY CRT CA\` first`));
  });

  it('leaves --cert-dir out when set-identity resolves the same dir (RP_CLIENT_CERT_PATH)', async () => {
    const dir = await pki.certDir('client', pki.client1);
    await rm(join(dir, CA_CERT_FILE));
    const saved = process.env['RP_CLIENT_CERT_PATH'];
    process.env['RP_CLIENT_CERT_PATH'] = dir;
    try {
      await assert.rejects(loadIdentity('client', dir), (err: unknown) => {
        assert.ok(err instanceof IdentityError);
        assert.equal(err.problem, 'not found: run `restpipe client set-identity KEY CRT CA` first');
        return true;
      });
    } finally {
      if (saved === undefined) delete process.env['RP_CLIENT_CERT_PATH'];
      else process.env['RP_CLIENT_CERT_PATH'] = saved;
    }
  });

  it('quotes a --cert-dir with spaces', async () => {
    const dir = join(await pki.certDir('client', pki.client1), "it's here");
    await assert.rejects(loadIdentity('client', dir), (err: unknown) => {
      assert.ok(err instanceof IdentityError);
      assert.equal(err.problem, `not found: run \`restpipe client set-identity --cert-dir '${dir.replace("'", "'\\''")}' KEY CRT CA\` first`);
      return true;
    });
  });

  it('warns when the key is readable by group or others', async () => {
    const dir = await pki.certDir('server', pki.server);
    await chmod(join(dir, SERVER_KEY_FILE), 0o644);
    const logger = recordingLogger();
    await loadIdentity('server', dir, { logger });
    assert.equal(logger.warnings.length, 1);
    assert.deepEqual(logger.warnings[0]?.obj, { file: join(dir, SERVER_KEY_FILE), mode: '0644' });
    assert.match(logger.warnings[0]?.msg ?? '', /readable by group or others/);
  });

  it('refuses what verification refuses, for the role', async () => {
    await assert.rejects(loadIdentity('client', await pki.certDir('client', pki.expired)), /certificate expired on 2020-02-01T00:00:00Z/);
    await assert.rejects(loadIdentity('client', await pki.certDir('client', pki.foreignClient)), /not signed by the CA/);
    await assert.rejects(loadIdentity('client', await pki.certDir('client', pki.serverOnlyEku)), /does not allow TLS client authentication/);
    const fine = await loadIdentity('client', await pki.certDir('client', pki.client2));
    assert.equal(fine.name, 'client2');
  });
});

describe('loadCrl', () => {
  let pki: Pki;
  before(async () => {
    pki = await makePki();
  });
  after(async () => {
    await pki.cleanup();
  });

  it('reads a CRL and exposes its dates', async () => {
    const crl = await loadCrl(pki.crl.path, { caPem: pki.ca.certPem });
    assert.equal(crl.pem, pki.crl.pem);
    assert.equal(crl.path, pki.crl.path);
    assert.equal(crl.revokedCount, 1);
    assert.equal(crl.issuer, 'CN=restpipe-test-ca');
    assert.ok(crl.nextUpdate !== undefined);
    const days = (crl.nextUpdate.getTime() - crl.thisUpdate.getTime()) / 86_400_000;
    assert.equal(days, 7);
  });

  it('refuses a CRL from another CA', async () => {
    await assert.rejects(loadCrl(pki.crl.path, { caPem: pki.foreignCa.certPem }), (err: unknown) => {
      assert.ok(err instanceof IdentityError);
      assert.equal(err.file, pki.crl.path);
      assert.match(err.problem, /not signed by the CA/);
      return true;
    });
  });

  it('warns about a CRL past its nextUpdate', async () => {
    const logger = recordingLogger();
    const crl = await loadCrl(pki.staleCrl.path, { logger });
    assert.ok(crl.nextUpdate !== undefined && crl.nextUpdate.getTime() < Date.now());
    assert.equal(logger.warnings.length, 1);
    assert.match(logger.warnings[0]?.msg ?? '', /CRL_HAS_EXPIRED/);
  });

  it('names the file when it is missing, not a CRL, mislabelled or corrupt', async () => {
    const missing = join(pki.dir, 'none.crl.pem');
    await assert.rejects(loadCrl(missing), (err: unknown) => err instanceof IdentityError && err.file === missing && err.problem.startsWith('not found'));
    const notCrl = join(pki.dir, 'not.crl.pem');
    await writeFile(notCrl, pki.ca.certPem);
    await assert.rejects(loadCrl(notCrl), /not\.crl\.pem: not a PEM CRL/);
    const labelled = join(pki.dir, 'label.crl.pem');
    await writeFile(labelled, pki.crl.pem.replace(/X509 CRL/g, 'CRL'));
    await assert.rejects(loadCrl(labelled), /OpenSSL needs "-----BEGIN X509 CRL-----"/);
    const corrupt = join(pki.dir, 'corrupt.crl.pem');
    await writeFile(corrupt, '-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n');
    await assert.rejects(loadCrl(corrupt), /corrupt\.crl\.pem: CRL does not parse/);
  });
});
