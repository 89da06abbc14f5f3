// README.md's configuration table is generated from the CLI's flag table (src/cli/config.ts
// FLAGS); these tests fail when the two disagree, and check that what the table says is what
// the CLI does: every flag is in `--help` of its roles, and every environment variable listed
// sets its flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FLAGS, DEFAULT_HTTP, resolveRunSettings, type FlagSpec, type Role } from '../../../src/cli/config.js';
import { flagTableMarkdown } from '../../../src/cli/flag-table.js';
import { buildProgram } from '../../../src/cli/program.js';
import { DEFAULT_TLS_MIN_VERSION } from '../../../src/tls-policy.js';
import { readReadme, readmeSection, tableRows } from '../../helpers/readme.js';

test('README.md’s flag table is exactly the one generated from FLAGS (regenerate: node scripts/readme-flags.mjs)', () => {
  assert.equal(readmeSection(readReadme(), 'flags'), flagTableMarkdown());
});

test('the table has a row for every flag and no other', () => {
  const names = tableRows(readmeSection(readReadme(), 'flags')).map((r) => /^`--([a-z-]+)/.exec(r[0]!)?.[1]);
  assert.deepEqual(names.sort(), [...FLAGS.map((f) => f.name), 'no-http', 'config'].sort());
});

function helpOf(role: Role): string {
  let text = '';
  const program = buildProgram({ out: (l) => (text += `${l}\n`), err: (t) => (text += t), env: {} }, () => {});
  const cmd = program.commands.find((c) => c.name() === role)!;
  return cmd.helpInformation();
}

test('every flag is in the --help of exactly the roles the table gives it', () => {
  for (const role of ['server', 'client'] as const) {
    const help = helpOf(role);
    for (const spec of FLAGS) {
      assert.equal(help.includes(`--${spec.name} `) || help.includes(`--${spec.name}\n`), spec.roles.includes(role), `${role} --help and --${spec.name}`);
      for (const env of [...spec.env, ...(spec.alsoEnv ?? [])]) {
        if (spec.roles.includes(role)) assert.ok(help.includes(env), `${role} --help names ${env} for --${spec.name}`);
      }
    }
    assert.ok(help.includes('--no-http') && help.includes('--config'));
  }
});

/** A valid value of each kind that differs from every default. */
function sampleValue(spec: FlagSpec): { raw: string; expected: unknown; key: string } {
  const key = spec.name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
  switch (spec.kind) {
    case 'seconds':
    case 'seconds0':
      return { raw: spec.name === 'heartbeat-timeout' ? '33' : '3', expected: spec.name === 'heartbeat-timeout' ? 33 : 3, key };
    case 'bytes':
      return { raw: '2MiB', expected: 2 * 1024 * 1024, key };
    case 'count':
      return { raw: '7', expected: 7, key };
    case 'hostport':
      return { raw: '10.1.2.3:4567', expected: { host: '10.1.2.3', port: 4567 }, key };
    case 'http':
      return { raw: 'unix:/tmp/gw.sock', expected: { path: '/tmp/gw.sock' }, key };
    case 'level':
      return { raw: 'debug', expected: 'debug', key };
    case 'list':
      return { raw: 'a.example, b.example', expected: ['a.example', 'b.example'], key };
    case 'boolean':
      return { raw: 'true', expected: true, key };
    case 'string':
    case 'path':
      return { raw: '/some/value', expected: '/some/value', key };
    case 'tls-version':
      return { raw: '1.3', expected: 'TLSv1.3', key };
  }
}

test('every environment variable the table lists sets its flag', () => {
  for (const spec of FLAGS) {
    const { raw, expected, key } = sampleValue(spec);
    for (const env of spec.env) {
      const settings = resolveRunSettings(spec.roles[0]!, {}, { [env]: raw }) as unknown as Record<string, unknown>;
      assert.deepEqual(settings[key], expected, `${env}=${raw}`);
    }
  }
});

test('a flag beats the environment, which beats the config file', () => {
  assert.equal(resolveRunSettings('server', { connectWait: '4' }, { RP_CONNECT_WAIT: '5' }).connectWait, 4);
  assert.equal(resolveRunSettings('server', {}, { RP_CONNECT_WAIT: '5' }).connectWait, 5);
});

test('the original’s split variables set one half of the address each', () => {
  assert.deepEqual(resolveRunSettings('server', {}, { RP_SERVER_BIND_INTERFACE: '127.0.0.2' }).listen, { host: '127.0.0.2', port: 1234 });
  assert.deepEqual(resolveRunSettings('server', {}, { RP_SERVER_BIND_PORT: '4000' }).listen, { host: '0.0.0.0', port: 4000 });
  assert.deepEqual(resolveRunSettings('client', {}, { RP_CLIENT_TARGET_HOSTNAME: 'web.example', RP_CLIENT_TARGET_PORT: '99' }).server, { host: 'web.example', port: 99 });
  assert.deepEqual(resolveRunSettings('client', {}, { RP_STATSD_PORT: '9125' }).statsd, { host: 'localhost', port: 9125 });
  assert.equal(resolveRunSettings('client', {}, {}).statsd, undefined);
  assert.equal(resolveRunSettings('server', {}, { DEBUG: '1' }).logLevel, 'debug');
});

test('the defaults in the table are the ones the CLI uses', () => {
  const server = resolveRunSettings('server', {}, {});
  const client = resolveRunSettings('client', {}, {});
  const def = (name: string): string => FLAGS.find((f) => f.name === name)!.default!;
  assert.equal(`${server.listen.host}:${server.listen.port}`, def('listen'));
  assert.equal(`${client.server.host}:${client.server.port}`, def('server'));
  assert.deepEqual(server.http, DEFAULT_HTTP.server);
  assert.deepEqual(client.http, DEFAULT_HTTP.client);
  assert.ok(def('http').includes('127.0.0.1:1235') && def('http').includes('127.0.0.1:1236'));
  assert.equal(String(server.grace), def('grace'));
  assert.equal(server.logLevel, 'info');
  assert.equal(server.httpAllowRemote, false);
  assert.equal(server.tlsMin ?? DEFAULT_TLS_MIN_VERSION, `TLSv${def('tls-min')}`);
  assert.equal(resolveRunSettings('server', { http: false }, {}).http, null, '--no-http');
});

test('README.md’s example config file is valid for both roles', async () => {
  const text = readReadme();
  const json = /A config file is JSON[^\n]*\n\n```json\n([^\n]+)\n```/.exec(text)?.[1];
  assert.ok(json !== undefined, 'README.md shows a JSON config file');
  const dir = await mkdtemp(join(tmpdir(), 'restpipe-config-'));
  try {
    const file = join(dir, 'restpipe.json');
    await writeFile(file, json);
    const client = resolveRunSettings('client', { config: file }, {});
    assert.deepEqual(client.server, { host: 'webserver.example.com', port: 1234 });
    assert.equal(client.heartbeatInterval, 2);
    assert.equal(client.certDir, '/etc/restpipe');
    const server = resolveRunSettings('server', {}, { RP_CONFIG: file });
    assert.equal(server.heartbeatTimeout, 6);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
