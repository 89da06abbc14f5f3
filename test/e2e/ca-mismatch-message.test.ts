// A certificate of one CA installed with another CA's certificate, as a user mixes them up with
// the CLI (issue 9). Two `ca init` with the defaults used to make two CAs both named
// `restpipe-ca`, and the refusal read `issued by "CN=restpipe-ca", CA is "CN=restpipe-ca"`. Now
// the default name has a random part, so the two names differ; and CAs that share a name (the
// same --cn) are told apart by the fingerprint of the CA that was given.
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

async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderrLines: string[] }> {
  return runCli(args, { cwd: tmp.dir });
}

/** `ca init` in DIR (with extra flags), then `ca issue fileserver` there. */
async function caWithLeaf(dir: string, initFlags: string[] = []): Promise<void> {
  for (const args of [['ca', 'init', '--dir', dir, ...initFlags], ['ca', 'issue', 'fileserver', '--dir', dir]]) {
    const r = await cli(args);
    assert.equal(r.code, 0, r.stderrLines.join('\n'));
  }
}

/** `client set-identity` of pki-a's fileserver with pki-b's CA: must fail with one line. */
async function mixUp(a: string, b: string): Promise<string> {
  const r = await cli(['client', 'set-identity', `${a}/fileserver.key.pem`, `${a}/fileserver.crt.pem`, `${b}/ca.crt.pem`, '--cert-dir', join(tmp.dir, 'state')]);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderrLines.length, 1, r.stderrLines.join('\n'));
  return r.stderrLines[0]!;
}

const subject = async (dir: string): Promise<string> => new X509Certificate(await readFile(join(tmp.dir, dir, 'ca.crt.pem'))).subject;

test('two CAs made with the defaults have different names, and the refusal names both', async () => {
  await caWithLeaf('pki-a');
  await caWithLeaf('pki-b');
  const [a, b] = [await subject('pki-a'), await subject('pki-b')];
  assert.match(a, /^CN=restpipe-ca-[0-9a-f]{8}$/);
  assert.notEqual(a, b);
  assert.match(await mixUp('pki-a', 'pki-b'), new RegExp(`certificate is not signed by the CA in \\S+/ca\\.crt\\.pem: issued by "${a}", CA is "${b}"$`));
});

test('two CAs of the same name: the refusal gives the fingerprint of the CA it was checked against', async () => {
  await caWithLeaf('same-a', ['--cn', 'acme-ca']);
  await caWithLeaf('same-b', ['--cn', 'acme-ca']);
  const fingerprint = new X509Certificate(await readFile(join(tmp.dir, 'same-b', 'ca.crt.pem'))).fingerprint256;
  const line = await mixUp('same-a', 'same-b');
  assert.ok(line.includes('but by another CA of the same name "CN=acme-ca"'), line);
  assert.ok(line.includes(`has SHA-256 fingerprint ${fingerprint}`), line);
});
