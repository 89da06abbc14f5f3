// The client's state machine (CLIENT_MOVES in src/client/pipe-client.ts), driven through a fake
// connector on mocked timers: no sockets, and time passes only when the test says so. A dial
// that fails moves connecting → backoff → connecting after exactly the policy's delay; a pipe
// moves connecting → handshaking → ready, and back to backoff when it breaks; close() is final
// from any state.
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';

import { CLIENT_MOVES, PipeClient, type ClientStatus } from '../../../src/client/pipe-client.js';
import type { Connector, DialedPipe } from '../../../src/client/connector.js';
import { reconnectDelayMs } from '../../../src/client/reconnect-policy.js';
import { ErrorCode, RestpipeError } from '../../../src/errors.js';
import type { Reply } from '../../../src/event.js';
import { resolvePipeTiming } from '../../../src/options/pipe.js';
import { PipeSession } from '../../../src/pipe/session.js';
import type { ClientState } from '../../../src/sender.js';

/** Two Duplex ends joined in memory: what one writes, the other reads. */
function duplexPair(): [Duplex, Duplex] {
  const aToB = new PassThrough();
  const bToA = new PassThrough();
  return [Duplex.from({ readable: bToA, writable: aToB }), Duplex.from({ readable: aToB, writable: bToA })];
}

const CERT_LESS_TLS = { key: '', cert: '', ca: '' };
const RANDOM = (): number => 0.5;
const noReply = (): Promise<Reply> => new Promise(() => {});

function client(connector: Connector): { client: PipeClient; statuses: ClientStatus[] } {
  const c = new PipeClient({ host: 'server.test', port: 1234, tls: CERT_LESS_TLS, random: RANDOM, reconnectMinMs: 100, reconnectMaxMs: 1_000, connector }, noReply);
  const statuses: ClientStatus[] = [];
  c.on('status', (s) => statuses.push(s));
  return { client: c, statuses };
}

/** Lets the client's promise chains run (the fake connector settles in microtasks). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

describe('client states', () => {
  test('the table: closed is final, every other state can close, backoff only follows an attempt', () => {
    assert.deepEqual(CLIENT_MOVES.closed, []);
    for (const state of Object.keys(CLIENT_MOVES) as ClientState[]) {
      if (state !== 'closed') assert.ok((CLIENT_MOVES[state] as readonly ClientState[]).includes('closed'), state);
    }
    assert.ok(!(CLIENT_MOVES.idle as readonly ClientState[]).includes('backoff'));
    assert.ok(!(CLIENT_MOVES.backoff as readonly ClientState[]).includes('ready'));
  });

  test('failing dials: connecting → backoff for exactly the policy delay → connecting, the attempt counted', async () => {
    let dials = 0;
    const { client: c, statuses } = client(async () => {
      dials++;
      throw new RestpipeError(ErrorCode.NO_CONNECTION, 'ECONNREFUSED: connect refused');
    });
    c.start();
    await settle();
    assert.deepEqual(statuses.map((s) => s.state), ['connecting', 'backoff']);
    const first = statuses[1]!;
    assert.equal(first.attempt, 1);
    assert.equal(first.delayMs, reconnectDelayMs(1, 100, 1_000, RANDOM));
    assert.match(first.reason ?? '', /connect refused/);

    mock.timers.tick(first.delayMs! - 1);
    await settle();
    assert.equal(dials, 1, 'no redial before the delay is over');
    mock.timers.tick(1);
    await settle();
    assert.equal(dials, 2);
    assert.deepEqual(statuses.map((s) => s.state), ['connecting', 'backoff', 'connecting', 'backoff']);
    assert.equal(statuses[3]!.attempt, 2);
    assert.equal(statuses[3]!.delayMs, reconnectDelayMs(2, 100, 1_000, RANDOM), 'the delay grows with the attempts');

    await c.close({ graceMs: 0 });
    assert.equal(c.state, 'closed');
    assert.equal(statuses.at(-1)!.state, 'closed');
    assert.throws(() => c.start(), { code: 'closed' });
    mock.timers.tick(10_000);
    await settle();
    assert.equal(dials, 2, 'a closed client never dials again');
  });

  test('a pipe: connecting → handshaking → ready; broken → backoff; closed', async () => {
    const timing = resolvePipeTiming({});
    let server: PipeSession | undefined;
    const connector: Connector = async () => {
      const [near, far] = duplexPair();
      server = new PipeSession(far, { role: 'server', localName: 'server', peer: { name: 'client', address: '127.0.0.1' }, timing, handler: noReply, logger: (await import('../../../src/log.js')).silentLogger });
      void server.handshake().catch(() => {});
      return { socket: Object.assign(near, { remoteAddress: '127.0.0.1', getProtocol: () => 'TLSv1.3' }), serverCn: 'server' } satisfies DialedPipe;
    };
    const { client: c, statuses } = client(connector);
    const ready = new Promise<void>((resolve) => c.once('connect_success', () => resolve()));
    c.start();
    await ready;
    assert.deepEqual(statuses.map((s) => s.state), ['connecting', 'handshaking', 'ready']);
    assert.equal(c.connects, 1);
    assert.equal(c.pipe()?.name, 'server');
    assert.ok(c.connectedSince instanceof Date);

    const backoff = new Promise<ClientStatus>((resolve) => c.on('status', (s) => s.state === 'backoff' && resolve(s)));
    server!.destroy('test: the server cut the pipe');
    const s = await backoff;
    assert.match(s.reason ?? '', /pipe closed/);
    assert.equal(c.pipe(), undefined);
    assert.equal(c.connectedSince, null);

    await c.close({ graceMs: 0 });
    assert.deepEqual(statuses.map((x) => x.state), ['connecting', 'handshaking', 'ready', 'backoff', 'closed']);
  });

  test('close() before start(): idle → closed, no dial', async () => {
    let dials = 0;
    const { client: c, statuses } = client(async () => {
      dials++;
      throw new Error('never');
    });
    await c.close();
    assert.deepEqual(statuses.map((s) => s.state), ['closed']);
    assert.equal(dials, 0);
  });
});
