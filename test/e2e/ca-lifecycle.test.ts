// The CA's lifecycle as an operator runs it (SPEC §11, issue 13 item 2), with real processes: a
// server started with `--crl DIR/crl.pem` and two clients; `ca list` shows what the CA issued;
// `ca revoke NAME` drops that client's open pipe within a second and its reconnects are refused
// with CERT_REVOKED while the other client stays; `ca renew NAME` keeps the SANs, and after
// `set-identity` and SIGHUP the running client reconnects with the renewed certificate.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { httpRequest } from '../helpers/gateway-http.js';
import {
  FAST_FLAGS,
  clientConnected,
  killAll,
  runCli,
  startClient,
  startServer,
  tempDir,
  type CliProcess,
  type LogLine,
  type StartedClient,
  type StartedServer,
} from '../helpers/cli-processes.js';

let tmp: { dir: string; remove: () => Promise<void> };
let pki: string;
let server: StartedServer;
let sensor: StartedClient;
let fileserver: StartedClient;
const certDirs: Record<string, string> = {};

const msg = (l: LogLine): string => String(l['msg'] ?? '');

async function cli(args: string[]): Promise<string[]> {
  const r = await runCli(args);
  assert.equal(r.code, 0, `restpipe ${args.join(' ')}\n${r.stderr}`);
  return r.stdout.split('\n');
}

async function certOf(name: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(join(pki, `${name}.crt.pem`)));
}

async function install(role: 'server' | 'client', name: string): Promise<void> {
  certDirs[name] ??= join(tmp.dir, `state-${name}`);
  await cli([role, 'set-identity', join(pki, `${name}.key.pem`), join(pki, `${name}.crt.pem`), join(pki, 'ca.crt.pem'), '--cert-dir', certDirs[name]!]);
}

/** Waits for a log line after index `from` of `p`'s log. */
function logAfter(p: CliProcess, from: number, match: (l: LogLine) => boolean, what: string, timeoutMs = 10_000): Promise<LogLine> {
  return p.waitForLog((l) => p.log.indexOf(l) >= from && match(l), what, timeoutMs);
}

before(async () => {
  tmp = await tempDir();
  pki = join(tmp.dir, 'pki');
  await cli(['ca', 'init', '--dir', pki]);
  await cli(['ca', 'issue', 'server', '--dir', pki]);
  await cli(['ca', 'issue', 'sensor', '--dir', pki]);
  await cli(['ca', 'issue', 'fileserver', '--dir', pki, '--san', 'files.example.com,10.9.8.7']);
  await cli(['ca', 'crl', '--dir', pki]);
  await install('server', 'server');
  await install('client', 'sensor');
  await install('client', 'fileserver');
  server = await startServer(certDirs['server']!, [...FAST_FLAGS, '--crl', join(pki, 'crl.pem')]);
  sensor = await startClient(certDirs['sensor']!, server.pipePort, [...FAST_FLAGS, '--no-http']);
  fileserver = await startClient(certDirs['fileserver']!, server.pipePort, [...FAST_FLAGS, '--no-http']);
  await Promise.all([clientConnected(server.proc, 'sensor'), clientConnected(server.proc, 'fileserver')]);
});

after(async () => {
  await killAll();
  await tmp?.remove();
});

test('ca list: each certificate with its name, serial, expiry and state, and the CRL', async () => {
  const lines = await cli(['ca', 'list', '--dir', pki]);
  assert.match(lines[0]!, /^NAME\s+SERIAL\s+NOT AFTER\s+STATE$/);
  const rows = lines.slice(1, 4).map((l) => l.split(/\s+/));
  assert.deepEqual(rows.map((r) => r[0]), ['fileserver', 'sensor', 'server']);
  for (const [name, serial, notAfter, state] of rows) {
    const cert = await certOf(name!);
    assert.equal(serial, cert.serialNumber.toLowerCase(), name);
    assert.equal(notAfter, new Date(cert.validTo).toISOString(), name);
    assert.equal(state, 'valid', name);
  }
  assert.match(lines[4]!, new RegExp(`^CRL ${join(pki, 'crl.pem')}: 0 revoked, next update \\S+Z$`));
  assert.equal(lines.length, 5);
});

test('ca revoke NAME: the open pipe is dropped within a second, reconnects are refused with CERT_REVOKED, others stay', async (t) => {
  const serial = (await certOf('sensor')).serialNumber.toLowerCase();
  const fromServer = server.proc.log.length;
  const fromSensor = sensor.proc.log.length;
  const out = await cli(['ca', 'revoke', 'sensor', '--dir', pki, '--reason', 'keyCompromise']);
  const revokedAt = Date.now();
  assert.equal(out[0], `revoked sensor ${serial} (keyCompromise)`);
  assert.match(out[1]!, new RegExp(`^signed CRL ${join(pki, 'crl.pem')}: 1 revoked, next update `));

  // The server watches the CRL file: the pipe goes at once, not at the next reconnect.
  const dropped = await logAfter(server.proc, fromServer, (l) => msg(l).startsWith("dropping client 'sensor'"), 'the revoked pipe dropped');
  assert.equal(dropped['reason'], 'CERT_REVOKED');
  const lagMs = Number(dropped['time']) - revokedAt;
  t.diagnostic(`pipe dropped ${lagMs} ms after ca revoke returned`);
  assert.ok(lagMs < 1_000, `dropped ${lagMs} ms after ca revoke returned`);
  await logAfter(sensor.proc, fromSensor, (l) => /certificate refused: CERT_REVOKED/.test(msg(l)) || /CERT_REVOKED/.test(String(l['reason'] ?? '')), "the client's log says why");
  // Its next dial is refused by the handshake itself.
  const refused = await logAfter(server.proc, fromServer, (l) => msg(l) === 'refused a client certificate: CERT_REVOKED', 'a reconnect refused');
  assert.equal(refused['cn'], 'sensor');

  const status = (await httpRequest({ port: server.gateway!.port }, { path: '/status' })).json() as { clients: Array<{ name: string }> };
  assert.deepEqual(status.clients.map((c) => c.name), ['fileserver']);
  const list = await cli(['ca', 'list', '--dir', pki]);
  assert.match(list.find((l) => l.startsWith('sensor'))!, /\srevoked \(keyCompromise, \S+Z\)$/);
  assert.match(list.at(-1)!, /: 1 revoked, /);
  // Revoking again changes nothing and says so.
  const again = await cli(['ca', 'revoke', serial, '--dir', pki]);
  assert.match(again[0]!, new RegExp(`^already revoked: sensor ${serial} on \\S+Z \\(keyCompromise\\)$`));
});

test('ca crl re-signs the CRL with a fresh next update and keeps every revocation; the server reloads it', async () => {
  const fromServer = server.proc.log.length;
  const out = await cli(['ca', 'crl', '--dir', pki]);
  assert.match(out[0]!, /: 1 revoked, next update /);
  const next = new Date(/next update (\S+)$/.exec(out[0]!)![1]!);
  assert.ok(Math.abs(next.getTime() - (Date.now() + 7 * 86_400_000)) < 60_000, `next update ${next.toISOString()} is 7 days on`);
  const reloaded = await logAfter(server.proc, fromServer, (l) => msg(l) === 'CRL reloaded', 'CRL reloaded');
  assert.equal(reloaded['revoked'], 1);
});

test('ca renew keeps the SANs; after set-identity and SIGHUP the running client reconnects with the new certificate', async () => {
  const old = await certOf('fileserver');
  const oldKey = await readFile(join(pki, 'fileserver.key.pem'), 'utf8');
  const out = await cli(['ca', 'renew', 'fileserver', '--dir', pki]);
  const renewed = await certOf('fileserver');
  assert.equal(out[0], `renewed fileserver: certificate ${join(pki, 'fileserver.crt.pem')} (serial ${renewed.serialNumber.toLowerCase()}, valid until ${new Date(renewed.validTo).toISOString()})`);
  assert.equal(renewed.subjectAltName, old.subjectAltName);
  assert.equal(renewed.subjectAltName, 'DNS:fileserver, DNS:files.example.com, IP Address:10.9.8.7, DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  assert.equal(renewed.subject, old.subject);
  assert.notEqual(renewed.serialNumber, old.serialNumber);
  assert.notEqual(await readFile(join(pki, 'fileserver.key.pem'), 'utf8'), oldKey, 'a new key');

  await install('client', 'fileserver');
  const fromServer = server.proc.log.length;
  const fromClient = fileserver.proc.log.length;
  fileserver.proc.signal('SIGHUP');
  await logAfter(fileserver.proc, fromClient, (l) => msg(l) === "identity 'fileserver' reloaded: reconnecting with it", 'the identity reloaded');
  const connected = await logAfter(server.proc, fromServer, (l) => msg(l) === "client 'fileserver' connected", 'the reconnect');
  assert.equal(connected['fingerprint256'], renewed.fingerprint256, 'the pipe runs on the renewed certificate');

  // --keep-key: a new certificate for the same key, same SANs again.
  await cli(['ca', 'renew', 'fileserver', '--dir', pki, '--keep-key', '--days', '30']);
  const kept = await certOf('fileserver');
  assert.equal(kept.publicKey.export({ type: 'spki', format: 'pem' }), renewed.publicKey.export({ type: 'spki', format: 'pem' }));
  assert.equal(kept.subjectAltName, old.subjectAltName);
  assert.ok(new Date(kept.validTo).getTime() < Date.now() + 31 * 86_400_000);

  // The list shows the chain of renewals.
  const list = await cli(['ca', 'list', '--dir', pki]);
  const rows = list.filter((l) => l.startsWith('fileserver'));
  assert.equal(rows.length, 3);
  assert.match(rows[0]!, new RegExp(`^fileserver\\s+${old.serialNumber.toLowerCase()}\\s+\\S+\\s+valid, renewed \\(by ${renewed.serialNumber.toLowerCase()}\\)$`));
  assert.match(rows[2]!, new RegExp(`^fileserver\\s+${kept.serialNumber.toLowerCase()}\\s+\\S+\\s+valid$`));
});
