// The pipe session's state machine (SESSION_MOVES in src/pipe/session.ts): hello → open →
// draining → closed, or hello → closed, on an injected clock and two sessions joined in memory
// (no sockets). What each move means: the hello opens the pipe at the clock's time; close()
// drains with a goaway both ways; a hello in another protocol version, a frame before the hello
// and a goaway before it each end the pipe with their own error.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex, PassThrough } from 'node:stream';

import type { Reply } from '../../../src/event.js';
import { silentLogger } from '../../../src/log.js';
import { resolvePipeTiming } from '../../../src/options/pipe.js';
import { PipeSession, SESSION_MOVES, type SessionState } from '../../../src/pipe/session.js';
import { FrameType } from '../../../src/wire/frame.js';
import { encodeFrame } from '../../../src/wire/frame-encoder.js';
import { GoAwayCode, PROTOCOL_VERSION, encodeGoAway, encodeHello } from '../../../src/wire/messages.js';

function duplexPair(): [Duplex, Duplex] {
  const aToB = new PassThrough();
  const bToA = new PassThrough();
  return [Duplex.from({ readable: bToA, writable: aToB }), Duplex.from({ readable: aToB, writable: bToA })];
}

const timing = resolvePipeTiming({ helloTimeoutMs: 5_000 });
const answer = async (): Promise<Reply> => ({ code: 0, mimetype: '', data: new Uint8Array(0) });

function session(socket: Duplex, role: 'server' | 'client', now: () => number): { s: PipeSession; states: SessionState[] } {
  const states: SessionState[] = [];
  const s = new PipeSession(socket, {
    role,
    localName: role,
    peer: { name: role === 'client' ? 'server' : 'client', address: '127.0.0.1' },
    timing,
    handler: answer,
    logger: {
      ...silentLogger,
      isLevelEnabled: () => true,
      debug: (obj: object) => void states.push((obj as { to: SessionState }).to),
      child: () => silentLogger,
    },
    now,
  });
  return { s, states };
}

describe('session states', () => {
  test('the table: hello may only open or close; closed is final; nothing goes back', () => {
    assert.deepEqual(SESSION_MOVES.hello, ['open', 'closed']);
    assert.deepEqual(SESSION_MOVES.closed, []);
    assert.ok(!(SESSION_MOVES.draining as readonly string[]).includes('open'));
  });

  test('hello → open at the clock time of the hello; close() → draining → closed, both sides', async () => {
    let now = 1_000_000;
    const [a, b] = duplexPair();
    const client = session(a, 'client', () => now);
    const server = session(b, 'server', () => now);
    assert.equal(client.s.state, 'hello');
    now = 1_000_500;
    await Promise.all([client.s.handshake(), server.s.handshake()]);
    assert.equal(client.s.state, 'open');
    assert.equal(client.s.info().connectedSince.getTime(), 1_000_500, 'connectedSince is when the hello arrived, by the clock');
    assert.ok(client.s.isUsable);

    now = 1_002_000;
    const closing = client.s.close(1_000, 'test: closing');
    assert.equal(client.s.state, 'draining');
    assert.ok(!client.s.isUsable);
    const [mine, theirs] = await Promise.all([closing, server.s.closed()]);
    assert.equal(mine.graceful, true);
    assert.equal(theirs.graceful, true);
    assert.equal(mine.at.getTime(), 1_002_000);
    assert.deepEqual(client.states, ['open', 'draining', 'closed']);
    assert.deepEqual(server.states, ['open', 'draining', 'closed']);
    await assert.rejects(client.s.request({ verb: 'get', noun: 'x', path: 'x', params: [], method: 'get_x', query: '', mimetype: '', data: new Uint8Array(0) }, { signal: undefined, timeoutMs: 1_000 }), { code: 'pipe_broken' });
  });

  test('a hello in another protocol version: hello → closed, version_mismatch naming both versions', async () => {
    const [a, b] = duplexPair();
    const client = session(a, 'client', Date.now);
    const pending = client.s.handshake();
    b.write(Buffer.concat(encodeFrame(FrameType.HELLO, 0, encodeHello({ protocolVersion: PROTOCOL_VERSION + 1, nodeName: 'server', role: 'server', maxFrameBytes: 0, heartbeatIntervalMs: 0 }))));
    await assert.rejects(pending, (err: Error & { code?: string }) => err.code === 'version_mismatch' && err.message.includes(`version ${PROTOCOL_VERSION + 1}`) && err.message.includes(`speaks ${PROTOCOL_VERSION}`));
    assert.deepEqual(client.states, ['closed']);
  });

  test('a frame before the hello is a protocol error: hello → closed', async () => {
    const [a, b] = duplexPair();
    const client = session(a, 'client', Date.now);
    const pending = client.s.handshake();
    b.write(Buffer.concat(encodeFrame(FrameType.HEARTBEAT, 7, [])));
    await assert.rejects(pending, (err: Error & { code?: string }) => err.code === 'pipe_broken' && /HEARTBEAT frame before HELLO/.test(err.message));
    assert.equal((await client.s.closed()).graceful, false);
  });

  test('a goaway before the hello reaches handshake() as what it says (a refused certificate: tls_refused)', async () => {
    const [a, b] = duplexPair();
    const client = session(a, 'client', Date.now);
    const pending = client.s.handshake();
    b.write(Buffer.concat(encodeFrame(FrameType.GOAWAY, 0, encodeGoAway({ code: GoAwayCode.UNAUTHORIZED, reason: 'certificate refused: CERT_HAS_EXPIRED' }))));
    await assert.rejects(pending, (err: Error & { code?: string }) => err.code === 'tls_refused' && /CERT_HAS_EXPIRED/.test(err.message));
    assert.deepEqual(client.states, ['closed']);
  });
});
