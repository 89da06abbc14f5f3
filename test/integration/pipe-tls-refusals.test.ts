// Mutual TLS refusals (SPEC §6, RELIABILITY §3.2 S2–S7, S9, S11). The server refuses client
// certificates from a foreign CA, expired, not yet valid, revoked (with its CRL), server-only
// EKU, and none at all; it logs the reason with the peer's CN and emits `refused`, and tells the
// client why in a GOAWAY before closing, so the client's status and log carry the reason too.
// The client refuses a server it cannot verify (unknown CA, wrong name). Nothing hangs, and a
// refused client keeps retrying with a growing backoff, never in a tight loop.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';

import type { ClientStatus, RestpipeClient, RestpipeServer } from 'restpipe';
import { FrameDecoder, FrameType, GoAwayCode, decodeGoAway } from 'restpipe/wire';
import { BACKOFF, MemoryLogger, startTestBed, type TestBed } from '../helpers/nodes.js';
import type { PkiIdentity } from '../helpers/pki.js';
import { onceEvent, record, withTimeout } from '../helpers/wait.js';

/** How long each refused client is watched retrying. */
const WINDOW_MS = 1_200;

let bed: TestBed;
let server: RestpipeServer;
let port: number;
const serverLog = new MemoryLogger();
const refusals = { items: [] as { at: number; args: [{ address: string; reason: string; cn?: string }] }[] };

before(async () => {
  bed = await startTestBed();
  ({ server, port } = await bed.server({ tls: { ...bed.pki.server.tls, crl: bed.pki.crl.pem }, logger: serverLog }));
  const r = record<[{ address: string; reason: string; cn?: string }]>(server, 'refused');
  refusals.items = r.items;
  bed.defer(() => r.stop());
});
after(async () => {
  await bed?.close();
});

interface Watched {
  client: RestpipeClient;
  log: MemoryLogger;
  fails: { at: number; args: [number, Date | null] }[];
  statuses: { at: number; args: [ClientStatus] }[];
  successes: { at: number; args: unknown[] }[];
}

/** Starts a client and records its failures, statuses and log for WINDOW_MS. */
async function watchClient(targetPort: number, id: { tls: { key: string; cert: string; ca: string } }, over: Record<string, unknown> = {}): Promise<Watched> {
  const log = new MemoryLogger();
  const client = bed.client(targetPort, id as PkiIdentity, { logger: log, ...over });
  const fails = record<[number, Date | null]>(client, 'connect_fail');
  const statuses = record<[ClientStatus]>(client, 'status');
  const successes = record(client, 'connect_success');
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS)); // the observation window itself
  fails.stop();
  statuses.stop();
  successes.stop();
  return { client, log, fails: fails.items, statuses: statuses.items, successes: successes.items };
}

/** It never connected, kept retrying, and never faster than the backoff floor allows. */
function assertRetriesWithBackoff(w: Watched, label: string): void {
  assert.equal(w.successes.length, 0, `${label}: never connected`);
  const attempts = w.fails.map((f) => f.args[0]);
  assert.ok(attempts.length >= 3, `${label}: keeps retrying (${attempts.length} failures in ${WINDOW_MS} ms)`);
  const bound = Math.floor(WINDOW_MS / BACKOFF.reconnectMinMs) + 1;
  assert.ok(attempts.length <= bound, `${label}: no tight loop (${attempts.length} failures in ${WINDOW_MS} ms, bound ${bound})`);
  assert.deepEqual(attempts, attempts.map((_, i) => i + 1), `${label}: the attempt count grows and is never reset`);
  for (let i = 1; i < w.fails.length; i++) {
    const gap = w.fails[i]!.at - w.fails[i - 1]!.at;
    assert.ok(gap >= BACKOFF.reconnectMinMs - 5, `${label}: failures ${i} and ${i + 1} ${gap.toFixed(0)} ms apart (floor ${BACKOFF.reconnectMinMs})`);
  }
  assert.equal(w.client.state === 'ready', false);
}

const serverSaw = (re: RegExp, cn?: string): boolean =>
  refusals.items.some((r) => re.test(r.args[0].reason) && (cn === undefined || r.args[0].cn === cn));

describe('the server refuses bad client certificates, says why on both sides, and the client retries with backoff', () => {
  const cases: { label: string; id: () => { tls: { key: string; cert: string; ca: string } }; reason: RegExp; cn: string }[] = [
    {
      label: 'foreign-CA client certificate (same CN as a real client)',
      // It trusts the right CA for the server; only its own certificate is foreign.
      id: () => ({ tls: { ...bed.pki.foreignClient.tls, ca: bed.pki.ca.certPem } }),
      reason: /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT/,
      cn: 'client1',
    },
    { label: 'expired client certificate', id: () => bed.pki.expired, reason: /CERT_HAS_EXPIRED/, cn: 'expired1' },
    { label: 'not-yet-valid client certificate', id: () => bed.pki.notYetValid, reason: /CERT_NOT_YET_VALID/, cn: 'notyet1' },
    { label: 'revoked client certificate (the server has the CRL)', id: () => bed.pki.revoked, reason: /CERT_REVOKED/, cn: 'revoked1' },
    { label: 'client certificate for server authentication only', id: () => bed.pki.serverOnlyEku, reason: /INVALID_PURPOSE/, cn: 'wrongeku1' },
  ];

  for (const c of cases) {
    test(c.label, async () => {
      const w = await watchClient(port, c.id());
      // Server side: a `refused` event and a log line with the reason, the CN and the fingerprint.
      assert.ok(serverSaw(c.reason, c.cn), `the server emitted 'refused' with ${c.reason} for ${c.cn}: ${JSON.stringify(refusals.items.map((r) => r.args[0]))}`);
      const lines = serverLog.lines.filter((l) => c.reason.test(String(l.fields.reason)) && l.fields.cn === c.cn);
      assert.ok(lines.length >= 1, `the server logged the refusal: ${serverLog.text().join('\n')}`);
      assert.equal(lines[0]!.level, 'warn');
      assert.match(String(lines[0]!.fields.fingerprint256), /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      assert.equal(lines[0]!.fields.address, '127.0.0.1');
      // Client side: its status and its log say why (the server's GOAWAY carried the reason).
      const backoff = w.statuses.find((s) => s.args[0].state === 'backoff');
      assert.match(backoff?.args[0].reason ?? '', c.reason, `the client status reason names the refusal: ${backoff?.args[0].reason}`);
      assert.match(backoff?.args[0].reason ?? '', /certificate refused/);
      assert.ok(w.log.matching(c.reason).some((l) => l.level === 'warn'), `the client logged the reason: ${w.log.text().join('\n')}`);
      assertRetriesWithBackoff(w, c.label);
      assert.equal(server.client(c.cn), undefined, 'never registered');
      await w.client.close({ graceMs: 0 });
    });
  }

  test('no client certificate at all (raw TLS): refused with a GOAWAY naming the reason, then closed', async () => {
    const before = refusals.items.length;
    const socket = tls.connect({ host: '127.0.0.1', port, ca: bed.pki.ca.certPem, servername: 'localhost' });
    bed.defer(() => void socket.destroy());
    socket.on('error', () => {});
    const frames: { type: number; payload: Buffer }[] = [];
    const decoder = new FrameDecoder(1 << 20, (type, _flags, _id, payload) => frames.push({ type, payload: Buffer.from(payload) }));
    socket.on('data', (chunk: Buffer) => decoder.push(chunk));
    await withTimeout(onceEvent(socket, 'close', { timeoutMs: 3_000 }), 3_000, 'the server to close the connection');
    const goAway = frames.find((f) => f.type === FrameType.GOAWAY);
    assert.ok(goAway !== undefined, `a GOAWAY came before the close (frames: ${frames.map((f) => f.type).join(',')})`);
    const msg = decodeGoAway(goAway.payload);
    assert.equal(msg.code, GoAwayCode.UNAUTHORIZED);
    assert.match(msg.reason, /no client certificate/);
    assert.equal(frames.filter((f) => f.type !== FrameType.GOAWAY).length, 0, 'nothing else: not even the server hello');
    assert.ok(refusals.items.slice(before).some((r) => /no client certificate/.test(r.args[0].reason)));
    assert.ok(serverLog.matching(/refused a client certificate: no client certificate/).length >= 1);
  });

  test('a valid client still gets in meanwhile (the CRL does not refuse everyone)', async () => {
    const c = await bed.connectedClient(server, port, bed.pki.client2);
    const r = await c.send({ verb: 'get', noun: 'time' });
    assert.equal(r.code, 0);
    await c.close({ graceMs: 100 });
  });
});

describe('the client refuses a server it cannot verify', () => {
  test('a client that trusts another CA refuses the server (unknown issuer), and retries with backoff', async () => {
    const w = await watchClient(port, { tls: { ...bed.pki.client1.tls, ca: bed.pki.foreignCa.certPem } });
    const backoff = w.statuses.find((s) => s.args[0].state === 'backoff');
    assert.match(backoff?.args[0].reason ?? '', /server certificate refused \((SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);
    assert.ok(w.log.matching(/server certificate refused/).length >= 1, 'the client logged it');
    assertRetriesWithBackoff(w, 'foreign-CA server');
    await w.client.close({ graceMs: 0 });
  });

  test('a server certificate for another host name is refused (ERR_TLS_CERT_ALTNAME_INVALID)', async () => {
    const other = await bed.server({ tls: { ...bed.pki.wrongNameServer.tls, ca: bed.pki.ca.certPem } });
    for (const host of ['127.0.0.1', 'localhost']) {
      const w = await watchClient(other.port, bed.pki.client1, { host });
      const backoff = w.statuses.find((s) => s.args[0].state === 'backoff');
      assert.match(backoff?.args[0].reason ?? '', /ERR_TLS_CERT_ALTNAME_INVALID|does not match the dialed name/, `dialing ${host}`);
      assert.ok(w.log.matching(/does not match the dialed name/).length >= 1, 'the client logged it');
      assertRetriesWithBackoff(w, `wrong-name server via ${host}`);
      assert.equal(other.server.clientCount, 0);
      await w.client.close({ graceMs: 0 });
    }
  });
});

test('with the jitter pinned, the gaps between refused attempts follow the backoff: doubling up to the cap', async () => {
  const w = await watchClient(port, bed.pki.expired, { random: () => 1, reconnectMinMs: 40, reconnectMaxMs: 320 });
  const gaps = w.fails.slice(1).map((f, i) => f.at - w.fails[i]!.at);
  // random() = 1 → delay = min(max, min · 2^attempt): 80, 160, 320, 320, …
  const expected = gaps.map((_, i) => Math.min(320, 40 * 2 ** (i + 1)));
  gaps.forEach((g, i) => {
    assert.ok(g >= expected[i]! - 5, `gap ${i + 1}: ${g.toFixed(0)} ms ≥ ${expected[i]} ms`);
    assert.ok(g <= expected[i]! + 250, `gap ${i + 1}: ${g.toFixed(0)} ms, not much more than ${expected[i]} ms`);
  });
  assert.ok(w.fails.length >= 4 && w.fails.length <= 7, `${w.fails.length} attempts in ${WINDOW_MS} ms`);
  console.log(`refused client, pinned jitter: gaps between attempts ${gaps.map((g) => g.toFixed(0)).join(', ')} ms (expected ≥ ${expected.join(', ')})`);
  await w.client.close({ graceMs: 0 });
});
