// `restpipe server --tls-ticket-keys FILE` as a user runs it (issue 14): the file is created 0600
// when missing; a server restarted with it (SIGKILL, then a new process on the same port)
// resumes the sessions its clients got from the first, as the log's `resumed` says; a file
// others can read is refused with one line and exit 2; SIGHUP re-reads a replaced secret.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { FAST_FLAGS, clientConnected, killAll, runCli, startClient, startServer, type LogLine } from '../helpers/cli-processes.js';
import { makePki, type Pki } from '../helpers/pki.js';

let pki: Pki;
before(async () => {
  pki = await makePki();
});
after(async () => {
  await killAll();
  await pki?.cleanup();
});

const msg = (l: LogLine): string => String(l['msg'] ?? '');

test('a key file others can read is refused at start with one line (exit 2)', async () => {
  const file = join(pki.dir, 'open.hex');
  await writeFile(file, `${'ab'.repeat(48)}\n`);
  await chmod(file, 0o644);
  const r = await runCli(['server', '--cert-dir', await pki.certDir('server', pki.server), '--listen', '127.0.0.1:0', '--no-http', '--tls-ticket-keys', file]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderrLines.length, 1, r.stderr);
  assert.match(r.stderr, /ticket key file .*open\.hex: mode 0644 lets other users read it; it must be 0600/);
});

test('a server restarted with the same key file resumes the sessions of the first; SIGHUP re-reads a replaced secret', async () => {
  const file = join(pki.dir, 'ticket-keys.hex');
  const serverDir = await pki.certDir('server', pki.server);
  const common = [...FAST_FLAGS, '--no-http'];
  const first = await startServer(serverDir, [...common, '--tls-ticket-keys', file]);
  assert.equal((await stat(file)).mode & 0o777, 0o600, 'created 0600');
  const { proc: client } = await startClient(await pki.certDir('client', pki.client1), first.pipePort, [...common, '--reconnect-min', '0.05', '--reconnect-max', '0.3']);
  const full = await clientConnected(first.proc, 'client1');
  assert.equal(full['resumed'], false, full.text);

  await first.proc.kill(); // SIGKILL: nothing is handed over but the file
  const second = await startServer(serverDir, [...common, '--tls-ticket-keys', file, '--listen', `127.0.0.1:${first.pipePort}`]);
  const resumed = await clientConnected(second.proc, 'client1');
  assert.equal(resumed['resumed'], true, `${resumed.text}\n${second.proc.dump()}`);
  await client.waitForLog((l) => msg(l) === "pipe open to server 'server'" && l['resumed'] === true, 'the client resumed too');

  await writeFile(file, `${'cd'.repeat(48)}\n`, { mode: 0o600 });
  second.proc.signal('SIGHUP');
  const reread = await second.proc.waitForLog((l) => msg(l).startsWith('TLS ticket key file re-read'), 'the key file re-read');
  assert.equal(reread['changed'], true, reread.text);
});
