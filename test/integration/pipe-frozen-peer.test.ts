// A peer that goes silent without closing anything (RELIABILITY F3, F5): both sides must notice
// through heartbeats alone, within the heartbeat timeout (+ one tick), fail the events in flight
// with pipe_broken, drop the client from the server's registry, and reconnect once the peer is
// back.
//
// (a) The fault proxy black-holes a live pipe: both TCP connections stay open, nothing passes
//     (the kernel would never tell; only application heartbeats can).
// (a2) The proxy stops reading both ways while a 4 MiB body is being written: the writer's
//     socket fills up; heartbeats cannot pass either.
// (b) A client process is frozen with SIGSTOP while the server has an event in flight to it.
// (c) A server that completes TLS and never sends its hello: the client's hello timeout ends
//     each attempt, the backoff grows, and close() does not wait for the hello timeout.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import tls from 'node:tls';

import { hasErrorCode, type ClientStatus, type HandlerContext, type RestpipeClient, type RestpipeServer } from 'restpipe';
import { startFaultProxy, type FaultProxy } from '../helpers/fault-proxy.js';
import { BACKOFF, HEARTBEAT, MemoryLogger, startTestBed, type TestBed } from '../helpers/nodes.js';
import { fixturePath, startNode, stopAll, type Child } from '../helpers/processes.js';
import { onceEvent, record, settledAt, waitForStatus, withTimeout } from '../helpers/wait.js';
import { clearlyBefore } from '../helpers/bounds.js';

const T = HEARTBEAT.heartbeatTimeoutMs;
const H = HEARTBEAT.heartbeatIntervalMs;
/** Scheduling noise allowed on a loaded 2-core machine. */
const MARGIN_MS = 250;
/** The detection bar: timeout + one interval + margin (RELIABILITY F3 asks ≤ T + h + 0.5 s). */
const DETECT_MAX_MS = T + H + MARGIN_MS;
/** Data may have arrived up to one interval before the freeze; detection cannot come before this. */
/** A hello timeout long enough that closing during the hello cannot be mistaken for it. */
const LONG_HELLO_MS = 5_000;
const DETECT_MIN_MS = T - H - 20;

const probe = new EventEmitter();
function handlers(side: string): Record<string, unknown> {
  return {
    post_sink: () => 'ok',
    get_wait(ctx: HandlerContext): Promise<string> {
      probe.emit('started', side);
      return new Promise((resolve) =>
        ctx.signal.addEventListener(
          'abort',
          () => {
            probe.emit('aborted', side, ctx.signal.reason);
            resolve('too late');
          },
          { once: true },
        ),
      );
    },
  };
}

function eventAt(emitter: EventEmitter, event: string, filter: (...args: any[]) => boolean = () => true, timeoutMs = 5_000): Promise<number> {
  return onceEvent(emitter, event, { filter, timeoutMs }).then(() => performance.now());
}
const fmt = (ms: number): string => `${ms.toFixed(0)} ms`;

let bed: TestBed;
before(async () => {
  bed = await startTestBed();
});
after(async () => {
  await stopAll();
  await bed?.close();
});

describe('(a) the fault proxy black-holes a live pipe', () => {
  let server: RestpipeServer;
  let client: RestpipeClient;
  let proxy: FaultProxy;
  const serverLog = new MemoryLogger();
  const clientLog = new MemoryLogger();

  before(async () => {
    let port: number;
    ({ server, port } = await bed.server({ handlers: handlers('server'), logger: serverLog }));
    proxy = await startFaultProxy(port);
    bed.defer(() => proxy.close());
    client = await bed.connectedClient(server, proxy.port, bed.pki.client1, {
      handlers: handlers('client1'),
      logger: clientLog,
      // A dial into the black hole connects (the proxy accepts) and then stalls in the TLS handshake.
      handshakeTimeoutMs: 300,
    });
  });

  test('both sides declare it dead within the timeout; in-flight events fail pipe_broken; the registry drops the client; it comes back after the heal', async () => {
    // One event in flight each way, each held by its handler.
    const startedBoth = Promise.all([
      onceEvent(probe, 'started', { filter: (s: string) => s === 'server' }),
      onceEvent(probe, 'started', { filter: (s: string) => s === 'client1' }),
    ]);
    const fromClient = settledAt(client.send({ verb: 'get', noun: 'wait' }));
    const fromServer = settledAt(server.send('client1', { verb: 'get', noun: 'wait' }));
    await startedBoth;
    const serverHandlerAborted = eventAt(probe, 'aborted', (s: string) => s === 'server');
    const clientHandlerAborted = eventAt(probe, 'aborted', (s: string) => s === 'client1');
    const removedAt = eventAt(server, 'connection_removed', (name: string) => name === 'client1');
    const clientDown = settledAt(waitForStatus(client, (s) => s.state === 'backoff', 5_000));

    const t0 = performance.now();
    proxy.setMode('blackhole');

    const [c, s, down] = await Promise.all([fromClient, fromServer, clientDown]);
    const removed = await removedAt;
    const [serverAbortAt, clientAbortAt] = await Promise.all([serverHandlerAborted, clientHandlerAborted]);

    assert.ok(hasErrorCode(c.error, 'pipe_broken'), `client's in-flight event: pipe_broken, got ${String(c.error)}`);
    assert.ok(hasErrorCode(s.error, 'pipe_broken'), `server's in-flight event: pipe_broken, got ${String(s.error)}`);
    assert.match((c.error as Error).message, /heartbeat timeout/);
    assert.match((s.error as Error).message, /heartbeat timeout/);
    assert.match((down.value as ClientStatus).reason ?? '', /heartbeat timeout/, 'the client status says why');
    assert.equal(server.client('client1'), undefined, 'the registry dropped the client');
    assert.equal(server.clientCount, 0);
    assert.ok(serverLog.matching(/disconnected: heartbeat timeout/).length >= 1, 'the server logged why');
    assert.ok(clientLog.matching(/closed: heartbeat timeout/).length >= 1, 'the client logged why');

    const measured = {
      'client in-flight → pipe_broken': c.at - t0,
      'server in-flight → pipe_broken': s.at - t0,
      'server registry drop': removed - t0,
      'client status backoff': down.at - t0,
      'server handler ctx.signal': serverAbortAt - t0,
      'client handler ctx.signal': clientAbortAt - t0,
    };
    for (const [what, ms] of Object.entries(measured)) {
      assert.ok(ms <= DETECT_MAX_MS, `${what} after ${fmt(ms)} (bar ${DETECT_MAX_MS} ms)`);
      assert.ok(ms >= DETECT_MIN_MS, `${what} after ${fmt(ms)}: not before the peer had been silent for the timeout`);
    }
    console.log(
      `blackhole (heartbeat ${H}/${T} ms): ` + Object.entries(measured).map(([w, ms]) => `${w} ${fmt(ms)}`).join('; '),
    );

    // While black-holed, dials connect (the proxy accepts) and stall in the TLS handshake; the
    // backoff keeps growing instead of being reset by the TCP connect (F5).
    const fails = record<[number]>(client, 'connect_fail');
    await onceEvent(client, 'connect_fail', { timeoutMs: 3_000 });
    await onceEvent(client, 'connect_fail', { timeoutMs: 3_000 });
    fails.stop();
    const attempts = fails.items.map((f) => f.args[0]);
    assert.ok(attempts.every((a, i) => i === 0 || a > attempts[i - 1]!), `attempts grow: ${attempts.join(', ')}`);
    assert.match(client.lastFailure ?? '', /TLS handshake timed out|hello/);

    // Heal: the client reconnects by itself.
    const back = Promise.all([
      eventAt(client, 'connect_success', () => true, 5_000),
      eventAt(server, 'connection_added', (name: string) => name === 'client1', 5_000),
    ]);
    const tHeal = performance.now();
    proxy.setMode('pass');
    const [clientBack, serverBack] = await back;
    const healMs = Math.max(clientBack, serverBack) - tHeal;
    // At worst a dial had just started into the black hole: its handshake timeout, then a backoff.
    assert.ok(healMs <= 300 + BACKOFF.reconnectMaxMs + 1_000, `reconnected ${fmt(healMs)} after the heal`);
    const r = await client.send({ verb: 'get', noun: 'nothing' });
    assert.equal(r.code, 255, 'the new pipe carries events');
    console.log(`blackhole healed: reconnected after ${fmt(healMs)}`);
  });
});

describe('(a2) the proxy stops reading while a large body is being written', () => {
  test('the full socket does not hide the silence: both sides give up within the timeout, the large event fails pipe_broken', async () => {
    const { server, port } = await bed.server({ handlers: handlers('server'), maxBodyBytes: 8 * 1024 * 1024 });
    const proxy = await startFaultProxy(port);
    bed.defer(() => proxy.close());
    const client = await bed.connectedClient(server, proxy.port, bed.pki.client1, {
      handlers: handlers('client1'),
      maxBodyBytes: 8 * 1024 * 1024,
      handshakeTimeoutMs: 300,
    });
    const removedAt = eventAt(server, 'connection_removed', (name: string) => name === 'client1');
    const clientDown = settledAt(waitForStatus(client, (st) => st.state === 'backoff', 5_000));

    proxy.setMode('pause');
    const t0 = performance.now();
    const big = settledAt(client.send({ verb: 'post', noun: 'sink', mimetype: 'application/octet-stream', data: Buffer.alloc(4 * 1024 * 1024, 1) }));
    const [ev, down] = await Promise.all([big, clientDown]);
    const removed = await removedAt;
    assert.ok(hasErrorCode(ev.error, 'pipe_broken'), `the large event: pipe_broken, got ${String(ev.error)}`);
    assert.match((ev.error as Error).message, /heartbeat timeout/);
    const measured = { 'client large event → pipe_broken': ev.at - t0, 'client status backoff': down.at - t0, 'server registry drop': removed - t0 };
    for (const [what, ms] of Object.entries(measured)) assert.ok(ms <= DETECT_MAX_MS, `${what} after ${fmt(ms)} (bar ${DETECT_MAX_MS} ms)`);
    console.log('pause with 4 MiB in flight: ' + Object.entries(measured).map(([w, ms]) => `${w} ${fmt(ms)}`).join('; '));

    const back = eventAt(client, 'connect_success', () => true, 5_000);
    proxy.setMode('pass');
    await back;
    await client.close({ graceMs: 0 });
  });
});

describe('(b) a client process frozen with SIGSTOP', () => {
  let server: RestpipeServer;
  let child: Child;

  before(async () => {
    let port: number;
    ({ server, port } = await bed.server({ handlers: handlers('server') }));
    const added = onceEvent(server, 'connection_added', { filter: (name: string) => name === 'client2', timeoutMs: 10_000 });
    child = startNode(fixturePath('client-process'), [], {
      RP_TEST_KEY: bed.pki.client2.keyPath,
      RP_TEST_CERT: bed.pki.client2.certPath,
      RP_TEST_CA: bed.pki.ca.certPath,
      RP_TEST_PORT: String(port),
      RP_TEST_HB_INTERVAL_MS: String(H),
      RP_TEST_HB_TIMEOUT_MS: String(T),
    });
    await child.waitForLine(/^connected \d+$/);
    await added;
  });

  test('the server detects it within the timeout and fails the in-flight event; after SIGCONT it reconnects', async () => {
    const inFlight = settledAt(server.send('client2', { verb: 'get', noun: 'wait' }));
    await child.waitForLine(/^started get_wait$/);
    const removedAt = eventAt(server, 'connection_removed', (name: string) => name === 'client2');

    const t0 = performance.now();
    child.signal('SIGSTOP');
    const ev = await withTimeout(inFlight, 5_000, 'the in-flight event to fail');
    const removed = await removedAt;
    assert.ok(hasErrorCode(ev.error, 'pipe_broken'), `in-flight event: pipe_broken, got ${String(ev.error)}`);
    assert.match((ev.error as Error).message, /heartbeat timeout/);
    assert.equal(server.client('client2'), undefined, 'the registry dropped the frozen client');
    const eventMs = ev.at - t0;
    const removedMs = removed - t0;
    for (const [what, ms] of [
      ['in-flight → pipe_broken', eventMs],
      ['registry drop', removedMs],
    ] as const) {
      assert.ok(ms <= DETECT_MAX_MS, `${what} after ${fmt(ms)} (bar ${DETECT_MAX_MS} ms)`);
      assert.ok(ms >= DETECT_MIN_MS, `${what} after ${fmt(ms)}: not before the timeout`);
    }

    // While it is frozen, a send waits for it (connect-wait) and fails with no_connection.
    await assert.rejects(server.send('client2', { verb: 'get', noun: 'time' }, { connectWaitMs: 100 }), { code: 'no_connection' });

    const back = eventAt(server, 'connection_added', (name: string) => name === 'client2', 5_000);
    const linesBefore = child.lines.length;
    const tCont = performance.now();
    child.signal('SIGCONT');
    const backAt = await back;
    const reconnectMs = backAt - tCont;
    // The thawed client learns its pipe is gone (the server's goaway and close were waiting in
    // its socket), its handler's signal fires, and it dials again.
    await child.waitForLine(/^aborted get_wait$/, 3_000, linesBefore);
    await child.waitForLine(/^connected \d+$/, 3_000, linesBefore);
    assert.ok(reconnectMs <= BACKOFF.reconnectMaxMs + 1_000, `reconnected ${fmt(reconnectMs)} after SIGCONT`);
    const r = await server.send('client2', { verb: 'get', noun: 'time' });
    assert.ok('time_from_client' in JSON.parse(Buffer.from(r.data).toString()));
    console.log(
      `SIGSTOP client (heartbeat ${H}/${T} ms): server in-flight → pipe_broken after ${fmt(eventMs)}, registry drop after ${fmt(removedMs)}; ` +
        `reconnected ${fmt(reconnectMs)} after SIGCONT`,
    );
  });
});

describe('(c) a server that completes TLS and never sends its hello', () => {
  test('each attempt ends at the hello timeout, the backoff grows, and close() returns at once', async () => {
    const sockets = new Set<tls.TLSSocket>();
    const mute = tls.createServer({ ...bed.pki.server.tls, requestCert: true }, (socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve));
    bed.defer(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          mute.close(() => resolve());
        }),
    );
    const { port } = mute.address() as { port: number };
    const client = bed.client(port, bed.pki.client1, { helloTimeoutMs: 200 });
    const fails = record<[number]>(client, 'connect_fail');
    await onceEvent(client, 'connect_fail', { timeoutMs: 3_000 });
    await onceEvent(client, 'connect_fail', { timeoutMs: 3_000 });
    fails.stop();
    assert.deepEqual(fails.items.map((f) => f.args[0]), [1, 2], 'the attempt count grows: a TLS connect alone does not reset it');
    assert.match(client.lastFailure ?? '', /no hello from the peer within 0\.2 s/);

    await client.close({ graceMs: 0 });

    // Caught in the middle of a hello wait, close() ends it now, not after the hello timeout
    // (a long one here, so that the two cannot be confused on a busy machine).
    const patient = bed.client(port, bed.pki.client1, { helloTimeoutMs: LONG_HELLO_MS });
    await waitForStatus(patient, (st) => st.state === 'handshaking', 3_000);
    const t0 = performance.now();
    await patient.close({ graceMs: 0 });
    const closeMs = performance.now() - t0;
    assert.ok(closeMs < clearlyBefore(LONG_HELLO_MS), `close() took ${fmt(closeMs)}, not the ${LONG_HELLO_MS} ms hello timeout`);
    assert.equal(patient.state, 'closed');
  });
});
