import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CERT_DIR_ENV, SYSTEM_CERT_DIR, resolveCertDir, userStateDir } from '../../../src/identity/index.js';

describe('resolveCertDir', () => {
  let root: string;
  let writableSystem: string;
  let uncreatableSystem: string;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'restpipe-certdir-'));
    writableSystem = join(root, 'var-lib-restpipe');
    await mkdir(writableSystem);
    // Below a regular file nothing can be created, even by root.
    await writeFile(join(root, 'a-file'), '');
    uncreatableSystem = join(root, 'a-file', 'restpipe');
  });
  after(async () => {
    await chmod(join(root, 'locked'), 0o700).catch(() => {});
    await rm(root, { recursive: true, force: true });
  });

  it('defaults to /var/lib/restpipe and the original env names', () => {
    assert.equal(SYSTEM_CERT_DIR, '/var/lib/restpipe');
    assert.deepEqual(CERT_DIR_ENV, { server: 'RP_SERVER_CERT_PATH', client: 'RP_CLIENT_CERT_PATH' });
  });

  it('--cert-dir wins over the environment and the default, made absolute', () => {
    const env = { RP_SERVER_CERT_PATH: '/from/env', RP_CLIENT_CERT_PATH: '/from/env2' };
    assert.deepEqual(resolveCertDir('server', { flag: '/from/flag', env, systemDir: writableSystem }), { dir: '/from/flag', source: 'flag' });
    assert.deepEqual(resolveCertDir('client', { flag: 'rel/dir', env }), { dir: resolve('rel/dir'), source: 'flag' });
  });

  it("then each role's own environment variable", () => {
    const env = { RP_SERVER_CERT_PATH: '/srv/certs', RP_CLIENT_CERT_PATH: '/cli/certs' };
    assert.deepEqual(resolveCertDir('server', { env, systemDir: writableSystem }), { dir: '/srv/certs', source: 'env' });
    assert.deepEqual(resolveCertDir('client', { env, systemDir: writableSystem }), { dir: '/cli/certs', source: 'env' });
    assert.equal(resolveCertDir('client', { env: { RP_SERVER_CERT_PATH: '/srv' }, systemDir: writableSystem }).source, 'default');
    assert.equal(resolveCertDir('server', { flag: '', env: { RP_SERVER_CERT_PATH: '' }, systemDir: writableSystem }).source, 'default');
  });

  it('then the system dir when it is writable or can be created', () => {
    assert.deepEqual(resolveCertDir('server', { env: {}, systemDir: writableSystem }), { dir: writableSystem, source: 'default' });
    const creatable = join(writableSystem, 'not', 'yet');
    assert.deepEqual(resolveCertDir('client', { env: {}, systemDir: creatable }), { dir: creatable, source: 'default' });
  });

  it('else the per-user state dir ($XDG_STATE_HOME, else ~/.local/state)', () => {
    assert.deepEqual(resolveCertDir('server', { env: { XDG_STATE_HOME: '/xdg/state', HOME: '/home/u' }, systemDir: uncreatableSystem }), {
      dir: '/xdg/state/restpipe',
      source: 'user-state',
    });
    assert.deepEqual(resolveCertDir('client', { env: { HOME: '/home/u' }, systemDir: uncreatableSystem }), {
      dir: '/home/u/.local/state/restpipe',
      source: 'user-state',
    });
    // The XDG spec says a relative XDG_STATE_HOME is ignored.
    assert.equal(userStateDir({ XDG_STATE_HOME: 'relative', HOME: '/h' }), '/h/.local/state/restpipe');
    assert.equal(userStateDir({}, '/given/home'), '/given/home/.local/state/restpipe');
  });

  it('keeps a read-only system dir that already holds the role key', { skip: process.getuid?.() === 0 ? 'root can write anywhere' : false }, async () => {
    const locked = join(root, 'locked');
    await mkdir(locked);
    await writeFile(join(locked, 'restpipe.client.key.pem'), 'x');
    await chmod(locked, 0o500);
    const env = { HOME: '/home/u' };
    assert.deepEqual(resolveCertDir('client', { env, systemDir: locked }), { dir: locked, source: 'default' });
    assert.equal(resolveCertDir('server', { env, systemDir: locked }).source, 'user-state');
  });
});
