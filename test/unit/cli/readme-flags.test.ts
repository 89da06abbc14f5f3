// README.md's configuration table is generated from the CLI's flag table (src/cli/config.ts
// FLAGS); these tests fail when the two disagree, and check that what the table says is what
// the CLI does: every flag is in `--help` of its roles, and every environment variable listed
// sets its flag.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FLAGS, resolveRunSettings, type FlagSpec, type Role, type RunSettings } from '../../../src/cli/config.js';
import { DEFAULT_GATEWAY_LISTEN } from '../../../src/options/defaults.js';
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
  const program = buildProgram({ out: (l) => (text += `${l}\n`), err: (t) => (text += t), env: {}, signals: { attach: async () => 0, release() {} } }, () => {});
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

/** A valid value of each kind that differs from every default, and what the flag's key then holds (ms for seconds). */
function sampleValue(spec: FlagSpec): { raw: string; expected: unknown } {
  switch (spec.kind) {
    case 'seconds':
    case 'seconds0':
      return { raw: spec.name === 'heartbeat-timeout' ? '33' : '3', expected: spec.name === 'heartbeat-timeout' ? 33_000 : 3_000 };
    case 'bytes':
      return { raw: '2MiB', expected: 2 * 1024 * 1024 };
    case 'count':
      return { raw: '7', expected: 7 };
    case 'hostport':
      return { raw: '10.1.2.3:4567', expected: { host: '10.1.2.3', port: 4567 } };
    case 'http':
      return { raw: 'unix:/tmp/gw.sock', expected: { path: '/tmp/gw.sock' } };
    case 'level':
      return { raw: 'debug', expected: 'debug' };
    case 'list':
      return { raw: 'a.example, b.example', expected: ['a.example', 'b.example'] };
    case 'boolean':
      return { raw: 'true', expected: true };
    case 'string':
    case 'path':
      return { raw: '/some/value', expected: '/some/value' };
    case 'tls-version':
      return { raw: '1.3', expected: 'TLSv1.3' };
    case 'forward':
      return { raw: 'files=http://127.0.0.1:8080/, api/v1=https://api.example/v1', expected: Object.assign(Object.create(null), { files: 'http://127.0.0.1:8080/', 'api/v1': 'https://api.example/v1' }) };
  }
}

/** What a flag set: the node option its key names, or the CLI's own setting. */
function valueOf(settings: RunSettings, spec: FlagSpec): unknown {
  return 'node' in spec.key ? (settings.node as Record<string, unknown>)[spec.key.node] : (settings as unknown as Record<string, unknown>)[spec.key.cli];
}

test('every environment variable the table lists sets its flag', () => {
  for (const spec of FLAGS) {
    const { raw, expected } = sampleValue(spec);
    for (const env of spec.env) {
      // The http flag's sample is a unix socket: no loopback question.
      const settings = resolveRunSettings(spec.roles[0]!, {}, { [env]: raw });
      assert.deepEqual(valueOf(settings, spec), expected, `${env}=${raw}`);
    }
  }
});

test('a flag beats the environment, which beats the config file', () => {
  assert.equal(resolveRunSettings('server', { connectWait: '4' }, { RP_CONNECT_WAIT: '5' }).node.connectWaitMs, 4_000);
  assert.equal(resolveRunSettings('server', {}, { RP_CONNECT_WAIT: '5' }).node.connectWaitMs, 5_000);
});

test('the original’s split variables set one half of the address each', () => {
  assert.deepEqual(resolveRunSettings('server', {}, { RP_SERVER_BIND_INTERFACE: '127.0.0.2' }).node.listen, { host: '127.0.0.2', port: 1234 });
  assert.deepEqual(resolveRunSettings('server', {}, { RP_SERVER_BIND_PORT: '4000' }).node.listen, { host: '0.0.0.0', port: 4000 });
  assert.deepEqual(resolveRunSettings('client', {}, { RP_CLIENT_TARGET_HOSTNAME: 'web.example', RP_CLIENT_TARGET_PORT: '99' }).node.server, { host: 'web.example', port: 99 });
  assert.deepEqual(resolveRunSettings('client', {}, { RP_STATSD_PORT: '9125' }).node.statsd, { host: 'localhost', port: 9125 });
  assert.equal(resolveRunSettings('client', {}, {}).node.statsd, undefined);
  assert.equal(resolveRunSettings('server', {}, { DEBUG: '1' }).logLevel, 'debug');
});

test('the defaults in the table are the ones the CLI uses', () => {
  const server = resolveRunSettings('server', {}, {});
  const client = resolveRunSettings('client', {}, {});
  const def = (name: string): string => FLAGS.find((f) => f.name === name)!.default!;
  // Unset keys get the library's defaults, which the table shows.
  assert.ok(server.resolved.role === 'server' && client.resolved.role === 'client');
  assert.equal(`${server.resolved.listen.host}:${server.resolved.listen.port}`, def('listen'));
  assert.equal(`${client.resolved.pipe.host}:${client.resolved.pipe.port}`, def('server'));
  assert.deepEqual(server.node.http, DEFAULT_GATEWAY_LISTEN.server);
  assert.deepEqual(client.node.http, DEFAULT_GATEWAY_LISTEN.client);
  assert.ok(def('http').includes('127.0.0.1:1235') && def('http').includes('127.0.0.1:1236'));
  assert.equal(String(server.graceMs / 1000), def('grace'));
  assert.equal(server.logLevel, 'info');
  assert.equal(server.resolved.gateway?.nonLoopback, false);
  assert.equal(server.resolved.pipe.tlsMinVersion, `TLSv${def('tls-min')}`);
  assert.equal(server.resolved.pipe.tlsMinVersion, DEFAULT_TLS_MIN_VERSION);
  for (const spec of FLAGS.filter((f) => f.kind === 'seconds' || f.kind === 'seconds0')) {
    if (!('node' in spec.key)) continue;
    const pipe: object = spec.roles.includes('server') ? server.resolved.pipe : client.resolved.pipe;
    const timing = (pipe as { timing: Record<string, number> }).timing;
    const forward = spec.key.node === 'forwardTimeoutMs' ? server.resolved.forward.responseTimeoutMs : undefined;
    const ms: number = forward ?? timing[spec.key.node] ?? (pipe as Record<string, number>)[spec.key.node]!;
    assert.equal(String(ms / 1000), def(spec.name), `--${spec.name}'s default`);
  }
  assert.equal(resolveRunSettings('server', { http: false }, {}).node.http, null, '--no-http');
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
    assert.deepEqual(client.node.server, { host: 'webserver.example.com', port: 1234 });
    assert.equal(client.node.heartbeatIntervalMs, 2_000);
    assert.equal(client.certDir, '/etc/restpipe');
    const server = resolveRunSettings('server', {}, { RP_CONFIG: file });
    assert.equal(server.node.heartbeatTimeoutMs, 6_000);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
