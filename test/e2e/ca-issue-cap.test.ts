// `restpipe ca issue` never makes a certificate that outlives its CA (a new-user walkthrough did
// `ca init --days 10` and got a ~3-year certificate): notAfter is capped at the CA's, with a note.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { killAll, runCli, tempDir } from '../helpers/cli-processes.js';

let tmp: { dir: string; remove: () => Promise<void> };

before(async () => {
  tmp = await tempDir();
});

after(async () => {
  await killAll();
  await tmp?.remove();
});

test('ca init --days 10, then ca issue: the certificate ends with the CA, and the output says so', async () => {
  const dir = join(tmp.dir, 'pki');
  const init = await runCli(['ca', 'init', '--dir', dir, '--days', '10']);
  assert.equal(init.code, 0, init.stderr);
  const issue = await runCli(['ca', 'issue', 'n1', '--dir', dir]);
  assert.equal(issue.code, 0, issue.stderr);

  const caTo = new Date(new X509Certificate(await readFile(join(dir, 'ca.crt.pem'))).validTo);
  const leafTo = new Date(new X509Certificate(await readFile(join(dir, 'n1.crt.pem'))).validTo);
  assert.equal(leafTo.getTime(), caTo.getTime());
  const notes = issue.stdout.split('\n').filter((l) => l.includes('note:'));
  assert.deepEqual(notes, [`  note: valid until ${caTo.toISOString()}, not 825 days: capped at the expiry of the CA ${join(dir, 'ca.crt.pem')}`]);

  // Within the CA's lifetime: no note, and the days asked for.
  const short = await runCli(['ca', 'issue', 'n2', '--dir', dir, '--days', '3']);
  assert.equal(short.code, 0, short.stderr);
  assert.doesNotMatch(short.stdout, /note:/);
  assert.ok(new Date(new X509Certificate(await readFile(join(dir, 'n2.crt.pem'))).validTo).getTime() < caTo.getTime());
});

test('ca issue with an expired CA: one line naming the CA file, exit non-zero, nothing written', async () => {
  const { createCa, writeKeyPair } = await import('../../src/identity/index.js');
  const dir = join(tmp.dir, 'old-pki');
  await writeKeyPair(dir, 'ca', await createCa({ notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-06-01T00:00:00Z') }));
  const r = await runCli(['ca', 'issue', 'n1', '--dir', dir]);
  assert.notEqual(r.code, 0);
  assert.deepEqual(r.stderrLines, [`restpipe: ${join(dir, 'ca.crt.pem')}: the CA expired on 2020-06-01T00:00:00.000Z: nothing it signs would be trusted; make a new one with restpipe ca init`]);
  await assert.rejects(readFile(join(dir, 'n1.crt.pem')), /ENOENT/);
});
