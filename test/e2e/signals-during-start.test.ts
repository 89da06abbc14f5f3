// Signals that arrive while a node is still starting (issue 10): `systemctl reload` (SIGHUP) in
// the first second of a start used to kill the process, because the CLI installed its handlers
// only once the node was up. Now bin/restpipe.js installs them first; a SIGHUP kept during the
// start is acted on once the node is up (one line says so, then the reload's own lines), and a
// SIGTERM kept during the start stops the node cleanly as soon as it is up (exit 0).
//
// The start is held open by a handler module that waits, at load, for a file the test creates,
// and that prints when it sees a signal: so each signal is known to have arrived mid-start
// before the start is let go. No sleeps.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { makePki, type Pki } from '../helpers/pki.js';
import { killAll, spawnCli, tempDir, type CliProcess, type LogLine } from '../helpers/cli-processes.js';

let pki: Pki;
let tmp: { dir: string; remove: () => Promise<void> };
let certDir: string;

const HOLDING = `
const gate = process.env.START_GATE;
for (const signal of ['SIGHUP', 'SIGTERM']) process.on(signal, () => console.error('handlers saw ' + signal));
console.error('handlers loading');
const { access } = await import('node:fs/promises');
await new Promise((resolve) => {
  const poll = () => access(gate).then(resolve, () => setTimeout(poll, 20));
  poll();
});
export default { get_time() { return { held: true }; } };
`;

before(async () => {
  pki = await makePki();
  tmp = await tempDir();
  certDir = await pki.certDir('server', pki.server);
  await writeFile(join(tmp.dir, 'holding.mjs'), HOLDING);
});

after(async () => {
  await killAll();
  await pki?.cleanup();
  await tmp?.remove();
});

const msg = (l: LogLine): string => (typeof l['msg'] === 'string' ? l['msg'] : l.text);

/** A server whose start waits at its handler module until `release()`. */
async function heldServer(gate: string): Promise<{ proc: CliProcess; release: () => Promise<void> }> {
  const proc = spawnCli(['server', '--cert-dir', certDir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--handlers', join(tmp.dir, 'holding.mjs')], {
    name: 'server',
    env: { START_GATE: gate },
  });
  await proc.waitForLog((l) => l.text === 'handlers loading', 'the start held at the handler module');
  return { proc, release: () => writeFile(gate, '') };
}

test('SIGHUP during the start: the node survives, comes up, then reloads (one line each)', async () => {
  const { proc, release } = await heldServer(join(tmp.dir, 'gate-hup'));
  proc.signal('SIGHUP');
  await proc.waitForLog((l) => l.text === 'handlers saw SIGHUP', 'the SIGHUP arrived mid-start');
  await release();
  await proc.waitForLog((l) => msg(l) === 'SIGHUP arrived while the node was starting: reloading now that it is up', 'the kept reload');
  await proc.waitForLog((l) => msg(l) === 'identity unchanged', 'the identity reload line');
  await proc.waitForLog((l) => msg(l) === 'no --crl configured: nothing to reload', 'the CRL reload line');
  assert.equal(proc.child.exitCode, null, 'still running');
  proc.signal('SIGTERM');
  const exit = await proc.waitForExit();
  assert.equal(exit.code, 0, proc.dump());
});

test('SIGTERM during the start: the node comes up and stops at once, cleanly, exit 0', async () => {
  const { proc, release } = await heldServer(join(tmp.dir, 'gate-term'));
  proc.signal('SIGTERM');
  await proc.waitForLog((l) => l.text === 'handlers saw SIGTERM', 'the SIGTERM arrived mid-start');
  await release();
  await proc.waitForLog((l) => msg(l).startsWith('SIGTERM: shutting down; 0 events in flight'), 'the shutdown line');
  await proc.waitForLog((l) => msg(l).startsWith('stopped: drained 0 in-flight events'), 'the stopped line');
  const exit = await proc.waitForExit();
  assert.equal(exit.code, 0, proc.dump());
});

test('SIGHUP to a client node: one line saying what the reload did (its identity is unchanged)', async () => {
  const clientDir = await pki.certDir('client', pki.client1);
  // No server is needed: the client keeps dialing port 1 and backing off meanwhile.
  const proc = spawnCli(['client', '--cert-dir', clientDir, '--server', 'localhost:1', '--no-http'], { name: 'client' });
  await proc.waitForLog((l) => msg(l).startsWith('using cert dir'), 'start-up done');
  const from = proc.log.length;
  proc.signal('SIGHUP');
  await proc.waitForLog((l) => proc.log.indexOf(l) >= from && msg(l) === 'identity unchanged', 'the reload line');
  proc.signal('SIGTERM');
  assert.equal((await proc.waitForExit()).code, 0, proc.dump());
});
