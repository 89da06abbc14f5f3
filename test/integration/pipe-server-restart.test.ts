// The server process crashes and comes back (RELIABILITY F1). The server is a child process
// (test/fixtures/server-process.ts); it is SIGKILLed with an event in flight, which then fails
// with pipe_broken; it is restarted on the same port; the client reconnects by itself, and a
// send made during the outage waits (connect-wait) and succeeds once the server is back.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { hasErrorCode, type ClientStatus, type RestpipeClient } from 'restpipe';
import { BACKOFF, startTestBed, type TestBed } from '../helpers/nodes.js';
import { fixturePath, startNode, stopAll, type Child } from '../helpers/processes.js';
import { onceEvent, record, settledAt, timed, withTimeout } from '../helpers/wait.js';
import { clearlyBefore, within } from '../helpers/bounds.js';

let bed: TestBed;
let client: RestpipeClient;
let port: number;

function startServerProcess(onPort: number): Child {
  return startNode(fixturePath('server-process'), [], {
    RP_TEST_KEY: bed.pki.server.keyPath,
    RP_TEST_CERT: bed.pki.server.certPath,
    RP_TEST_CA: bed.pki.ca.certPath,
    RP_TEST_PORT: String(onPort),
  });
}

const SLOW_HEARTBEAT_TIMEOUT_MS = 5_000;
const SHORT_WAIT_MS = 150;

before(async () => {
  bed = await startTestBed();
});
after(async () => {
  await stopAll();
  await bed?.close();
});

test('SIGKILL with an event in flight → pipe_broken; restart on the same port → the client comes back by itself', async () => {
  const first = startServerProcess(0);
  port = Number((await first.waitForLine(/^listening (\d+)$/))[1]);

  // A long heartbeat timeout: the pipe must break because the kernel closed the dead process's
  // sockets, well before any heartbeat could notice.
  client = bed.client(port, bed.pki.client1, { connectWaitMs: 8_000, heartbeatIntervalMs: 500, heartbeatTimeoutMs: SLOW_HEARTBEAT_TIMEOUT_MS });
  await onceEvent(client, 'connect_success');
  await first.waitForLine(/^added client1$/);
  const pid = JSON.parse(Buffer.from((await client.send({ verb: 'get', noun: 'pid' })).data).toString()).pid as number;
  assert.equal(pid, first.pid, 'the pipe goes to the child process');

  // An event the server will never answer is in flight when the process dies.
  const inFlight = settledAt(client.send({ verb: 'get', noun: 'wait' }));
  await first.waitForLine(/^started get_wait$/);
  const statuses = record<[ClientStatus]>(client, 'status');
  const tKill = performance.now();
  first.signal('SIGKILL');
  const { at, error } = await withTimeout(inFlight, 2_000, 'the in-flight event to fail');
  const brokenMs = at - tKill;
  assert.ok(hasErrorCode(error, 'pipe_broken'), `in-flight event fails with pipe_broken, got ${String(error)}`);
  assert.equal((await first.exited).signal, 'SIGKILL');
  // The kernel closes a killed process's sockets: no heartbeat timeout needed.
  assert.ok(brokenMs < clearlyBefore(SLOW_HEARTBEAT_TIMEOUT_MS), `pipe_broken ${brokenMs.toFixed(0)} ms after the kill, not after a heartbeat timeout`);

  // During the outage: a send with a short connect-wait fails with no_connection; one with the
  // default connect-wait waits for the server to come back.
  const short = await timed(client.send({ verb: 'get', noun: 'time' }, { connectWaitMs: SHORT_WAIT_MS }));
  assert.ok(hasErrorCode(short.error, 'no_connection'), `short connect-wait → no_connection, got ${String(short.error)}`);
  assert.ok(short.ms >= SHORT_WAIT_MS - 2 && short.ms < within(SHORT_WAIT_MS), `it waited its connect-wait (${short.ms.toFixed(0)} ms)`);
  assert.match((short.error as Error).message, /last failure/);

  const duringOutage = timed(client.send({ verb: 'get', noun: 'time' }));
  let outageSendDone = false;
  void duringOutage.then(() => (outageSendDone = true));
  // Let the client fail a few dials against the closed port first.
  await onceEvent(client, 'connect_fail', { timeoutMs: 3_000 });
  await onceEvent(client, 'connect_fail', { timeoutMs: 3_000 });
  assert.equal(outageSendDone, false, 'the send made during the outage is still waiting');

  const reconnected = onceEvent<[number, Date | null]>(client, 'connect_success', { timeoutMs: 5_000 });
  const second = startServerProcess(port);
  assert.equal(Number((await second.waitForLine(/^listening (\d+)$/))[1]), port, 'restarted on the same port');
  const tListening = performance.now();
  const [retryAttempts, lastDisconnected] = await reconnected;
  const reconnectMs = performance.now() - tListening;
  assert.ok(retryAttempts >= 2, `connect_success reports the failed dials (${retryAttempts})`);
  assert.ok(lastDisconnected instanceof Date, 'and when the previous pipe ended');
  assert.ok(reconnectMs <= BACKOFF.reconnectMaxMs + 1_000, `back within reconnect-max + handshake (${reconnectMs.toFixed(0)} ms)`);

  const outage = await withTimeout(duringOutage, 5_000, 'the send made during the outage');
  assert.equal(outage.error, undefined, `the send made during the outage succeeded, got ${String(outage.error)}`);
  assert.equal(outage.value?.code, 0);
  assert.ok('time_from_server' in JSON.parse(Buffer.from(outage.value!.data).toString()));

  const pid2 = JSON.parse(Buffer.from((await client.send({ verb: 'get', noun: 'pid' })).data).toString()).pid as number;
  assert.equal(pid2, second.pid, 'now talking to the new process');
  await second.waitForLine(/^added client1$/);

  statuses.stop();
  const states = statuses.items.map((s) => s.args[0].state);
  assert.equal(states[0], 'backoff', `after the crash the client backs off first (${states.join(' ')})`);
  assert.match(statuses.items[0]!.args[0].reason ?? '', /pipe closed/);
  assert.equal(states.at(-1), 'ready');
  console.log(
    `server SIGKILL: in-flight event failed ${brokenMs.toFixed(0)} ms after the kill; ` +
      `client back ${reconnectMs.toFixed(0)} ms after the restarted server listened (${retryAttempts} failed dials); ` +
      `the outage send took ${outage.ms.toFixed(0)} ms`,
  );

  second.signal('SIGTERM');
  const exit = await withTimeout(second.exited, 3_000, 'the server process to exit on SIGTERM');
  assert.equal(exit.code, 0);
});
