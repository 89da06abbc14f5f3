// TLS 1.3 session resumption with restpipe's own re-check (SPEC §6, issue 14). OpenSSL restores
// a resumed session's client certificate without checking its dates, the CRL or the CA again
// (RELIABILITY §5.6); the server re-checks it before the hello and refuses with the reason a
// full handshake gives. Each case gets a session while the certificate is good, then changes
// what should refuse it (a reloaded CRL, the clock, a replaced CA) and offers the session again
// from restpipe's client and from `openssl s_client -sess_in`, an independent TLS client.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import tls from 'node:tls';

import { createServer, type RestpipeClient, type RestpipeServer, type ServerOptions } from 'restpipe';
import { createCa, createCrl, issueCertificate } from '../../src/identity/index.js';
import { FrameType } from '../../src/wire/frame.js';
import { encodeFrame } from '../../src/wire/frame-encoder.js';
import { PROTOCOL_VERSION, encodeHello } from '../../src/wire/messages.js';
import { HEARTBEAT, MemoryLogger, startTestBed, type TestBed } from '../helpers/nodes.js';
import { sClient } from '../helpers/openssl-session.js';
import type { PkiIdentity } from '../helpers/pki.js';
import { onceEvent, record, waitUntil } from '../helpers/wait.js';

type Refusal = { address: string; reason: string; cn?: string; resumed?: true };

let bed: TestBed;

before(async () => {
  bed = await startTestBed();
});
after(async () => {
  await bed?.close();
});

/** The server's 'client connected' lines for `name`, with whether each resumed. */
function connectedLines(log: MemoryLogger, name: string): boolean[] {
  return log.matching(new RegExp(`client '${name}' connected`)).map((l) => l.fields['resumed'] === true);
}

/** Connects `client`'s pipe again (the server drops it) and waits for the new one. */
async function reconnect(server: RestpipeServer, client: RestpipeClient, name: string): Promise<void> {
  const back = onceEvent(client, 'connect_success', { timeoutMs: 5_000 });
  server.disconnect(name, 'test: reconnect');
  await back;
}

/** A certificate signed by a CA the server does not trust: OpenSSL's codes for it. */
const UNKNOWN_CA = /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)$/;

/**
 * Records the server's refusals of `cn` until a resumed connection was refused by the re-check
 * and then a full handshake was refused by OpenSSL (the client's redial without its session);
 * returns both. Start it before causing them.
 */
function resumedThenFullRefusal(server: RestpipeServer, cn: string): Promise<{ resumed: Refusal; full: Refusal }> {
  const refusals = record<[Refusal]>(server, 'refused');
  const find = (): { resumed: Refusal; full: Refusal } | undefined => {
    const mine = refusals.items.map((i) => i.args[0]).filter((r) => r.cn === cn);
    const at = mine.findIndex((r) => r.resumed === true);
    const full = at < 0 ? undefined : mine.slice(at + 1).find((r) => r.resumed === undefined);
    return full === undefined ? undefined : { resumed: mine[at]!, full };
  };
  return waitUntil(() => find() !== undefined, 10_000, `a resumed, then a full refusal of ${cn}`)
    .catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(refusals.items.map((i) => i.args[0]))}`);
    })
    .then(() => find()!)
    .finally(() => refusals.stop());
}

describe('resumption between restpipe nodes', () => {
  test('a reconnect resumes the session (both logs say so); with tlsResumption: false on the server it never does', async () => {
    const serverLog = new MemoryLogger();
    const { server, port } = await bed.server({ logger: serverLog });
    const clientLog = new MemoryLogger();
    const client = await bed.connectedClient(server, port, bed.pki.client1, { logger: clientLog });
    await reconnect(server, client, 'client1');
    await reconnect(server, client, 'client1');
    assert.deepEqual(connectedLines(serverLog, 'client1'), [false, true, true]);
    assert.deepEqual(clientLog.matching(/pipe open to server 'server'/).map((l) => l.fields['resumed']), [false, true, true]);
    assert.equal((await client.send({ verb: 'get', noun: 'time' })).code, 0, 'a resumed pipe carries events');

    const offLog = new MemoryLogger();
    const off = await bed.server({ logger: offLog, tlsResumption: false });
    const c2 = await bed.connectedClient(off.server, off.port, bed.pki.client2);
    await reconnect(off.server, c2, 'client2');
    assert.deepEqual(connectedLines(offLog, 'client2'), [false, false]);
  });

  test('a client revoked after it got its session cannot resume: refused CERT_REVOKED before the hello, then refused in full', async () => {
    const serverLog = new MemoryLogger();
    const emptyCrl = await createCrl({ ca: bed.pki.ca, revoked: [] });
    const { server, port } = await bed.server({ tls: { ...bed.pki.server.tls, crl: emptyCrl }, logger: serverLog, helloTimeoutMs: 1_000 });
    const sess = join(bed.pki.dir, 'revoked1.sess');
    const first = await sClient(port, bed.pki.revoked, bed.pki.ca, { sessOut: sess });
    assert.equal(first.handshake, 'New', first.output);
    const clientLog = new MemoryLogger();
    const client = await bed.connectedClient(server, port, bed.pki.revoked, { logger: clientLog });
    await reconnect(server, client, 'revoked1');
    assert.deepEqual(connectedLines(serverLog, 'revoked1'), [false, true], 'it had a session that resumed');

    const refusals = resumedThenFullRefusal(server, 'revoked1');
    await server.updateTls({ crl: bed.pki.crl.pem }); // drops its open pipe; its redial offers the session
    const { resumed, full } = await refusals;
    assert.equal(resumed.reason, 'CERT_REVOKED');
    assert.equal(full.reason, resumed.reason, 'the same reason as a full handshake');
    assert.ok(clientLog.matching(/resumed TLS session failed: .*dialing again at once with a full handshake/).length >= 1, clientLog.text().join('\n'));
    await client.close({ graceMs: 0 });

    const probe = record<[Refusal]>(server, 'refused');
    const again = await sClient(port, bed.pki.revoked, bed.pki.ca, { sessIn: sess });
    probe.stop();
    assert.equal(again.handshake, 'Reused', 'OpenSSL itself resumed the session');
    assert.deepEqual(probe.items.map((i) => i.args[0].reason), ['CERT_REVOKED']);
    assert.equal(probe.items[0]?.args[0].resumed, true);
    assert.equal(server.client('revoked1'), undefined);
  });

  test('a client whose certificate expired after it got its session cannot resume: refused CERT_HAS_EXPIRED', async () => {
    // Whole seconds: X.509 times have no milliseconds. Long enough to connect twice on a busy machine.
    const notAfter = new Date((Math.floor(Date.now() / 1000) + 5) * 1000);
    const leaf = await issueCertificate({ ca: bed.pki.ca, name: 'shortlived', usage: 'client', notBefore: new Date(Date.now() - 60_000), notAfter });
    const keyPath = join(bed.pki.dir, 'shortlived.key.pem');
    const certPath = join(bed.pki.dir, 'shortlived.crt.pem');
    await writeFile(keyPath, leaf.keyPem, { mode: 0o600 });
    await writeFile(certPath, leaf.certPem);
    const id: PkiIdentity = { ...bed.pki.client1, name: 'shortlived', keyPem: leaf.keyPem, certPem: leaf.certPem, keyPath, certPath, tls: { key: leaf.keyPem, cert: leaf.certPem, ca: bed.pki.ca.certPem } };

    const serverLog = new MemoryLogger();
    const { server, port } = await bed.server({ logger: serverLog, helloTimeoutMs: 1_000 });
    const sess = join(bed.pki.dir, 'shortlived.sess');
    assert.equal((await sClient(port, id, bed.pki.ca, { sessOut: sess })).handshake, 'New');
    const client = await bed.connectedClient(server, port, id);
    assert.ok(Date.now() < notAfter.getTime(), 'set up before it expired');

    // At notAfter the server drops the pipe (its expiry timer); the client's redial offers its session.
    const { resumed, full } = await resumedThenFullRefusal(server, 'shortlived');
    assert.equal(resumed.reason, 'CERT_HAS_EXPIRED');
    assert.equal(full.reason, resumed.reason);
    await client.close({ graceMs: 0 });

    const probe = record<[Refusal]>(server, 'refused');
    const again = await sClient(port, id, bed.pki.ca, { sessIn: sess });
    probe.stop();
    assert.equal(again.handshake, 'Reused');
    assert.deepEqual(probe.items.map((i) => [i.args[0].reason, i.args[0].resumed]), [['CERT_HAS_EXPIRED', true]]);
  });

  test('a session made under a CA that has since been replaced cannot resume', async () => {
    const newCa = await createCa({ cn: 'restpipe-test-ca' }); // the same name: only the key differs
    const serverLog = new MemoryLogger();
    const { server, port } = await bed.server({ logger: serverLog, helloTimeoutMs: 1_000 });
    const sess = join(bed.pki.dir, 'client2.sess');
    assert.equal((await sClient(port, bed.pki.client2, bed.pki.ca, { sessOut: sess })).handshake, 'New');
    const client = await bed.connectedClient(server, port, bed.pki.client2);

    server.updateTls({ ca: newCa.certPem }); // open pipes stay; new connections need the new CA
    const refusals = resumedThenFullRefusal(server, 'client2');
    server.disconnect('client2', 'test: CA replaced');
    const { resumed, full } = await refusals;
    assert.equal(resumed.reason, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // A full handshake names the same fault by what the client sent: restpipe's client sends its
    // CA along (SELF_SIGNED_CERT_IN_CHAIN); a session keeps only the certificate.
    assert.match(full.reason, UNKNOWN_CA);
    await client.close({ graceMs: 0 });

    const probe = record<[Refusal]>(server, 'refused');
    const again = await sClient(port, bed.pki.client2, bed.pki.ca, { sessIn: sess });
    probe.stop();
    assert.equal(again.handshake, 'Reused');
    assert.deepEqual(probe.items.map((i) => [i.args[0].reason, i.args[0].resumed]), [['UNABLE_TO_VERIFY_LEAF_SIGNATURE', true]]);
  });

  test('a session from a server with other ticket keys falls back to a full handshake; a shared key file resumes across a restart', async () => {
    /** A server on `port` (0: any), closed with the bed. */
    const serverOn = async (port: number, over: Partial<ServerOptions>): Promise<{ server: RestpipeServer; port: number }> => {
      const server = createServer({ tls: bed.pki.server.tls, ...HEARTBEAT, helloTimeoutMs: 1_000, ...over });
      bed.defer(() => server.close({ graceMs: 0 }));
      const address = await server.listen({ host: '127.0.0.1', port });
      return { server, port: address.port };
    };
    const sess = join(bed.pki.dir, 'other-keys.sess');

    // Keys in memory: a restarted server has other keys, and every session falls back.
    const a = await serverOn(0, {});
    assert.equal((await sClient(a.port, bed.pki.client1, bed.pki.ca, { sessOut: sess })).handshake, 'New');
    const client = await bed.connectedClient(a.server, a.port, bed.pki.client1);
    await a.server.close({ graceMs: 0 });
    const logB = new MemoryLogger();
    const back = onceEvent(client, 'connect_success', { timeoutMs: 5_000 });
    const b = await serverOn(a.port, { logger: logB });
    await back;
    const refusedB = record<[Refusal]>(b.server, 'refused');
    const probeB = await sClient(b.port, bed.pki.client1, bed.pki.ca, { sessIn: sess });
    assert.equal(probeB.handshake, 'New', 'the other server could not use the session: a full handshake');
    await reconnect(b.server, client, 'client1');
    refusedB.stop();
    assert.deepEqual(refusedB.items, [], 'nothing refused');
    assert.deepEqual(connectedLines(logB, 'client1'), [false, true], 'a full handshake, then a session of its own');

    // A key file: the restarted server derives the same key and resumes the first one's sessions.
    const keyFile = join(bed.pki.dir, 'ticket-keys.hex');
    const c = await serverOn(0, { ticketKeyFile: keyFile });
    assert.equal((await sClient(c.port, bed.pki.client2, bed.pki.ca, { sessOut: sess })).handshake, 'New');
    const client2 = await bed.connectedClient(c.server, c.port, bed.pki.client2);
    await c.server.close({ graceMs: 0 });
    const logD = new MemoryLogger();
    const backD = onceEvent(client2, 'connect_success', { timeoutMs: 5_000 });
    const d = await serverOn(c.port, { ticketKeyFile: keyFile, logger: logD });
    await backD;
    assert.deepEqual(connectedLines(logD, 'client2'), [true]);
    assert.equal((await sClient(d.port, bed.pki.client2, bed.pki.ca, { sessIn: sess })).handshake, 'Reused');
  });
});

describe("a resumed connection's name is its certificate's CN", () => {
  test('whatever certificate and hello name the client presents on resumption', async () => {
    const serverLog = new MemoryLogger();
    const { server, port } = await bed.server({ logger: serverLog });
    const hello = (name: string): Buffer =>
      Buffer.concat(encodeFrame(FrameType.HELLO, 0, encodeHello({ protocolVersion: PROTOCOL_VERSION, nodeName: name, role: 'client', maxFrameBytes: 1 << 20, heartbeatIntervalMs: 5_000 })));
    const dial = (id: PkiIdentity, session?: Buffer): Promise<{ socket: tls.TLSSocket; session: Promise<Buffer> }> =>
      new Promise((resolve, reject) => {
        const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...id.tls, ...(session === undefined ? {} : { session }) });
        const got = new Promise<Buffer>((r) => socket.once('session', r));
        socket.once('secureConnect', () => resolve({ socket, session: got }));
        socket.once('error', reject);
      });

    const added = onceEvent<[string]>(server, 'connection_added', { filter: (n) => n === 'client1' });
    const first = await dial(bed.pki.client1);
    first.socket.write(hello('client1'));
    await added;
    const session = await first.session;
    first.socket.destroy();

    // Resume client1's session while holding client2's key and certificate, and say "client2".
    const again = onceEvent<[string]>(server, 'connection_added', { timeoutMs: 5_000 });
    const second = await dial(bed.pki.client2, session);
    assert.equal(second.socket.isSessionReused(), true);
    second.socket.write(hello('client2'));
    const [name] = await again;
    assert.equal(name, 'client1');
    assert.equal(server.client('client2'), undefined);
    const line = serverLog.matching(/client 'client1' connected/).at(-1);
    assert.equal(line?.fields['resumed'], true);
    second.socket.destroy();
  });
});
