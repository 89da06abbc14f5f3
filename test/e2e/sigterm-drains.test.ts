// SIGINT/SIGTERM (SPEC §3): a node stops accepting, lets the events in flight finish within
// --grace, closes cleanly and exits 0. Checked on real processes, once for the server and once
// for the client, with events in flight both ways (handlers that take ~1 s) when the signal
// arrives: those requests end 200, new ones do not get in, the process exits 0 well within the
// grace period and its log says it drained them.
import { after, afterEach, test } from 'node:test';
import assert from 'node:assert/strict';

import { httpRequest, type HttpResult } from '../helpers/gateway-http.js';
import { makePki, type Pki } from '../helpers/pki.js';
import {
  E2E_HANDLERS,
  FAST_FLAGS,
  clientConnected,
  handlerStarted,
  killAll,
  startClient,
  startServer,
  type CliProcess,
} from '../helpers/cli-processes.js';

const GRACE_S = 5;
const COMMON = ['--handlers', E2E_HANDLERS, ...FAST_FLAGS, '--grace', String(GRACE_S), '--event-timeout', '10'];
const SLEEP_MS = 1_000;
let pki: Pki | undefined;

afterEach(() => killAll());
after(() => pki?.cleanup());

async function pair() {
  pki ??= await makePki();
  const server = await startServer(await pki.certDir('server', pki.server), COMMON);
  const client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, COMMON);
  await clientConnected(server.proc, 'client1');
  const toClient = (path: string) => httpRequest({ port: server.gateway!.port }, { path: `/client/client1/${path}`, timeoutMs: 15_000 });
  const toServer = (path: string) => httpRequest({ port: client.gateway!.port }, { path: `/server/${path}`, timeoutMs: 15_000 });
  return { server, client, toClient, toServer };
}

/** Two events each way, both handlers sleeping ~1 s; resolves once all four handlers run. */
async function eventsInFlight(p: Awaited<ReturnType<typeof pair>>): Promise<Array<Promise<HttpResult>>> {
  const requests = [
    p.toClient(`sleep//${SLEEP_MS}/s1`),
    p.toClient(`sleep//${SLEEP_MS}/s2`),
    p.toServer(`sleep//${SLEEP_MS}/c1`),
    p.toServer(`sleep//${SLEEP_MS}/c2`),
  ];
  await Promise.all([handlerStarted(p.client.proc, 'get_sleep', 2), handlerStarted(p.server.proc, 'get_sleep', 2)]);
  return requests;
}

/**
 * A new request while a node drains. On the draining node's own gateway: refused at connect
 * (the gateway has closed its listening socket), reset (the connection was accepted just before
 * and closed as idle), or 503 `closed` (a connection that was already open). Through the other
 * node: 503, once --connect-wait has passed without a pipe. Never served, never hanging.
 */
async function refusedOr503(request: Promise<HttpResult>): Promise<string> {
  try {
    const res = await request;
    assert.equal(res.status, 503, res.body.toString());
    return `503 ${(res.json() as { error: { code: string } }).error.code}`;
  } catch (err) {
    const code = String((err as NodeJS.ErrnoException).code);
    assert.ok(['ECONNREFUSED', 'ECONNRESET'].includes(code), String(err));
    return code;
  }
}

async function assertDrained(proc: CliProcess, signalAt: number, inFlight: number): Promise<void> {
  const { code, signal } = await proc.waitForExit((GRACE_S + 5) * 1_000);
  const tookMs = performance.now() - signalAt;
  assert.equal(signal, null, proc.dump());
  assert.equal(code, 0, proc.dump());
  assert.ok(tookMs < GRACE_S * 1_000, `exited ${tookMs} ms after the signal (grace ${GRACE_S} s)`);
  const stopped = proc.log.find((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('stopped'));
  assert.ok(stopped !== undefined, proc.dump());
  assert.equal(stopped['drained'], true, stopped.text);
  assert.equal(stopped['inFlight'], inFlight, stopped.text);
  assert.match(String(stopped['msg']), new RegExp(`^stopped: drained ${inFlight} in-flight events`));
}

function assertAll200(results: HttpResult[]): void {
  for (const res of results) {
    // A 502 "the peer closed the connection" here means a reply the draining node had written
    // was cut off before it left (its socket destroyed, or the process gone, while the reply
    // was still queued).
    assert.equal(res.status, 200, `an event in flight was not drained: ${res.body.toString()}`);
    const body = res.json() as { slept: number; aborted: boolean };
    assert.equal(body.slept, SLEEP_MS);
    assert.equal(body.aborted, false, 'the handler ran to the end');
  }
}

test('SIGTERM to the server: its events in flight both ways finish with 200, then it exits 0', async () => {
  const p = await pair();
  const requests = await eventsInFlight(p);
  const signalAt = performance.now();
  p.server.proc.signal('SIGTERM');
  await p.server.proc.waitForLog((l) => l['signal'] === 'SIGTERM', 'the SIGTERM line');
  // Once the client has the server's goaway, new events wait for a new pipe instead.
  await p.client.proc.waitForLog((l) => l['msg'] === 'the peer is closing the pipe; finishing in-flight events', "the server's goaway");
  // New requests meanwhile: the server's gateway takes none; the client's wait for a pipe and get 503.
  const [own, viaClient] = await Promise.all([refusedOr503(p.toClient('time')), refusedOr503(p.toServer('time'))]);
  assert.ok(['ECONNREFUSED', 'ECONNRESET', '503 closed'].includes(own), own);
  assert.match(viaClient, /^503 (no_connection|closed)$/);
  assertAll200(await Promise.all(requests));
  await assertDrained(p.server.proc, signalAt, 4);
  // The client stays up and says it lost the server.
  assert.equal(p.client.proc.child.exitCode, null);
});

test('SIGTERM to the client: its events in flight both ways finish with 200, then it exits 0', async () => {
  const p = await pair();
  const requests = await eventsInFlight(p);
  const signalAt = performance.now();
  p.client.proc.signal('SIGTERM');
  await p.client.proc.waitForLog((l) => l['signal'] === 'SIGTERM', 'the SIGTERM line');
  await p.server.proc.waitForLog((l) => l['msg'] === 'the peer is closing the pipe; finishing in-flight events', "the client's goaway");
  const [own, viaServer] = await Promise.all([refusedOr503(p.toServer('time')), refusedOr503(p.toClient('time'))]);
  assert.ok(['ECONNREFUSED', 'ECONNRESET', '503 closed'].includes(own), own);
  assert.match(viaServer, /^503 (no_connection|closed)$/);
  assertAll200(await Promise.all(requests));
  await assertDrained(p.client.proc, signalAt, 4);
  assert.equal(p.server.proc.child.exitCode, null);
  await p.server.proc.waitForLog((l) => l['msg'] === "client 'client1' disconnected: closed by goaway after in-flight events finished", 'the goodbye');
});

test('SIGINT works the same, and a second signal exits at once', async () => {
  const p = await pair();
  // The outcome is taken at once: the request fails while the test waits on other things.
  const pending = p.toClient('never').then(
    (res) => String(res.status),
    (err: NodeJS.ErrnoException) => String(err.code),
  );
  await handlerStarted(p.client.proc, 'get_never');
  p.server.proc.signal('SIGINT');
  await p.server.proc.waitForLog((l) => l['signal'] === 'SIGINT', 'the SIGINT line');
  p.server.proc.signal('SIGINT');
  const { code } = await p.server.proc.waitForExit(3_000);
  assert.equal(code, 1, 'a second signal means: stop now');
  // Cut off: the caller learns it at once (the connection closes) instead of hanging.
  assert.ok(['502', '503', 'ECONNRESET'].includes(await pending));
});
