// Revocation (SPEC §6, RELIABILITY §3.2 S5, §4 item 6). A revoked client certificate is refused
// at connect when the server has the CRL; and when the CRL changes while the server runs, the
// new one applies to new handshakes AND to pipes already open: a pipe whose certificate it
// revokes is dropped with a logged reason (CERT_REVOKED), its client is told why and is refused
// from then on, other clients are untouched. Un-revoking (a CRL without the entry) lets it back.
// First through the library (updateTls), then through the real CLI as a user runs it:
// `restpipe server --crl FILE`, reloaded by SIGHUP and by replacing the file.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rename, symlink, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';

import type { RestpipeClient, RestpipeServer } from 'restpipe';
import { createCrl } from '../../src/identity/index.js';
import {
  FAST_FLAGS,
  clientConnected,
  killAll,
  startClient,
  startServer,
  type CliProcess,
  type LogLine,
} from '../helpers/cli-processes.js';
import { MemoryLogger, startTestBed, type TestBed } from '../helpers/nodes.js';
import { onceEvent, record, waitForStatus } from '../helpers/wait.js';

let bed: TestBed;
let emptyCrl: string;

before(async () => {
  bed = await startTestBed();
  emptyCrl = await createCrl({ ca: bed.pki.ca, revoked: [] });
});
after(async () => {
  await killAll();
  await bed?.close();
});

describe('library: updateTls with a new CRL', () => {
  let server: RestpipeServer;
  let port: number;
  const serverLog = new MemoryLogger();

  before(async () => {
    ({ server, port } = await bed.server({ tls: { ...bed.pki.server.tls, crl: emptyCrl }, logger: serverLog }));
  });

  test('a revoked certificate is refused at connect', async () => {
    const other = await bed.server({ tls: { ...bed.pki.server.tls, crl: bed.pki.crl.pem } });
    const refused = onceEvent(other.server, 'refused', { filter: (r: { reason: string }) => r.reason === 'CERT_REVOKED', timeoutMs: 5_000 });
    const c = bed.client(other.port, bed.pki.revoked);
    const status = await waitForStatus(c, (s) => s.state === 'backoff');
    assert.match(status.reason ?? '', /certificate refused: CERT_REVOKED/);
    const [r] = await refused;
    assert.equal((r as { cn?: string }).cn, 'revoked1');
    await c.close({ graceMs: 0 });
  });

  test('drops the open pipe it revokes (with a reason on both sides), keeps the others, and refuses the revoked client from then on', async () => {
    const revokedLog = new MemoryLogger();
    const victim = await bed.connectedClient(server, port, bed.pki.revoked, { logger: revokedLog });
    const bystander = await bed.connectedClient(server, port, bed.pki.client1);
    const removed = record<[string, number]>(server, 'connection_removed');
    const statuses = record<[{ state: string; reason?: string }]>(victim, 'status');
    const t0 = performance.now();
    const closed = onceEvent(server, 'connection_removed', { filter: (name: string) => name === 'revoked1' });
    const dropped = await server.updateTls({ crl: bed.pki.crl.pem });
    await closed;
    const dropMs = performance.now() - t0;
    assert.deepEqual(dropped, ['revoked1']);

    const line = serverLog.matching(/dropping client 'revoked1': its certificate is revoked/)[0];
    assert.ok(line !== undefined, serverLog.text().join('\n'));
    assert.equal(line.level, 'warn');
    assert.equal(line.fields['reason'], 'CERT_REVOKED');
    assert.match(String(line.fields['fingerprint256']), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    // The client was told why, and its reconnects are refused by the new CRL.
    await onceEvent(victim, 'connect_fail', { filter: (n: number) => n >= 2, timeoutMs: 5_000 });
    assert.ok(revokedLog.matching(/CERT_REVOKED/).some((l) => l.level === 'warn'), revokedLog.text().join('\n'));
    assert.ok(statuses.items.some((s) => /CERT_REVOKED/.test(s.args[0].reason ?? '')), JSON.stringify(statuses.items.map((s) => s.args[0])));
    assert.equal(server.client('revoked1'), undefined);
    // The bystander never noticed.
    assert.deepEqual(removed.items.map((r) => r.args[0]), ['revoked1']);
    assert.equal((await bystander.send({ verb: 'get', noun: 'time' })).code, 0);
    removed.stop();
    statuses.stop();

    // Un-revoked: the next attempt gets in.
    const back = onceEvent(server, 'connection_added', { filter: (name: string) => name === 'revoked1', timeoutMs: 5_000 });
    assert.deepEqual(await server.updateTls({ crl: emptyCrl }), []);
    await back;
    assert.equal((await victim.send({ verb: 'get', noun: 'time' })).code, 0);
    console.log(`library: revoked live pipe dropped ${dropMs.toFixed(0)} ms after updateTls`);
    await Promise.all([victim.close({ graceMs: 100 }), bystander.close({ graceMs: 100 })]);
  });

  test('a CRL that does not parse is refused by updateTls and changes nothing', async () => {
    const c: RestpipeClient = await bed.connectedClient(server, port, bed.pki.client2);
    assert.throws(() => server.updateTls({ crl: '-----BEGIN X509 CRL-----\nnot base64\n-----END X509 CRL-----\n' }));
    assert.equal((await c.send({ verb: 'get', noun: 'time' })).code, 0);
    await c.close({ graceMs: 100 });
  });
});

describe('CLI: restpipe server --crl FILE, reloaded by SIGHUP and on file change', () => {
  let server: CliProcess;
  let victim: CliProcess;
  let bystander: CliProcess;
  let crlLink: string;
  let crlTarget: string;
  const mark = (p: CliProcess): number => p.log.length;
  const after = (p: CliProcess, from: number, match: (l: LogLine) => boolean) => (l: LogLine) => p.log.indexOf(l) >= from && match(l);
  const msg = (l: LogLine): string => String(l['msg'] ?? '');

  before(async () => {
    // The server is given a symlink; the file behind it lives in another directory. The server
    // watches the directory of the path it was given, so an in-place edit of the target is
    // invisible to the watcher: only SIGHUP reloads it. Replacing the link itself is a change
    // the watcher sees.
    const linkDir = join(bed.pki.dir, 'crl-link');
    const targetDir = join(bed.pki.dir, 'crl-target');
    await mkdir(linkDir);
    await mkdir(targetDir);
    crlTarget = join(targetDir, 'ca.crl.pem');
    crlLink = join(linkDir, 'ca.crl.pem');
    await writeFile(crlTarget, emptyCrl);
    await symlink(crlTarget, crlLink);
    const common = [...FAST_FLAGS, '--no-http'];
    const backoff = ['--reconnect-min', '0.05', '--reconnect-max', '0.4'];
    const started = await startServer(await bed.pki.certDir('server', bed.pki.server), [...common, '--crl', crlLink]);
    server = started.proc;
    ({ proc: victim } = await startClient(await bed.pki.certDir('client', bed.pki.revoked), started.pipePort, [...common, ...backoff], { name: 'revoked1' }));
    ({ proc: bystander } = await startClient(await bed.pki.certDir('client', bed.pki.client1), started.pipePort, [...common, ...backoff], { name: 'client1' }));
    await Promise.all([clientConnected(server, 'revoked1'), clientConnected(server, 'client1')]);
  });

  test('SIGHUP: an in-place edit of the CRL is applied, the open pipe of the revoked client is dropped with a logged reason', async () => {
    const from = mark(server);
    const victimFrom = mark(victim);
    await writeFile(crlTarget, bed.pki.crl.pem); // in place, behind the symlink: no watcher event
    const t0 = performance.now();
    server.signal('SIGHUP');
    const reloaded = await server.waitForLog(after(server, from, (l) => msg(l) === 'CRL reloaded'), 'CRL reloaded after SIGHUP');
    assert.equal(reloaded['revoked'], 1, reloaded.text);
    const drop = await server.waitForLog(after(server, from, (l) => msg(l).startsWith("dropping client 'revoked1'")), 'the drop line');
    const dropMs = performance.now() - t0;
    assert.equal(drop['reason'], 'CERT_REVOKED', drop.text);
    assert.equal(drop['level'], 40, 'warn');
    // Its reconnects are refused by the new CRL, and the client's log says why.
    const refusal = await server.waitForLog(
      after(server, from, (l) => msg(l) === 'refused a client certificate: CERT_REVOKED' && l['cn'] === 'revoked1'),
      'the refusal of the reconnect',
    );
    assert.equal(refusal['address'], '127.0.0.1');
    await victim.waitForLog(after(victim, victimFrom, (l) => /CERT_REVOKED/.test(l.text) && l['level'] === 40), 'the client logging CERT_REVOKED');
    // The bystander kept its pipe.
    assert.equal(server.log.slice(from).filter((l) => /client 'client1' (disconnected|connected)/.test(msg(l))).length, 0, server.dump());
    const reloads = server.log.slice(from).filter((l) => msg(l) === 'CRL reloaded').length;
    assert.equal(reloads, 1, 'one reload: the SIGHUP (the watcher did not see the in-place edit behind the link)');
    console.log(`CLI SIGHUP: revoked pipe dropped ${dropMs.toFixed(0)} ms after the signal; server line: ${drop.text}`);
  });

  test('file change: replacing the CRL file with one that no longer lists the client lets it back in, without a signal', async () => {
    const from = mark(server);
    const fresh = join(bed.pki.dir, 'crl-link', 'ca.crl.pem.new');
    await writeFile(fresh, emptyCrl);
    const t0 = performance.now();
    await rename(fresh, crlLink); // what editors and deploy tools do: the link becomes a plain file
    const reloaded = await server.waitForLog(after(server, from, (l) => msg(l) === 'CRL reloaded'), 'CRL reloaded after the file change');
    const reloadMs = performance.now() - t0;
    assert.equal(reloaded['revoked'], 0, reloaded.text);
    await server.waitForLog(after(server, from, (l) => msg(l) === "client 'revoked1' connected"), 'revoked1 back in', 10_000);
    console.log(`CLI file change: reloaded ${reloadMs.toFixed(0)} ms after the rename`);
  });

  test('file change: revoking again through the file drops the pipe again; a broken CRL file keeps the previous one', async () => {
    let from = mark(server);
    const fresh = join(bed.pki.dir, 'crl-link', 'ca.crl.pem.new');
    await writeFile(fresh, bed.pki.crl.pem);
    await rename(fresh, crlLink);
    await server.waitForLog(after(server, from, (l) => msg(l).startsWith("dropping client 'revoked1'")), 'the drop line after the file change');

    from = mark(server);
    await writeFile(fresh, 'not a CRL\n');
    await rename(fresh, crlLink);
    const failed = await server.waitForLog(after(server, from, (l) => msg(l) === 'CRL reload failed; keeping the previous one'), 'the failed reload');
    assert.match(String(failed['err']), /not a PEM CRL/);
    // Still the previous (revoking) CRL: revoked1 is still refused. Refusal lines are rate
    // limited (5 per reason per 10 s), so either a line or the window's summary shows it.
    await server.waitForLog(
      after(server, from, (l) => msg(l) === 'refused a client certificate: CERT_REVOKED' || (l['like'] === 'refused:CERT_REVOKED' && Number(l['suppressed']) > 0)),
      'a refusal (or its suppressed count) under the kept CRL',
      15_000,
    );
    assert.equal(server.log.slice(from).filter((l) => msg(l) === "client 'revoked1' connected").length, 0);
    // client1 kept its one pipe through all of it.
    assert.equal(server.log.filter((l) => msg(l).startsWith("client 'client1' disconnected")).length, 0, server.dump());
    assert.equal(bystander.log.filter((l) => msg(l).startsWith('pipe open to server')).length, 1, bystander.dump());
  });
});
