// `server|client set-identity` and the seed's aliases, as a user runs them, with bad input
// (SPEC §3): each failure is exactly one line on stderr naming the file and the problem, a
// non-zero exit, nothing on stdout, and nothing written: a cert dir that did not exist still
// does not, one that held an identity holds the same bytes, modes and names.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstat, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { makePki, type Pki } from '../helpers/pki.js';
import { BIN, killAll, runCli, tempDir } from '../helpers/cli-processes.js';

let pki: Pki;
let tmp: { dir: string; remove: () => Promise<void> };
let garbage: string;
let n = 0;

before(async () => {
  pki = await makePki();
  tmp = await tempDir();
  garbage = join(tmp.dir, 'garbage.pem');
  await writeFile(garbage, 'this is not PEM at all\n');
});

after(async () => {
  await killAll();
  await pki?.cleanup();
  await tmp?.remove();
});

type Snapshot = Array<{ name: string; mode: number; bytes: string }> | 'absent';

async function snapshot(dir: string): Promise<Snapshot> {
  try {
    await lstat(dir);
  } catch {
    return 'absent';
  }
  const names = (await readdir(dir)).sort();
  return Promise.all(
    names.map(async (name) => ({ name, mode: (await stat(join(dir, name))).mode & 0o777, bytes: await readFile(join(dir, name), 'utf8') })),
  );
}

/** A cert dir that already holds a valid installed identity of `role` (made by the CLI itself). */
async function installedDir(role: 'server' | 'client'): Promise<string> {
  const dir = join(tmp.dir, `installed-${role}-${++n}`);
  const id = role === 'server' ? pki.server : pki.client1;
  const r = await runCli([role, 'set-identity', id.keyPath, id.certPath, pki.ca.certPath, '--cert-dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  return dir;
}

interface Case {
  what: string;
  role: 'server' | 'client';
  args: () => string[];
  /** The file the message must name, and what it must say about it. */
  file: () => string;
  problem: RegExp;
}

const CASES: Case[] = [
  { what: 'a key file that does not exist', role: 'server', args: () => [join(tmp.dir, 'nope.key.pem'), pki.server.certPath, pki.ca.certPath], file: () => join(tmp.dir, 'nope.key.pem'), problem: /not found/ },
  { what: 'a certificate file that does not exist', role: 'client', args: () => [pki.client1.keyPath, join(tmp.dir, 'nope.crt.pem'), pki.ca.certPath], file: () => join(tmp.dir, 'nope.crt.pem'), problem: /not found/ },
  { what: 'a key that does not match the certificate', role: 'server', args: () => [pki.client1.keyPath, pki.server.certPath, pki.ca.certPath], file: () => pki.client1.keyPath, problem: /does not match/ },
  { what: 'a certificate not signed by the CA', role: 'client', args: () => [pki.foreignClient.keyPath, pki.foreignClient.certPath, pki.ca.certPath], file: () => pki.foreignClient.certPath, problem: /not signed by the CA/ },
  { what: 'an expired certificate', role: 'client', args: () => [pki.expired.keyPath, pki.expired.certPath, pki.ca.certPath], file: () => pki.expired.certPath, problem: /expired/ },
  { what: 'a certificate not valid yet', role: 'server', args: () => [pki.notYetValid.keyPath, pki.notYetValid.certPath, pki.ca.certPath], file: () => pki.notYetValid.certPath, problem: /not (yet )?valid/ },
  { what: 'a garbage key', role: 'server', args: () => [garbage, pki.server.certPath, pki.ca.certPath], file: () => garbage, problem: /not a PEM private key/ },
  { what: 'a garbage certificate', role: 'client', args: () => [pki.client1.keyPath, garbage, pki.ca.certPath], file: () => garbage, problem: /not a PEM certificate/ },
  { what: 'a garbage CA', role: 'server', args: () => [pki.server.keyPath, pki.server.certPath, garbage], file: () => garbage, problem: /not a PEM CA certificate/ },
  { what: 'a CA that is a leaf certificate', role: 'client', args: () => [pki.client1.keyPath, pki.client1.certPath, pki.client2.certPath], file: () => pki.client2.certPath, problem: /not a CA certificate/ },
];

function assertOneLine(r: { code: number | null; stdout: string; stderrLines: string[] }, file: string, problem: RegExp): void {
  assert.notEqual(r.code, 0);
  assert.equal(r.stdout, '', 'nothing on stdout');
  assert.equal(r.stderrLines.length, 1, `exactly one line on stderr, got:\n${r.stderrLines.join('\n')}`);
  const line = r.stderrLines[0]!;
  assert.ok(line.startsWith('restpipe: '), line);
  assert.ok(line.includes(file), `names ${file}: ${line}`);
  assert.match(line, problem);
}

for (const c of CASES) {
  describe(`${c.role} set-identity with ${c.what}`, () => {
    test('into a cert dir that does not exist: one line, exit 1, the dir is not created', async () => {
      const dir = join(tmp.dir, `fresh-${++n}`);
      const r = await runCli([c.role, 'set-identity', ...c.args(), '--cert-dir', dir]);
      assertOneLine(r, c.file(), c.problem);
      assert.equal(r.code, 1);
      assert.equal(await snapshot(dir), 'absent');
    });

    test(`over an installed identity, via rp_${c.role}_set_identity and the env variable: the old files are untouched`, async () => {
      const dir = await installedDir(c.role);
      const before = await snapshot(dir);
      const env = { [c.role === 'server' ? 'RP_SERVER_CERT_PATH' : 'RP_CLIENT_CERT_PATH']: dir };
      const r = await runCli(c.args(), { script: c.role === 'server' ? BIN.rp_server_set_identity : BIN.rp_client_set_identity, env });
      assertOneLine(r, c.file(), c.problem);
      assert.deepEqual(await snapshot(dir), before);
    });
  });
}

test('client set-identity KEY CRT without a CA installed: one line naming the missing CA, nothing written', async () => {
  const dir = join(tmp.dir, `fresh-${++n}`);
  const r = await runCli(['client', 'set-identity', pki.client1.keyPath, pki.client1.certPath, '--cert-dir', dir]);
  assertOneLine(r, join(dir, 'ca.crt.pem'), /pass the CA certificate as the third argument/);
  assert.equal(await snapshot(dir), 'absent');
});

test('rp_client_set_identity KEY CRT with a CA installed: the two-argument form works, keys 0600', async () => {
  const dir = await installedDir('client');
  const r = await runCli([pki.client2.keyPath, pki.client2.certPath, '--cert-dir', dir], { script: BIN.rp_client_set_identity });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^installed client identity 'client2' into /);
  const files = await snapshot(dir);
  assert.notEqual(files, 'absent');
  const byName = new Map((files as Exclude<Snapshot, 'absent'>).map((f) => [f.name, f]));
  assert.deepEqual([...byName.keys()].sort(), ['ca.crt.pem', 'restpipe.client.crt.pem', 'restpipe.client.key.pem']);
  assert.equal(byName.get('restpipe.client.key.pem')!.mode, 0o600);
  assert.equal(byName.get('restpipe.client.key.pem')!.bytes, pki.client2.keyPem);
  assert.equal(byName.get('ca.crt.pem')!.bytes, pki.ca.certPem, 'the installed CA was kept');
  assert.equal((await stat(dir)).mode & 0o777, 0o700);
});

test('set-identity with a missing argument or an unknown flag: one line, exit 2', async () => {
  for (const args of [['server', 'set-identity', pki.server.keyPath], ['client', 'set-identity'], ['server', 'set-identity', 'a', 'b', 'c', '--bogus']]) {
    const r = await runCli(args);
    assert.equal(r.code, 2, args.join(' '));
    assert.equal(r.stderrLines.length, 1, r.stderr);
    assert.match(r.stderrLines[0]!, /^restpipe: .*\(see: restpipe (server|client) set-identity --help\)$/);
  }
});
