// resolveRunSettings: flag > environment (the original's split variables included) > --config >
// default, for every flag the original fed from split variables, and where the cert dir came from.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { resolveRunSettings } from '../../../src/cli/config.js';

let dir: string;
let config: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'restpipe-config-'));
  config = join(dir, 'c.json');
  await writeFile(
    config,
    JSON.stringify({ listen: '127.0.0.1:1241', server: 'cfg.example:1241', statsd: 'cfg.example:8000', 'cert-dir': 'state/from-config', http: '127.0.0.1:1242' }),
  );
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the original split environment variables beat the --config file (server)', () => {
  const s = resolveRunSettings('server', { config }, {
    RP_SERVER_BIND_INTERFACE: '127.0.0.1',
    RP_SERVER_BIND_PORT: '1243',
    RP_HTTP: '127.0.0.1:1244',
    RP_SERVER_CERT_PATH: '/nonexistent',
    RP_STATSD_HOST: 'env.example',
    RP_STATSD_PORT: '9000',
  });
  assert.deepEqual(s.node.listen, { host: '127.0.0.1', port: 1243 });
  assert.deepEqual(s.node.http, { host: '127.0.0.1', port: 1244 });
  assert.equal(s.certDir, '/nonexistent');
  assert.equal(s.certDirFrom, 'env');
  assert.deepEqual(s.node.statsd, { host: 'env.example', port: 9000 });
});

test('the original split environment variables beat the --config file (client)', () => {
  const s = resolveRunSettings('client', { config }, { RP_CLIENT_TARGET_PORT: '5555', RP_CLIENT_CERT_PATH: '/client/env', RP_SERVER_CERT_PATH: '/server/env' });
  // A lone port keeps the default host, as before.
  assert.deepEqual(s.node.server, { host: 'localhost', port: 5555 });
  assert.equal(s.certDir, '/client/env');
  assert.equal(s.certDirFrom, 'env');
});

test('the --config file beats the default and says so', () => {
  const s = resolveRunSettings('server', { config }, {});
  assert.deepEqual(s.node.listen, { host: '127.0.0.1', port: 1241 });
  assert.deepEqual(s.node.statsd, { host: 'cfg.example', port: 8000 });
  assert.equal(s.certDir, 'state/from-config');
  assert.equal(s.certDirFrom, 'config');
  const c = resolveRunSettings('client', { config }, { RP_SERVER_CERT_PATH: '/server/env' });
  assert.deepEqual(c.node.server, { host: 'cfg.example', port: 1241 });
  assert.equal(c.certDirFrom, 'config', "the server's variable does not set the client's cert dir");
});

test('flags beat the environment, split variables included', () => {
  const s = resolveRunSettings('server', { config, listen: '127.0.0.1:7', certDir: '/from/flag', statsd: 'flag.example:1' }, {
    RP_SERVER_BIND_PORT: '1243',
    RP_SERVER_CERT_PATH: '/nonexistent',
    RP_STATSD_PORT: '9000',
  });
  assert.deepEqual(s.node.listen, { host: '127.0.0.1', port: 7 });
  assert.equal(s.certDir, '/from/flag');
  assert.equal(s.certDirFrom, 'flag');
  assert.deepEqual(s.node.statsd, { host: 'flag.example', port: 1 });
});

test('RP_LISTEN beats the split variables; with nothing set the defaults apply', () => {
  assert.deepEqual(resolveRunSettings('server', {}, { RP_LISTEN: '127.0.0.1:9', RP_SERVER_BIND_PORT: '1243' }).node.listen, { host: '127.0.0.1', port: 9 });
  const d = resolveRunSettings('server', {}, {});
  assert.equal(d.node.listen, undefined, 'not set: the library applies its default');
  assert.deepEqual(d.resolved.role === 'server' && d.resolved.listen, { host: '0.0.0.0', port: 1234 });
  assert.equal(d.node.statsd, undefined);
  assert.equal(d.certDir, undefined);
  assert.equal(d.certDirFrom, undefined);
});

test('a bad split variable still names the variables', () => {
  assert.throws(() => resolveRunSettings('server', { config }, { RP_SERVER_BIND_PORT: 'x' }), /RP_SERVER_BIND_INTERFACE\/RP_SERVER_BIND_PORT: port must be 0-65535/);
});

test('--connect-timeout: flag, RP_CONNECT_TIMEOUT and the config file reach the client in milliseconds; 3 s by default', async () => {
  const { DEFAULT_CONNECT_TIMEOUT_MS } = await import('../../../src/options/defaults.js');
  const file = join(dir, 'ct.json');
  await writeFile(file, JSON.stringify({ 'connect-timeout': 4 }));
  const settings = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv) => resolveRunSettings('client', flags, env);
  const ms = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv): number | undefined => settings(flags, env).node.connectTimeoutMs;
  assert.equal(ms({ connectTimeout: '1.5' }, { RP_CONNECT_TIMEOUT: '2' }), 1_500);
  assert.equal(ms({ config: file }, { RP_CONNECT_TIMEOUT: '2' }), 2_000);
  assert.equal(ms({ config: file }, {}), 4_000);
  assert.equal(ms({}, {}), undefined, 'unset: the library default applies');
  const resolved = settings({}, {}).resolved;
  assert.equal(resolved.role === 'client' ? resolved.pipe.connectTimeoutMs : undefined, 3_000, 'SPEC §6');
  assert.equal(DEFAULT_CONNECT_TIMEOUT_MS, 3_000);
  assert.throws(() => resolveRunSettings('client', {}, { RP_CONNECT_TIMEOUT: '0' }), /RP_CONNECT_TIMEOUT: expected a positive number of seconds/);
  assert.throws(() => resolveRunSettings('client', { connectTimeout: 'soon' }, {}), /--connect-timeout: expected a positive number of seconds/);
});

test('--tls-ticket-keys: flag, RP_TLS_TICKET_KEYS and the config file set the server\'s ticket key file', async () => {
  const file = join(dir, 'tk.json');
  await writeFile(file, JSON.stringify({ 'tls-ticket-keys': '/from/config' }));
  const path = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv): string | undefined => resolveRunSettings('server', flags, env).node.ticketKeyFile;
  assert.equal(path({ tlsTicketKeys: '/from/flag' }, { RP_TLS_TICKET_KEYS: '/from/env' }), '/from/flag');
  assert.equal(path({ config: file }, { RP_TLS_TICKET_KEYS: '/from/env' }), '/from/env');
  assert.equal(path({ config: file }, {}), '/from/config');
  assert.equal(path({}, {}), undefined, 'unset: keys in memory only');
  assert.equal(resolveRunSettings('client', { config: file }, {}).node.ticketKeyFile, undefined, 'a server flag: the client ignores it');
});
