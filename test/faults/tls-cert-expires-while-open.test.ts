// A client certificate that expires while its pipe is open (RELIABILITY §4 item 6): the handshake
// checked its dates once, and a pipe may last for weeks. The server closes that pipe when the
// certificate's notAfter has passed, with a logged reason (CERT_HAS_EXPIRED) and a goaway that
// tells the client; the client's reconnects are then refused by the handshake. Another client
// is untouched.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { issueCertificate } from '../../src/identity/index.js';
import { MemoryLogger, startTestBed, type TestBed } from '../helpers/nodes.js';
import type { PkiIdentity } from '../helpers/pki.js';
import { onceEvent, record } from '../helpers/wait.js';

let bed: TestBed;

before(async () => {
  bed = await startTestBed();
});
after(async () => {
  await bed?.close();
});

test('the pipe of a client whose certificate expires is closed at its notAfter, and its reconnects are refused', async () => {
  // Whole seconds: X.509 times have no milliseconds.
  const notAfter = new Date((Math.floor(Date.now() / 1000) + 3) * 1000);
  const leaf = await issueCertificate({ ca: bed.pki.ca, name: 'shortlived', usage: 'client', notBefore: new Date(Date.now() - 60_000), notAfter });
  const id = { name: 'shortlived', tls: { key: leaf.keyPem, cert: leaf.certPem, ca: bed.pki.ca.certPem } } as PkiIdentity;

  const serverLog = new MemoryLogger();
  const { server, port } = await bed.server({ logger: serverLog });
  const clientLog = new MemoryLogger();
  const client = await bed.connectedClient(server, port, id, { logger: clientLog });
  const bystander = await bed.connectedClient(server, port, bed.pki.client1);
  assert.equal((await client.send({ verb: 'get', noun: 'time' })).code, 0, 'works while valid');
  const removed = record<[string, number]>(server, 'connection_removed');

  const [refusal] = await onceEvent<[{ reason: string; cn?: string }]>(server, 'refused', { filter: (r) => r.cn === 'shortlived', timeoutMs: 10_000 });
  const lateMs = Date.now() - notAfter.getTime();
  assert.equal(refusal.reason, 'CERT_HAS_EXPIRED');
  assert.ok(lateMs >= 0, `not before notAfter (${lateMs} ms)`);
  assert.ok(lateMs <= 1_000 + 1_500, `closed ${lateMs} ms after notAfter (bound 2.5 s)`);
  const line = serverLog.matching(/dropping client 'shortlived': its certificate expired at/)[0];
  assert.ok(line !== undefined, serverLog.text().join('\n'));
  assert.equal(line.fields['reason'], 'CERT_HAS_EXPIRED');

  // The client was told, and its next attempts are refused by the handshake itself.
  await onceEvent(client, 'connect_fail', { filter: (n: number) => n >= 2, timeoutMs: 5_000 });
  assert.ok(clientLog.matching(/CERT_HAS_EXPIRED/).some((l) => l.level === 'warn'), clientLog.text().join('\n'));
  assert.ok(serverLog.matching(/refused a client certificate: CERT_HAS_EXPIRED/).length >= 1, serverLog.text().join('\n'));
  assert.equal(server.client('shortlived'), undefined);
  assert.deepEqual(removed.items.map((r) => r.args[0]), ['shortlived'], 'only the expired one left');
  assert.equal((await bystander.send({ verb: 'get', noun: 'time' })).code, 0);
  removed.stop();
  console.log(`certificate expiring with its pipe open: closed ${lateMs} ms after notAfter; "${line.msg}"`);
});
