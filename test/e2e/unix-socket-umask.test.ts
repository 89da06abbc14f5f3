// Issue 8 item 4: a unix-socket gateway (`--http unix:PATH`) started under `umask 000` must
// never be connectable by a user outside its group, not even for a moment. Before the fix the
// socket was bound with the umask's mode (0777 here) and chmod-ed to 0660 afterwards: a local
// user polling the path connected 3 times out of 3 starts, and its connection kept working.
//
// An unprivileged user (uid/gid 65534, no supplementary groups, via util-linux `setpriv`) polls
// the path with parallel connect attempts while the node starts several times; it must get 0
// connections. Needs root (to switch users) and setpriv; says so when either is missing.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { BIN, killAll, spawnCli, startedUp, tempDir } from '../helpers/cli-processes.js';
import { makePki, type Pki } from '../helpers/pki.js';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => spawnSync('test', ['-x', p]).status === 0);
const skip =
  process.getuid?.() !== 0
    ? 'needs root, to run the polling user as another uid with setpriv'
    : SETPRIV === undefined
      ? 'needs setpriv (util-linux)'
      : false;
const NOBODY = 65534;
const STARTS = 4;

let pki: Pki;
let tmp: { dir: string; remove: () => Promise<void> };
let poller: ChildProcess | undefined;

before(async () => {
  if (skip) return;
  pki = await makePki();
  tmp = await tempDir();
  // The unprivileged user must reach the directory (not the socket: that is the point).
  await chmod(tmp.dir, 0o755);
});

after(async () => {
  if (poller !== undefined && poller.exitCode === null) poller.kill('SIGKILL');
  await killAll();
  await pki?.cleanup();
  await tmp?.remove();
});

/** The polling user's script: connect to PATH as fast as 16 loops can until killed; report hits on SIGTERM. */
const POLLER = `
import net from 'node:net';
const path = process.argv[2];
let hits = 0, attempts = 0;
function attempt() {
  attempts++;
  const s = net.connect(path);
  s.on('connect', () => { hits++; s.write('GET /server/time HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n'); });
  s.on('error', () => {});
  s.on('close', () => setImmediate(attempt));
}
for (let i = 0; i < 16; i++) attempt();
process.stdout.write('polling\\n');
process.on('SIGTERM', () => { process.stdout.write(JSON.stringify({ hits, attempts }) + '\\n'); process.exit(0); });
`;

test('a socket gateway started under umask 000 takes no connection from a user outside its group', { skip, timeout: 120_000 }, async (t) => {
  const socketPath = join(tmp.dir, 'gw.sock');
  const script = join(tmp.dir, 'poller.mjs');
  await writeFile(script, POLLER);
  await chmod(script, 0o644);
  poller = spawn(SETPRIV!, [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', process.execPath, script, socketPath], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  poller.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  poller.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the poller did not start: ${out}`)), 10_000);
    poller!.stdout!.on('data', () => {
      if (out.includes('polling')) {
        clearTimeout(timer);
        resolve();
      }
    });
    poller!.once('exit', (code) => reject(new Error(`the poller exited (${code}): ${out}`)));
  });

  const certDir = await pki.certDir('client', pki.client1);
  // The CLI with umask 000, as a service manager or shell with that umask would start it.
  const wrapper = join(tmp.dir, 'umask000.mjs');
  await writeFile(wrapper, `process.umask(0o000);\nawait import(${JSON.stringify(BIN.restpipe)});\n`);
  for (let i = 0; i < STARTS; i++) {
    const args = ['client', '--cert-dir', certDir, '--server', 'localhost:1', '--http', `unix:${socketPath}`, '--connect-wait', '0.2'];
    const node = spawnCli(args, { script: wrapper, name: `gateway start ${i + 1}` });
    await startedUp(node);
    const mode = (await stat(socketPath)).mode & 0o777;
    assert.equal(mode, 0o660, `socket mode ${mode.toString(8)}`);
    node.signal('SIGTERM');
    await node.waitForExit(10_000);
  }
  const stopped = new Promise<void>((resolve) => poller!.once('exit', () => resolve()));
  poller.kill('SIGTERM');
  await stopped;
  const line = out.split('\n').find((l) => l.startsWith('{'));
  assert.ok(line !== undefined, `the poller reported: ${out}`);
  const { hits, attempts } = JSON.parse(line) as { hits: number; attempts: number };
  t.diagnostic(`unprivileged poller: ${hits} connections in ${attempts} attempts over ${STARTS} starts under umask 000`);
  assert.ok(attempts > 100, `the poller kept trying (${attempts} attempts)`);
  assert.equal(hits, 0, `the unprivileged user connected ${hits} times`);
});
