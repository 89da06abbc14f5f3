// A running node re-reads its identity from its cert dir (RunningNode.reloadIdentity, which the
// CLI runs on SIGHUP) after `set-identity` installed a renewed certificate: a client reconnects
// with it, a server presents it to new connections. An identity that fails the checks or names
// another node is refused with an error line, and the running one stays.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { startNode, type RestpipeServer, type RunningNode } from 'restpipe';
import { CLIENT_CERT_FILE, installIdentity, issueCertificate, type IssuedCertificate } from 'restpipe/identity';
import { BACKOFF, HEARTBEAT, MemoryLogger, startTestBed, type TestBed } from '../helpers/nodes.js';
import { onceEvent } from '../helpers/wait.js';

let bed: TestBed;

before(async () => {
  bed = await startTestBed();
});
after(async () => {
  await bed?.close();
});

/** Writes `leaf` (and the test CA) into `certDir` as `role`'s identity, as set-identity does. */
async function installLeaf(role: 'server' | 'client', leaf: IssuedCertificate | { keyPem: string; certPem: string }, certDir: string, tag: string): Promise<void> {
  const key = join(bed.pki.dir, `${tag}.key.pem`);
  const cert = join(bed.pki.dir, `${tag}.crt.pem`);
  await writeFile(key, leaf.keyPem, { mode: 0o600 });
  await writeFile(cert, leaf.certPem);
  await installIdentity(role, { keyPath: key, certPath: cert, caPath: bed.pki.ca.certPath }, certDir);
}

describe('a client node', () => {
  let server: RestpipeServer;
  let node: RunningNode;
  let certDir: string;
  const serverLog = new MemoryLogger();
  const nodeLog = new MemoryLogger();

  before(async () => {
    ({ server } = await bed.server({ logger: serverLog }));
    certDir = await bed.pki.certDir('client', bed.pki.client1);
    const added = onceEvent(server, 'connection_added');
    node = await startNode({
      role: 'client',
      identity: { certDir },
      server: { host: '127.0.0.1', port: server.address!.port },
      servername: 'localhost',
      http: null,
      ...HEARTBEAT,
      ...BACKOFF,
      logger: nodeLog,
    });
    bed.defer(() => node.close({ graceMs: 200 }));
    await added;
  });

  test('reconnects with a renewed certificate once it is installed and reloaded', async () => {
    const renewed = await issueCertificate({ ca: bed.pki.ca, name: 'client1' });
    await installLeaf('client', renewed, certDir, 'client1-renewed');
    const readded = Promise.all([onceEvent(server, 'connection_added'), onceEvent(node.client!, 'connect_success')]);
    await node.reloadIdentity();
    await readded;
    assert.equal(nodeLog.matching(/INFO identity 'client1' reloaded: reconnecting with it/).length, 1);
    const connected = serverLog.lines.filter((l) => l.msg === "client 'client1' connected").at(-1);
    assert.equal(connected?.fields['fingerprint256'], new X509Certificate(renewed.certPem).fingerprint256);
  });

  test('refuses an identity with another name or one that fails the checks, and keeps the pipe', async () => {
    const connects = node.client!.connects;
    await installLeaf('client', bed.pki.client2, certDir, 'client2-copy');
    await node.reloadIdentity();
    assert.match(nodeLog.text().at(-1)!, /^ERROR identity reload failed; keeping the current one .*the cert dir now holds the identity 'client2', not 'client1'/);
    await writeFile(join(certDir, CLIENT_CERT_FILE), 'not a certificate');
    await node.reloadIdentity();
    assert.match(nodeLog.text().at(-1)!, /^ERROR identity reload failed; keeping the current one .*restpipe\.client\.crt\.pem/);
    assert.equal(node.client!.state, 'ready');
    assert.equal(node.client!.connects, connects, 'no reconnect');
  });
});

describe('a server node', () => {
  test('presents a renewed certificate to new connections', async () => {
    const certDir = await bed.pki.certDir('server', bed.pki.server);
    const log = new MemoryLogger();
    const node = await startNode({ role: 'server', identity: { certDir }, listen: { host: '127.0.0.1', port: 0 }, http: null, ...HEARTBEAT, logger: log });
    bed.defer(() => node.close({ graceMs: 200 }));
    const port = node.server!.address!.port;
    const renewed = await issueCertificate({ ca: bed.pki.ca, name: 'server' });
    await installLeaf('server', renewed, certDir, 'server-renewed');
    await node.reloadIdentity();
    assert.equal(log.matching(/INFO identity 'server' reloaded: new connections use it/).length, 1);
    const fingerprint = await new Promise<string>((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...bed.pki.client1.tls }, () => {
        resolve(socket.getPeerCertificate().fingerprint256);
        socket.destroy();
      });
      socket.once('error', reject);
    });
    assert.equal(fingerprint, new X509Certificate(renewed.certPem).fingerprint256);
  });
});
