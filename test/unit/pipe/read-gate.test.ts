// Read backpressure (issue 8 item 1), on a socket stand-in that holds everything written until
// released: only responses (not our own events) count towards the limit; past it the gate
// pauses reading and resumes once the responses drain; a peer that takes nothing for the
// allowance (the stall timeout per minBytesPerStall waiting) is reported as not reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import { FrameWriter } from '../../../src/pipe/frame-writer.js';
import { ReadGate } from '../../../src/pipe/read-gate.js';

/** A duplex whose writes complete only on release(); reading never produces anything. */
function heldDuplex(): { socket: Duplex; release(): void } {
  let pending: (() => void)[] = [];
  const socket = new Duplex({
    highWaterMark: 1,
    read() {},
    write(_chunk: Buffer, _enc, cb) {
      pending.push(cb);
    },
  });
  return {
    socket,
    release() {
      const cbs = pending;
      pending = [];
      for (const cb of cbs) cb();
    },
  };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('only responses count: our own events in the socket do not stop us reading', async () => {
  const { socket } = heldDuplex();
  const writer = new FrameWriter(socket);
  const gate = new ReadGate(socket, writer, { limitBytes: 500, resumeBytes: 250, stallTimeoutMs: 1_000, minBytesPerStall: 250, tickMs: 10, yieldEveryBytes: 1 << 20 }, { onPeerNotReading() {} });
  writer.writeEvent([Buffer.alloc(2_000)]);
  writer.writeReply([Buffer.alloc(100)]);
  gate.afterResponse();
  await turn();
  assert.equal(writer.socketQueuedBytes, 2_100);
  assert.equal(writer.responseBytesQueued, 100);
  assert.equal(gate.paused, false, '2,000 bytes of our event are not the peer\'s doing');
  writer.writeReply([Buffer.alloc(450)]);
  gate.afterResponse();
  assert.equal(gate.paused, true, '550 bytes of replies > 500');
  assert.equal(socket.isPaused(), true);
  gate.close();
});

test('paused past the limit, reading resumes when the responses drain', async () => {
  const { socket, release } = heldDuplex();
  const writer = new FrameWriter(socket);
  const gate = new ReadGate(socket, writer, { limitBytes: 500, resumeBytes: 250, stallTimeoutMs: 1_000, minBytesPerStall: 250, tickMs: 10, yieldEveryBytes: 1 << 20 }, { onPeerNotReading: () => assert.fail('not stalled') });
  socket.on('data', () => {}); // flowing, as a session's socket is
  for (let i = 0; i < 6; i++) {
    writer.writeReply([Buffer.alloc(100)]);
    gate.afterResponse();
  }
  assert.equal(gate.paused, true);
  assert.equal(gate.pauses, 1);
  await turn(); // the batch goes out (uncork)
  // The peer reads: one write completes per release (this stand-in has no writev).
  for (let i = 0; i < 20 && writer.socketQueuedBytes > 0; i++) {
    release();
    await turn();
  }
  await sleep(30);
  assert.equal(writer.socketQueuedBytes, 0);
  assert.equal(gate.paused, false, 'resumed on drain');
  assert.equal(socket.isPaused(), false);
  gate.close();
});

test('a peer that takes nothing while paused is reported after the allowance, once', async () => {
  const { socket } = heldDuplex();
  const writer = new FrameWriter(socket);
  const reports: Array<{ queued: number; stalledMs: number }> = [];
  // 600 bytes waiting, 300 per stall of 40 ms: 80 ms allowed.
  const gate = new ReadGate(socket, writer, { limitBytes: 500, resumeBytes: 250, stallTimeoutMs: 40, minBytesPerStall: 300, tickMs: 5, yieldEveryBytes: 1 << 20 }, {
    onPeerNotReading: (queued, stalledMs) => reports.push({ queued, stalledMs }),
  });
  for (let i = 0; i < 6; i++) writer.writeReply([Buffer.alloc(100)]);
  gate.afterResponse();
  const t0 = performance.now();
  while (reports.length === 0 && performance.now() - t0 < 2_000) await sleep(5);
  const after = performance.now() - t0;
  assert.equal(reports.length, 1);
  assert.equal(reports[0]!.queued, 600);
  assert.ok(reports[0]!.stalledMs >= 80, `reported after ${reports[0]!.stalledMs} ms of no progress (allowance 80)`);
  assert.ok(after < 80 + 500, `reported ${after.toFixed(0)} ms after the pause`);
  await sleep(50);
  assert.equal(reports.length, 1, 'once: the gate stopped itself');
  assert.equal(gate.paused, false);
});

test('reading yields the event loop after yieldEveryBytes, and a stop of the gate outlasts the yield', async () => {
  const { socket } = heldDuplex();
  const writer = new FrameWriter(socket);
  const gate = new ReadGate(socket, writer, { limitBytes: 500, resumeBytes: 250, stallTimeoutMs: 1_000, minBytesPerStall: 250, tickMs: 10, yieldEveryBytes: 1_000 }, { onPeerNotReading() {} });
  socket.on('data', () => {});
  gate.afterRead(600);
  assert.equal(socket.isPaused(), false, 'below the budget: reading on');
  gate.afterRead(600);
  assert.equal(socket.isPaused(), true, 'past it: paused for the rest of this turn');
  let timerRan = false;
  setTimeout(() => (timerRan = true), 0);
  await new Promise((r) => setTimeout(r, 5));
  assert.equal(timerRan, true);
  assert.equal(socket.isPaused(), false, 'reading resumed on the next turn');
  assert.equal(gate.paused, false);

  // The gate stops reading (replies past its limit) during a yield: the yield's end leaves it stopped.
  gate.afterRead(1_000);
  assert.equal(socket.isPaused(), true);
  for (let i = 0; i < 6; i++) writer.writeReply([Buffer.alloc(100)]);
  gate.afterResponse();
  assert.equal(gate.paused, true);
  await turn();
  await turn();
  assert.equal(socket.isPaused(), true, 'still stopped by the gate');
  gate.close();
});
