import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ProtocolError } from '../../../src/errors.js';
import { GrowthBudget, ReceiveWindow, SendWindow } from '../../../src/stream/window.js';

const KiB = 1024;

/**
 * The peer sends all its credit in 64 KiB chunks, flagging the last one BLOCKED (it has more),
 * and the reader takes each as it comes.
 */
function fastRound(rx: ReceiveWindow, budget?: GrowthBudget): number {
  while (rx.available > 0) {
    const n = Math.min(64 * KiB, rx.available);
    rx.receive(n, 'stream', n === rx.available);
    rx.consume(n);
  }
  return rx.takeUpdate(budget);
}

describe('ReceiveWindow', () => {
  it('gives credit back once half the window was read, not before, and not per chunk', () => {
    const rx = new ReceiveWindow(256 * KiB);
    for (let i = 0; i < 4; i++) rx.receive(64 * KiB);
    assert.equal(rx.available, 0);
    rx.consume(64 * KiB);
    assert.equal(rx.takeUpdate(), 0, 'a quarter read: wait');
    rx.consume(64 * KiB);
    assert.equal(rx.takeUpdate(), 128 * KiB, 'half read: one update for both chunks');
    assert.equal(rx.takeUpdate(), 0);
    assert.equal(rx.available, 128 * KiB);
  });

  it('credit goes back only for bytes read: a reader that stops holds the sender at the window', () => {
    const rx = new ReceiveWindow(256 * KiB);
    rx.receive(256 * KiB);
    assert.equal(rx.takeUpdate(), 0);
    assert.throws(() => rx.receive(1), ProtocolError);
    assert.equal(rx.buffered, 256 * KiB);
  });

  it('doubles when the sender says it ran out of credit while the reader kept up, up to the max', () => {
    const rx = new ReceiveWindow(256 * KiB, 1024 * KiB);
    // Fast reader: every chunk read as it arrives; the last one says the sender has more.
    for (let i = 0; i < 4; i++) {
      rx.receive(64 * KiB, 'stream', i === 3);
      rx.consume(64 * KiB);
    }
    assert.equal(rx.available, 0);
    const inc = rx.takeUpdate();
    assert.equal(inc, 256 * KiB + 256 * KiB, 'the read bytes plus the growth');
    assert.equal(rx.window, 512 * KiB);
    for (let round = 0; round < 3; round++) fastRound(rx);
    assert.equal(rx.window, 1024 * KiB, 'never past the max');
  });

  it('a slow reader never makes the window grow', () => {
    let now = 0;
    const rx = new ReceiveWindow(256 * KiB, 16 * 1024 * KiB, { now: () => now });
    for (let round = 0; round < 10; round++) {
      rx.receive(rx.available, 'stream', true);
      // Reads only half of what is there before the update is due, and takes its time.
      now += 100;
      rx.consume(rx.buffered / 2);
      rx.takeUpdate();
      now += 100;
      rx.consume(rx.buffered);
      rx.takeUpdate();
    }
    assert.equal(rx.window, 256 * KiB);
  });

  it('a reader that drains a burst soon after the sender stalled makes the window grow', () => {
    let now = 0;
    const rx = new ReceiveWindow(256 * KiB, 16 * 1024 * KiB, { now: () => now });
    // The whole window arrives in one burst, flagged BLOCKED, before the reader has had a turn.
    rx.receive(rx.available, 'stream', true);
    now += 5;
    rx.consume(rx.buffered);
    assert.equal(rx.takeUpdate(), 512 * KiB, 'the read bytes plus the growth');
    assert.equal(rx.window, 512 * KiB);
  });

  it('with the RTT known, grows only while half the window is read within two round trips', () => {
    let now = 0;
    // A 50 ms path (a WAN): a reader taking 10 ms per half window is far ahead of the link.
    const wan = new ReceiveWindow(256 * KiB, 16 * 1024 * KiB, { now: () => now, rttMs: () => 50 });
    for (let round = 0; round < 4; round++) {
      now += 10;
      fastRound(wan);
    }
    assert.equal(wan.window, 4096 * KiB, 'doubled at every update');
    // Loopback (0.1 ms, taken as the 0.25 ms floor): the first half window read in 0.4 ms grows
    // it, the next (twice as big, read at the same rate) takes 0.8 ms, not within 0.5: it stays.
    const lo = new ReceiveWindow(256 * KiB, 16 * 1024 * KiB, { now: () => now, rttMs: () => 0.1 });
    now += 0.4;
    fastRound(lo);
    assert.equal(lo.window, 512 * KiB);
    for (let round = 0; round < 5; round++) {
      now += 0.4 * (lo.window / (256 * KiB));
      fastRound(lo);
    }
    assert.equal(lo.window, 512 * KiB, 'a window the path already fills does not grow');
  });

  it('without an RTT, growth needs only the starved sender (as before the first heartbeat)', () => {
    let now = 0;
    const rx = new ReceiveWindow(256 * KiB, 1024 * KiB, { now: () => now, rttMs: () => undefined });
    now += 1000;
    fastRound(rx);
    assert.equal(rx.window, 512 * KiB);
  });

  it('does not grow for a sender that never says it is blocked', () => {
    const rx = new ReceiveWindow(256 * KiB, 16 * 1024 * KiB);
    for (let round = 0; round < 10; round++) {
      while (rx.available > 0) {
        const n = Math.min(64 * KiB, rx.available);
        rx.receive(n);
        rx.consume(n);
      }
      rx.takeUpdate();
    }
    assert.equal(rx.window, 256 * KiB);
  });

  it('grows only within the pipe budget, and gives the growth back on close', () => {
    const budget = new GrowthBudget(256 * KiB);
    const a = new ReceiveWindow(256 * KiB, 16 * 1024 * KiB);
    const b = new ReceiveWindow(256 * KiB, 16 * 1024 * KiB);
    for (const rx of [a, b]) fastRound(rx, budget);
    assert.equal(a.window, 512 * KiB);
    assert.equal(b.window, 256 * KiB, 'the budget was used up by a');
    assert.equal(a.close(budget), 0);
    assert.equal(budget.usedBytes, 0);
  });

  it('close reports what is still buffered (for the pipe window) once', () => {
    const rx = new ReceiveWindow(100);
    rx.receive(60);
    rx.consume(10);
    assert.equal(rx.close(), 50);
    assert.equal(rx.close(), 0);
    assert.equal(rx.takeUpdate(), 0);
  });

  it('refuses sizes that are not windows', () => {
    assert.throws(() => new ReceiveWindow(0), RangeError);
    assert.throws(() => new ReceiveWindow(2 ** 31), RangeError);
    assert.throws(() => new ReceiveWindow(100, 50), RangeError);
    assert.throws(() => new ReceiveWindow(Number.NaN), RangeError);
    assert.throws(() => new ReceiveWindow(10).consume(1), RangeError);
  });
});

describe('SendWindow', () => {
  it('spends and regains credit', () => {
    const tx = new SendWindow(100, 400);
    tx.spend(100);
    assert.equal(tx.credit, 0);
    assert.throws(() => tx.spend(1), RangeError);
    tx.grant(400);
    assert.equal(tx.credit, 400);
  });

  it('refuses a zero, fractional or excessive increment as the peer breaking the protocol', () => {
    const tx = new SendWindow(100, 400);
    assert.throws(() => tx.grant(0), (e: unknown) => e instanceof ProtocolError && /increment of 0/.test(e.reason));
    assert.throws(() => tx.grant(1.5), ProtocolError);
    assert.throws(() => tx.grant(301, 'pipe'), (e: unknown) => e instanceof ProtocolError && /pipe credit to 401, above its window of 400/.test(e.reason));
    assert.equal(tx.credit, 100);
  });
});
