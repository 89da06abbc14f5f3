// The send queue's budget (issue 5 item 4), now the scheduler's (stream/scheduler.ts) in front of
// the FrameWriter: event heads wait in the queue only while the socket is full, the queue takes at
// most maxQueuedBytes (or one frame of any size when empty), frames of events that settled while
// waiting are pruned before a refusal and never written, and draining writes the rest in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { FrameWriter } from '../../../src/pipe/frame-writer.js';
import { SendScheduler } from '../../../src/stream/scheduler.js';
import { SendWindow } from '../../../src/stream/window.js';
import { heldSocket } from '../../helpers/held-socket.js';

const owner = () => ({ sent: false, settled: false });
const frame = (byte: number, size: number) => [Buffer.alloc(size, byte)];

test('the queue is bounded by maxQueuedBytes, prunes settled frames before refusing, and drains in order', async () => {
  const { socket, written, release } = heldSocket();
  const writer = new FrameWriter(socket as never);
  // The socket counts as full from 100 bytes, and the queue holds 100 bytes: as maxQueuedBytes was.
  const scheduler = new SendScheduler(
    { get socketQueuedBytes() { return writer.socketQueuedBytes; }, writeHead: (parts) => writer.writeEvent(parts), writeData: () => assert.fail('no data here') },
    { headsBelowBytes: 100, dataBelowBytes: 100, maxChunkBytes: 64 * 1024, maxQueuedHeadBytes: 100 },
    new SendWindow(1 << 20),
  );
  writer.setDrainListener(() => scheduler.pump());
  writer.uncorkIfCorked();
  const waitingBytes = (): number => scheduler.queuedHeadBytes;

  const first = owner();
  scheduler.queueHead(frame(1, 150), first); // socket empty: goes straight to it
  assert.equal(first.sent, true);
  await new Promise((r) => setImmediate(r));
  assert.ok(writer.socketQueuedBytes >= 100, 'the socket is now over budget');

  assert.equal(scheduler.hasRoomFor(500), true, 'an empty queue takes one frame of any size');
  const a = owner();
  scheduler.queueHead(frame(2, 60), a);
  assert.equal(a.sent, false, 'queued behind the full socket');
  assert.equal(waitingBytes(), 60);
  assert.equal(scheduler.hasRoomFor(40), true, '60 + 40 ≤ 100');
  const b = owner();
  scheduler.queueHead(frame(3, 40), b);
  assert.equal(scheduler.hasRoomFor(1), false, 'full: refused');

  a.settled = true; // a timed out while waiting
  assert.equal(scheduler.hasRoomFor(50), true, 'the settled frame is pruned to make room');
  assert.equal(waitingBytes(), 40);
  assert.equal(scheduler.queuedHeads, 1);
  const c = owner();
  scheduler.queueHead(frame(4, 50), c);

  // The socket drains: b then c are written, a never.
  release();
  await new Promise((r) => setImmediate(r));
  release();
  await new Promise((r) => setImmediate(r));
  release();
  assert.equal(b.sent && c.sent, true);
  assert.equal(a.sent, false);
  assert.equal(waitingBytes(), 0);
  const firstBytes = written.map((w) => w[0]);
  assert.deepEqual([...new Set(firstBytes)], [1, 3, 4], 'written in order, the settled frame skipped');
});
