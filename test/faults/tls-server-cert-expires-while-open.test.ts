// The server's certificate expires while a client's pipe is open (SPEC §11, issue 13 item 3):
// the client's handshake checked it once, and a pipe may last for weeks. The client closes its
// pipe at the certificate's notAfter and says why (CERT_HAS_EXPIRED), with the mechanism the
// server uses for its clients' certificates (PeerExpiryTimers); its redials are then refused by
// its own handshake. Before that, both nodes warn ahead (thresholds shortened to seconds here),
// /status and the expiry gauge show every certificate each node depends on, and a CRL whose
// next update is near is warned about and shown too.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { createCrl, issueCertificate } from '../../src/identity/index.js';
import { createPrometheusMetrics } from '../../src/metrics/prometheus.js';
import { metricValue } from '../helpers/metrics.js';
import { MemoryLogger, startTestBed, type TestBed } from '../helpers/nodes.js';
import { onceEvent, waitUntil } from '../helpers/wait.js';

let bed: TestBed;

before(async () => {
  bed = await startTestBed();
});
after(async () => {
  await bed?.close();
});

const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);

test("a client drops its pipe when the server's certificate expires, says why, and was warned before", async () => {
  // Whole seconds: X.509 times have no milliseconds.
  const notAfter = new Date((Math.floor(Date.now() / 1000) + 5) * 1000);
  const leaf = await issueCertificate({ ca: bed.pki.ca, name: 'server', notBefore: new Date(Date.now() - 60_000), notAfter });
  const serverLog = new MemoryLogger();
  const { server, port } = await bed.server({
    tls: { key: leaf.keyPem, cert: leaf.certPem, ca: bed.pki.ca.certPem },
    logger: serverLog,
    expiryWarningsMs: [3_000],
  });
  const clientLog = new MemoryLogger();
  const client = await bed.connectedClient(server, port, bed.pki.client1, { logger: clientLog, expiryWarningsMs: [3_000] });

  // What each node shows: its own certificate, its CA's, its peer's.
  const clientMetrics = createPrometheusMetrics({ role: 'client', sender: client.sender, defaultMetrics: false });
  const serverMetrics = createPrometheusMetrics({ role: 'server', sender: server.sender, defaultMetrics: false });
  bed.defer(() => {
    clientMetrics.close();
    serverMetrics.close();
  });
  const caNotAfter = new Date(new (await import('node:crypto')).X509Certificate(bed.pki.ca.certPem).validTo);
  const client1NotAfter = new Date(new (await import('node:crypto')).X509Certificate(bed.pki.client1.certPem).validTo);
  const fromClient = (await clientMetrics.text()).body;
  assert.equal(metricValue(fromClient, 'restpipe_certificate_expiry_timestamp_seconds{role="server",name="server"}'), seconds(notAfter));
  assert.equal(metricValue(fromClient, 'restpipe_certificate_expiry_timestamp_seconds{role="client",name="client1"}'), seconds(client1NotAfter));
  assert.equal(metricValue(fromClient, 'restpipe_certificate_expiry_timestamp_seconds{role="ca",name="restpipe-test-ca"}'), seconds(caNotAfter));
  const fromServer = (await serverMetrics.text()).body;
  assert.equal(metricValue(fromServer, 'restpipe_certificate_expiry_timestamp_seconds{role="server",name="server"}'), seconds(notAfter));
  assert.equal(metricValue(fromServer, 'restpipe_certificate_expiry_timestamp_seconds{role="client",name="client1"}'), seconds(client1NotAfter));
  const status = client.sender.status();
  assert.deepEqual(
    status.certificates.map((c) => `${c.role} ${c.name} ${c.notAfter.toISOString()}`),
    [`client client1 ${client1NotAfter.toISOString()}`, `ca restpipe-test-ca ${caNotAfter.toISOString()}`, `server server ${notAfter.toISOString()}`],
  );

  // Warned ahead, once, by both nodes: 3 s before notAfter.
  await waitUntil(() => clientLog.matching(/the certificate of server 'server' expires in/).length > 0, 6_000, "the client's warning");
  await waitUntil(() => serverLog.matching(/this node's certificate 'server' expires in/).length > 0, 6_000, "the server's warning");
  const warning = clientLog.matching(/the certificate of server 'server' expires in/)[0]!;
  assert.equal(warning.level, 'warn');
  assert.equal(warning.fields['notAfter'], notAfter.toISOString());

  // At notAfter (+1 s, the last second OpenSSL still counts as valid) the client drops its pipe.
  await onceEvent(client, 'status', { filter: (s: { state: string }) => s.state === 'backoff', timeoutMs: 10_000 });
  const lateMs = Date.now() - notAfter.getTime();
  assert.ok(lateMs >= 0, `not before notAfter (${lateMs} ms)`);
  assert.ok(lateMs <= 1_000 + 1_500, `closed ${lateMs} ms after notAfter (bound 2.5 s)`);
  const drop = clientLog.matching(/dropping the pipe to server 'server': the server's certificate expired at/)[0];
  assert.ok(drop !== undefined, clientLog.text().join('\n'));
  assert.equal(drop.fields['reason'], 'CERT_HAS_EXPIRED');
  assert.ok(clientLog.matching(/pipe to the server closed: the server's certificate expired at .* \(CERT_HAS_EXPIRED\)/).length === 1, clientLog.text().join('\n'));
  // The redial is refused by the client's own handshake; the status no longer lists the server's certificate.
  await onceEvent(client, 'connect_fail', { timeoutMs: 5_000 });
  assert.match(client.lastFailure ?? '', /expired/i);
  assert.deepEqual(client.sender.status().certificates.map((c) => c.role), ['client', 'ca']);
  assert.equal(clientLog.matching(/the certificate of server 'server' expires in/).length, 1, 'warned once');
  console.log(`server certificate expiring with a pipe open: the client closed it ${lateMs} ms after notAfter; "${drop.msg}"`);
});

test('a CRL whose next update is near is warned about, and shown in /status and the gauge', async () => {
  const nextUpdate = new Date((Math.floor(Date.now() / 1000) + 3_600) * 1000);
  const crl = await createCrl({ ca: bed.pki.ca, revoked: [], nextUpdate });
  const serverLog = new MemoryLogger();
  const { server } = await bed.server({ tls: { ...bed.pki.server.tls, crl }, logger: serverLog });
  await waitUntil(() => server.crlNextUpdate !== undefined, 5_000, 'the CRL read');
  const status = server.sender.status();
  assert.ok(status.role === 'server');
  assert.equal(status.crl?.nextUpdate?.toISOString(), nextUpdate.toISOString());
  const line = serverLog.matching(/the CRL in use expires in 59 min|the CRL in use expires in 1 h/)[0];
  assert.ok(line !== undefined, serverLog.text().join('\n'));
  assert.equal(line.level, 'warn');
  assert.match(line.msg, /re-sign it \(restpipe ca crl\)/);
  const metrics = createPrometheusMetrics({ role: 'server', sender: server.sender, defaultMetrics: false });
  bed.defer(() => metrics.close());
  assert.equal(metricValue((await metrics.text()).body, 'restpipe_crl_next_update_timestamp_seconds'), seconds(nextUpdate));
});
