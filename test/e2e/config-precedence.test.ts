// Settings precedence as a user meets it (SPEC §3, README configuration): flag > environment
// (the original's split RP_* variables included) > --config file > default, and the
// "using cert dir" line names where the cert dir really came from.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { makePki, type Pki } from '../helpers/pki.js';
import { killAll, pipePort, runCli, spawnCli, startedUp, tempDir } from '../helpers/cli-processes.js';

let pki: Pki;
let tmp: { dir: string; remove: () => Promise<void> };
let serverDir: string;

before(async () => {
  pki = await makePki();
  tmp = await tempDir();
  serverDir = await pki.certDir('server', pki.server);
});

after(async () => {
  await killAll();
  await pki?.cleanup();
  await tmp?.remove();
});

test('the split environment variables beat --config; the cert dir line says RP_SERVER_CERT_PATH', async () => {
  const config = join(tmp.dir, 'env-beats.json');
  await writeFile(config, JSON.stringify({ listen: '127.0.0.1:1', http: '127.0.0.1:0', 'cert-dir': join(tmp.dir, 'no-such-dir') }));
  // Port 0 from the environment beats the config file's port 1: any port but 1 shows it.
  const p = spawnCli(['server', '--config', config], {
    env: { RP_SERVER_BIND_INTERFACE: '127.0.0.1', RP_SERVER_BIND_PORT: '0', RP_SERVER_CERT_PATH: serverDir },
  });
  assert.notEqual(await pipePort(p), 1, p.dump());
  const line = await startedUp(p);
  assert.equal(line['from'], 'env', p.dump());
  assert.equal(line['certDir'], serverDir);
  assert.equal(line['msg'], `using cert dir ${serverDir} (RP_SERVER_CERT_PATH)`);
  await p.kill();
});

test('a cert dir from --config is logged as such', async () => {
  const config = join(tmp.dir, 'config-cert-dir.json');
  await writeFile(config, JSON.stringify({ listen: '127.0.0.1:0', http: '127.0.0.1:0', 'cert-dir': serverDir }));
  const p = spawnCli(['server', '--config', config]);
  const line = await startedUp(p);
  assert.equal(line['from'], 'config', p.dump());
  assert.equal(line['msg'], `using cert dir ${serverDir} ("cert-dir" in the --config file)`);
  await p.kill();
});

test('RP_SERVER_CERT_PATH=/nonexistent beats the config file’s cert dir (the walkthrough repro)', async () => {
  const config = join(tmp.dir, 'repro.json');
  await writeFile(config, JSON.stringify({ listen: '127.0.0.1:0', http: '127.0.0.1:0', 'cert-dir': serverDir }));
  const r = await runCli(['server', '--config', config], { env: { RP_SERVER_CERT_PATH: '/nonexistent' } });
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(r.stderr, /\/nonexistent\/restpipe\.server\.(key|crt)\.pem: not found/);
});

test('an empty --cert-dir: the error says to run set-identity with that --cert-dir', async () => {
  const empty = join(tmp.dir, 'empty-cert-dir');
  const r = await runCli(['server', '--cert-dir', empty, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0']);
  assert.notEqual(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`not found: run \`restpipe server set-identity --cert-dir ${empty} KEY CRT CA\` first`));
});
