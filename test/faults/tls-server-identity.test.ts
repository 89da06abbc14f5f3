// The client refuses a server it must not trust (SPEC §6, RELIABILITY §3.2 S3, S11), with the
// reason in its status and its log, and the server's log says why the handshake failed too:
// a server certificate not yet valid, one expired, and one that does not carry the name the
// client dialed. The refused client keeps retrying with backoff and never connects. The client
// refusals of the other direction (expired, not yet valid, foreign CA, revoked, no certificate)
// are in test/integration/pipe-tls-refusals.test.ts.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import type { ClientStatus, RestpipeServer } from 'restpipe';
import { issueCertificate } from '../../src/identity/index.js';
import { MemoryLogger, startTestBed, type TestBed } from '../helpers/nodes.js';
import { onceEvent, waitUntil } from '../helpers/wait.js';

let bed: TestBed;

before(async () => {
  bed = await startTestBed();
});
after(async () => {
  await bed?.close();
});

/** A server whose certificate is signed by the right CA but has the given validity window. */
async function serverWithCert(notBefore: Date, notAfter: Date): Promise<{ server: RestpipeServer; port: number; log: MemoryLogger }> {
  const leaf = await issueCertificate({ ca: bed.pki.ca, name: 'server', usage: 'server', notBefore, notAfter });
  const log = new MemoryLogger();
  const { server, port } = await bed.server({ tls: { key: leaf.keyPem, cert: leaf.certPem, ca: bed.pki.ca.certPem }, logger: log });
  return { server, port, log };
}

/**
 * Starts client1 against `port`, waits for its second failed attempt (so it is retrying, not
 * stuck), and returns what it reported. It must never have connected.
 */
async function refusedClient(port: number, over: Record<string, unknown> = {}) {
  const log = new MemoryLogger();
  const statuses: ClientStatus[] = [];
  let connected = 0;
  const t0 = performance.now();
  const client = bed.client(port, bed.pki.client1, { logger: log, ...over });
  client.on('status', (s) => statuses.push(s));
  client.on('connect_success', () => connected++);
  await onceEvent(client, 'connect_fail', { filter: (attempt: number) => attempt >= 2, timeoutMs: 10_000 });
  const ms = performance.now() - t0;
  assert.equal(connected, 0, 'never connected');
  assert.equal(client.state === 'ready', false);
  await client.close({ graceMs: 0 });
  const reason = statuses.find((s) => s.state === 'backoff')?.reason ?? '';
  return { log, reason, ms };
}

describe('the client refuses a server certificate it must not trust', () => {
  const DAY = 86_400_000;
  const cases = [
    { label: 'not yet valid', from: new Date(Date.now() + 365 * DAY), to: new Date(Date.now() + 730 * DAY), code: 'CERT_NOT_YET_VALID' },
    { label: 'expired', from: new Date(Date.now() - 730 * DAY), to: new Date(Date.now() - 365 * DAY), code: 'CERT_HAS_EXPIRED' },
  ];
  for (const c of cases) {
    test(`a server certificate that is ${c.label} (${c.code})`, async () => {
      const { server, port, log: serverLog } = await serverWithCert(c.from, c.to);
      const r = await refusedClient(port);
      assert.match(r.reason, new RegExp(`server certificate refused \\(${c.code}\\)`), r.reason);
      assert.match(r.reason, /validity dates/, 'the hint is about dates, not about the CA');
      assert.ok(r.log.matching(new RegExp(c.code)).some((l) => l.level === 'warn'), r.log.text().join('\n'));
      // The server learns of it only as an alert from the client; it logs that, readably.
      await waitUntil(() => serverLog.matching(/TLS handshake with a client failed/).length >= 1, 3_000, 'the server to log the failed handshake');
      const line = serverLog.matching(/TLS handshake with a client failed/)[0]!;
      assert.doesNotMatch(line.msg, /SSL routines|deps\/openssl|\n/, `no OpenSSL dump in the line: ${line.msg}`);
      assert.equal(server.clientCount, 0);
      console.log(`server cert ${c.label}: client reason "${r.reason.slice(0, 90)}…"; server line "${line.msg}"; two refused attempts in ${r.ms.toFixed(0)} ms`);
    });
  }
});

describe('wrong host name: the client dials a name the server certificate does not carry', () => {
  let server: RestpipeServer;
  let port: number;
  const serverLog = new MemoryLogger();
  before(async () => {
    ({ server, port } = await bed.server({ logger: serverLog }));
  });

  test('servername pipe.example.org against a certificate for server/localhost/127.0.0.1: refused, logged on both sides', async () => {
    const r = await refusedClient(port, { servername: 'pipe.example.org' });
    assert.match(r.reason, /ERR_TLS_CERT_ALTNAME_INVALID|does not match the dialed name/, r.reason);
    assert.match(r.reason, /pipe\.example\.org/, 'the reason names the dialed host');
    const lines = r.log.matching(/does not match the dialed name/);
    assert.ok(lines.length >= 1 && lines.every((l) => l.level === 'warn'), r.log.text().join('\n'));
    await waitUntil(() => serverLog.matching(/TLS handshake with a client failed/).length >= 1, 3_000, 'the server to log the failed handshake');
    assert.equal(server.clientCount, 0);
    console.log(`wrong host name: client reason "${r.reason.slice(0, 120)}"; server line "${serverLog.matching(/TLS handshake with a client failed/)[0]!.msg}"`);
  });

  test('the same client dialing a name the certificate carries gets in (the name was the only fault)', async () => {
    for (const servername of ['server', 'localhost']) {
      const client = await bed.connectedClient(server, port, bed.pki.client1, { servername });
      assert.equal((await client.send({ verb: 'get', noun: 'time' })).code, 0);
      await client.close({ graceMs: 100 });
    }
  });
});
