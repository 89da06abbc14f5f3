// Names that cannot be confused (SPEC §4, issue 13 item 5). A client `legit` is connected from
// 127.0.0.1, so `/client/127.0.0.1/…` on the server's gateway reaches it. A certificate whose CN
// is `127.0.0.1`, made with openssl and signed by the same CA, once captured that URL: the
// gateway let a known CN win over an address. Now `ca issue` refuses such a name, `set-identity`
// and a node's start-up refuse such a certificate, the server refuses it at connect with the
// reason logged, and the address keeps reaching `legit` throughout.
// Needs the openssl binary (CI's .ci/run installs it); skipped with a message without it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { createClient, type RestpipeClient } from '../../src/index.js';
import { httpRequest } from '../helpers/gateway-http.js';
import {
  E2E_HANDLERS,
  FAST_FLAGS,
  clientConnected,
  killAll,
  runCli,
  startClient,
  startServer,
  tempDir,
  type StartedClient,
  type StartedServer,
} from '../helpers/cli-processes.js';

const hasOpenssl = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0;
const skip = hasOpenssl ? false : 'the openssl binary is not installed; .ci/run installs it';
const COMMON = ['--handlers', E2E_HANDLERS, ...FAST_FLAGS];
const IP_PROBLEM = 'an IP address; a node name may not be one, since /client/ADDRESS/… on the server routes by address';

let tmp: { dir: string; remove: () => Promise<void> };
let pkiDir: string;
let server: StartedServer;
let legit: StartedClient;
let rogue: { key: string; cert: string };
let libraryClient: RestpipeClient | undefined;

/** A key and a certificate with CN `cn`, signed by the CA in `pkiDir` with openssl (RELIABILITY §5.6). */
async function opensslIssue(cn: string): Promise<{ key: string; cert: string }> {
  const key = join(tmp.dir, 'rogue.key.pem');
  const csr = join(tmp.dir, 'rogue.csr');
  const cert = join(tmp.dir, 'rogue.crt.pem');
  const ext = join(tmp.dir, 'rogue.ext');
  await writeFile(
    ext,
    'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1\n',
  );
  const run = (args: string[]): void => {
    const r = spawnSync('openssl', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `openssl ${args.join(' ')}\n${r.stderr}`);
  };
  run(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-subj', `/CN=${cn}`, '-out', csr]);
  run([
    'x509', '-req', '-in', csr, '-CA', join(pkiDir, 'ca.crt.pem'), '-CAkey', join(pkiDir, 'ca.key.pem'),
    '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', '1', '-sha256', '-extfile', ext, '-out', cert,
  ]);
  return { key, cert };
}

async function whoAnswers(name: string): Promise<number> {
  const res = await httpRequest({ port: server.gateway!.port }, { path: `/client/${name}/whoami` });
  assert.equal(res.status, 200, res.body.toString());
  return (res.json() as { pid: number }).pid;
}

before(async () => {
  if (skip !== false) return;
  tmp = await tempDir();
  pkiDir = join(tmp.dir, 'pki');
  for (const args of [['ca', 'init', '--dir', pkiDir], ['ca', 'issue', 'server', '--dir', pkiDir], ['ca', 'issue', 'legit', '--dir', pkiDir]]) {
    const r = await runCli(args);
    assert.equal(r.code, 0, r.stderr);
  }
  const install = async (role: 'server' | 'client', name: string): Promise<string> => {
    const dir = join(tmp.dir, `state-${name}`);
    const r = await runCli([role, 'set-identity', join(pkiDir, `${name}.key.pem`), join(pkiDir, `${name}.crt.pem`), join(pkiDir, 'ca.crt.pem'), '--cert-dir', dir]);
    assert.equal(r.code, 0, r.stderr);
    return dir;
  };
  server = await startServer(await install('server', 'server'), COMMON);
  legit = await startClient(await install('client', 'legit'), server.pipePort, COMMON);
  await clientConnected(server.proc, 'legit');
  rogue = await opensslIssue('127.0.0.1');
});

after(async () => {
  await libraryClient?.close({ graceMs: 0 });
  await killAll();
  await tmp?.remove();
});

test('ca issue refuses an IP literal as a name, with one line, writing nothing', { skip }, async () => {
  const before = (await readdir(pkiDir)).sort();
  for (const name of ['127.0.0.1', '10.1.2.3', '127.1']) {
    const r = await runCli(['ca', 'issue', name, '--dir', pkiDir]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(r.stderrLines, [`restpipe: invalid node name ${JSON.stringify(name)}: ${IP_PROBLEM}`]);
  }
  assert.deepEqual((await readdir(pkiDir)).sort(), before);
});

test('set-identity and a node start-up refuse a certificate whose CN is an IP literal', { skip }, async () => {
  const certDir = join(tmp.dir, 'state-rogue');
  const r = await runCli(['client', 'set-identity', rogue.key, rogue.cert, join(pkiDir, 'ca.crt.pem'), '--cert-dir', certDir]);
  assert.equal(r.code, 1, r.stderr);
  assert.deepEqual(r.stderrLines, [`restpipe: ${rogue.cert}: CN "127.0.0.1" is not a valid node name (${IP_PROBLEM})`]);
  await assert.rejects(readdir(certDir), { code: 'ENOENT' }, 'nothing installed');

  // Files placed by hand (as an older restpipe could have installed them) stop the node at start.
  const byHand = join(tmp.dir, 'state-by-hand');
  await mkdir(byHand, { mode: 0o700 });
  await copyFile(rogue.key, join(byHand, 'restpipe.client.key.pem'));
  await copyFile(rogue.cert, join(byHand, 'restpipe.client.crt.pem'));
  await copyFile(join(pkiDir, 'ca.crt.pem'), join(byHand, 'ca.crt.pem'));
  const start = await runCli(['client', '--cert-dir', byHand, '--server', `localhost:${server.pipePort}`, '--no-http']);
  assert.equal(start.code, 1, start.stderr);
  assert.match(start.stderr, /CN "127\.0\.0\.1" is not a valid node name \(an IP address; /);
});

test('the server refuses the certificate at connect, logs why, and the address still reaches legit', { skip }, async () => {
  assert.equal(await whoAnswers('127.0.0.1'), legit.proc.pid);
  libraryClient = createClient({
    host: 'localhost',
    port: server.pipePort,
    tls: { key: await readFile(rogue.key, 'utf8'), cert: await readFile(rogue.cert, 'utf8'), ca: await readFile(join(pkiDir, 'ca.crt.pem'), 'utf8') },
    reconnectMinMs: 200,
    reconnectMaxMs: 400,
  });
  libraryClient.start();
  const refused = await server.proc.waitForLog(
    (l) => typeof l['msg'] === 'string' && l['msg'].startsWith('refused a client certificate'),
    'the refusal of CN 127.0.0.1',
  );
  assert.equal(refused['reason'], `certificate CN "127.0.0.1" is not a valid node name (${IP_PROBLEM})`);
  assert.equal(refused['cn'], '127.0.0.1');
  assert.equal(typeof refused['fingerprint256'], 'string');
  assert.equal(refused['address'], '127.0.0.1');
  // The refused pipe never registered: the address (in any spelling) reaches legit, and the
  // server's status lists legit alone.
  for (const name of ['127.0.0.1', '127.1', '%31%32%37.0.0.1']) assert.equal(await whoAnswers(name), legit.proc.pid, name);
  const status = (await httpRequest({ port: server.gateway!.port }, { path: '/status' })).json() as { clients: Array<{ name: string }> };
  assert.deepEqual(status.clients.map((c) => c.name), ['legit']);
  assert.equal(server.proc.log.filter((l) => l['msg'] === "client '127.0.0.1' connected").length, 0);
});
