// Issue 8 item 1, the other way round: "the same holds for a client facing a malicious server".
// A server with a valid certificate (the hand-written hostile peer of test/helpers) sends its
// hello, never reads, and floods `get nothing` events at a real restpipe client. The client
// stops reading it once the replies it cannot deliver pass twice its queue budget, holds a
// bounded number of bytes for the pipe, and closes it as not reading; then it dials again.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import type { ClientStatus, RestpipeClient } from 'restpipe';
import { startHostileServer, type HostilePeer, type HostileServer } from '../helpers/hostile-peer.js';
import { startTestBed, type TestBed } from '../helpers/nodes.js';
import { waitForStatus } from '../helpers/wait.js';

const KIB = 1024;
const MAX_QUEUED = 256 * KIB;
const TIMING = { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 400, maxQueuedBytes: MAX_QUEUED, reconnectMinMs: 200, reconnectMaxMs: 400 };
/**
 * What the client may hold for the pipe: the read pause starts at 2 × MAX_QUEUED of replies; the
 * events of the event-loop turn that crossed it still get theirs (a turn reads at most a few
 * hundred KiB of 28-byte events, ~3 × that in replies).
 */
const HOLD_BOUND = 2 * MAX_QUEUED + 4 * 1024 * KIB;

let bed: TestBed;
let hostile: HostileServer;
const peers: HostilePeer[] = [];
let client: RestpipeClient;

before(async () => {
  bed = await startTestBed();
  hostile = await startHostileServer(bed.pki.server.tls, (peer) => {
    peers.push(peer);
    peer.hello('server');
    peer.flood('events');
  });
  bed.defer(() => hostile.close());
});
after(async () => {
  await client?.close({ graceMs: 0 });
  await bed?.close();
});

test('a server that never reads and floods events: the client stays bounded and closes the pipe as not reading', { timeout: 30_000 }, async (t) => {
  let held = 0;
  const sampler = setInterval(() => {
    const s = client?.pipe();
    if (s !== undefined) held = Math.max(held, s.queuedBytes.socket);
  }, 5);
  try {
    client = bed.client(hostile.port, bed.pki.client1, TIMING);
    const down = await waitForStatus(client, (s: ClientStatus) => s.state === 'backoff' && /not reading/.test(s.reason ?? ''), 20_000);
    t.diagnostic(`hostile server: ${JSON.stringify({ reason: down.reason, peakHeldKiB: Math.round(held / KIB), boundKiB: HOLD_BOUND / KIB, floodedMiB: Math.round(peers[0]!.bytesSent / 2 ** 20) })}`);
    assert.ok(held > 2 * MAX_QUEUED, `the flood filled the client's budget (${held} bytes held)`);
    assert.ok(held <= HOLD_BOUND, `the client held ${held} bytes for the pipe (bound ${HOLD_BOUND})`);
    assert.match(down.reason!, /the peer is not reading: it took none of the \d+ bytes of replies waiting for it/);
  } finally {
    clearInterval(sampler);
  }
});
