// `restpipe demo` (SPEC §2) as a user runs it: `demo --once` sends the examples both ways
// through the real gateways and TLS pipe and exits 0, through `node bin/restpipe.js` and through
// `npx restpipe` from the repository root; `demo` prints curl lines that work, and Ctrl-C stops
// it with exit 0. The bin aliases resolve through npx too.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import { httpRequest } from '../helpers/gateway-http.js';
import { REPO_ROOT, cleanEnv, killAll, runCli, runCommand, spawnCli, tempDir, type CommandResult } from '../helpers/cli-processes.js';

after(() => killAll());

const REPLY_LINES = [
  /^client -> server {2}GET \/server\/time {2}-> {2}200 \(return code 0\) {2}\{"time_from_server":\d+(\.\d+)?\}$/,
  /^client -> server {2}GET \/server\/cat\/\/hello\/world {2}-> {2}200 \(return code 0\) {2}\{"result_from_server":"helloworld"\}$/,
  /^server -> client {2}GET \/client\/fileserver\/time {2}-> {2}200 \(return code 0\) {2}\{"time_from_client":\d+(\.\d+)?\}$/,
  /^server -> client {2}GET \/client\/fileserver\/cat\/\/hello\/world {2}-> {2}200 \(return code 0\) {2}\{"result_from_client":"helloworld"\}$/,
  /^demo: all 4 events answered through the gateways and the TLS pipe$/,
];

function assertDemoOutput(stdout: string): void {
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, REPLY_LINES.length, stdout);
  lines.forEach((line, i) => assert.match(line, REPLY_LINES[i]!));
}

test('node bin/restpipe.js demo --once: 4 replies, both directions, exit 0', async () => {
  const r = await runCli(['demo', '--once'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assertDemoOutput(r.stdout);
  assert.equal(r.stderr, '', 'nothing on stderr at the default level of --once');
});

/**
 * Runs a command from the repository root through npm's npx, bounded, as a new user's first run:
 * with an npm cache of its own that starts empty, and offline (npx links this repository into
 * that cache; nothing needs the registry).
 */
async function npx(args: string[], timeoutMs = 60_000): Promise<CommandResult> {
  const cache = await tempDir('restpipe-npx-cache-');
  try {
    const env = cleanEnv({ npm_config_update_notifier: 'false', npm_config_cache: cache.dir, npm_config_offline: 'true' });
    return await runCommand('npx', ['--no-install', ...args], { cwd: REPO_ROOT, env, timeoutMs });
  } finally {
    await cache.remove();
  }
}

test('npx restpipe demo --once from the repository root, first run: runs the build as it is', async () => {
  // npx runs `prepare` when it links the repository into its cache; that must not rebuild
  // dist/ (issue 9: ~15 s of silence before the first reply). tsc rewrites every output file.
  const builtAt = (await stat(join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'))).mtimeMs;
  const r = await npx(['restpipe', 'demo', '--once']);
  assert.equal(r.code, 0, r.stderr);
  assertDemoOutput(r.stdout);
  assert.equal((await stat(join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js'))).mtimeMs, builtAt, 'dist/ was not rebuilt');
});

test('npx rp_server_set_identity and rp_client_set_identity resolve to the aliases', async () => {
  for (const [alias, role] of [['rp_server_set_identity', 'server'], ['rp_client_set_identity', 'client']] as const) {
    const r = await npx([alias, '--help']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: restpipe ${role} set-identity \\[options\\] <key> <crt> ${role === 'server' ? '<ca>' : '\\[ca\\]'}`));
  }
});

test('restpipe demo prints curl lines that work both ways, and stops on Ctrl-C with exit 0', async () => {
  const demo = spawnCli(['demo'], { name: 'demo' });
  await demo.waitForStdout((l) => l === 'Ctrl-C to stop.', 'its instructions', 20_000);
  const curls = demo.stdout.map((l) => /^ {2}curl -[is] (http:\/\/127\.0\.0\.1:(\d+)(\/\S+))$/.exec(l)).filter((m) => m !== null);
  assert.equal(curls.length, 5, demo.dump());
  const seen = new Set<string>();
  for (const m of curls) {
    const res = await httpRequest({ port: Number(m[2]) }, { path: m[3]! });
    assert.equal(res.status, 200, `${m[1]}: ${res.body.toString()}`);
    seen.add(m[3]!.split('/')[1]!);
  }
  assert.deepEqual([...seen].sort(), ['client', 'server', 'status']);
  demo.signal('SIGINT');
  const { code } = await demo.waitForExit(10_000);
  assert.equal(code, 0, demo.dump());
});
