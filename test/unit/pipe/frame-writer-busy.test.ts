// FrameWriter.takeBusySending (the heartbeat's "our own data may be delaying the peer's answer"
// excuse): bulk bytes written count, and so does a backlog of our own in the socket; but the
// control frames written since the last look (our own heartbeat, not yet reported done by a
// TLS socket whose event loop a flood keeps busy) are no backlog. The last case kept a peer
// that never reads alive for as long as its flood made every turn of the loop last a tick
// (test/faults/hostile-peer-never-reads case (b) under load).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { FrameWriter } from '../../../src/pipe/frame-writer.js';
import { heldSocket } from '../../helpers/held-socket.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
const frame = (size: number): Buffer[] => [Buffer.alloc(size, 7)];

test('a heartbeat still reported in the socket is not "busy sending"', async () => {
  const { socket } = heldSocket();
  const writer = new FrameWriter(socket as never);
  assert.equal(writer.takeBusySending(), false, 'nothing written');
  writer.writeControl(frame(10)); // the heartbeat sent after the last look
  await turn();
  assert.equal(socket.writableLength, 10, 'the stand-in holds it, as a busy TLS socket does for a turn');
  assert.equal(writer.takeBusySending(), false, 'our own control frame since the last look is no backlog');
});

test('16 KiB of events or replies written since the last look is "busy sending", once', async () => {
  const { socket, release } = heldSocket();
  const writer = new FrameWriter(socket as never);
  writer.writeReply(frame(16 * 1024));
  await turn();
  release();
  await turn();
  assert.equal(socket.writableLength, 0);
  assert.equal(writer.takeBusySending(), true, 'the bytes written count even once gone');
  assert.equal(writer.takeBusySending(), false, 'and only until the next look');
});

test('a backlog of our own is "busy sending", moving or not; a heartbeat behind it does not hide it', async () => {
  const { socket, release } = heldSocket();
  const writer = new FrameWriter(socket as never);
  // Two small events (below the 16 KiB of bulk), written in two turns: two writes to the socket.
  writer.writeEvent(frame(1_000));
  await turn();
  writer.writeEvent(frame(1_000));
  await turn();
  assert.equal(writer.takeBusySending(), true, 'our events wait in the socket (a slow link takes them seconds later)');
  release(); // the first is taken, the second still waits
  await turn();
  writer.writeControl(frame(10));
  await turn();
  assert.equal(socket.writableLength, 1_010);
  assert.equal(writer.takeBusySending(), true, 'more in the socket than the control frames written since the last look');
  release();
  await turn();
  release();
  await turn();
  assert.equal(writer.takeBusySending(), false, 'all taken');
});
