// Heartbeat through a fake port, on a fake clock (setInterval and performance.now moved together
// one millisecond at a time): it sends a heartbeat at start and every interval, with random ids,
// declares the peer dead after the timeout without a sign of life (once, then stops), replies
// give the RTT, and a stalled process (SIGSTOP, a long GC) is not mistaken for a silent peer.
// What counts as life (issue 8): an answer to one of our heartbeats, progress on a body, or any
// data while this node is busy sending (the fake port says it is, unless a test says otherwise);
// never data alone from a peer that answers nothing; and nothing is judged while we hold the
// peer's reading paused.
import { afterEach, beforeEach, test, mock } from 'node:test';
import assert from 'node:assert/strict';

import { Heartbeat, type HeartbeatPort } from '../../../src/pipe/heartbeat.js';

// A fake clock: performance.now() and setInterval/clearInterval, moved one millisecond at a time.
// (node:test's MockTimers in Node 20 re-arms an interval that clears itself from its own
// callback, which is exactly what Heartbeat does when it declares the peer dead.)
let now = 0;
interface FakeInterval {
  at: number;
  every: number;
  fn: (...args: unknown[]) => void;
  args: unknown[];
  unref(): FakeInterval;
  ref(): FakeInterval;
}
const intervals = new Set<FakeInterval>();

beforeEach(() => {
  now = 1_000; // not 0, so that "never" and "at the start" differ
  intervals.clear();
  mock.method(performance, 'now', () => now);
  mock.method(globalThis, 'setInterval', (fn: (...args: unknown[]) => void, every: number, ...args: unknown[]) => {
    const t: FakeInterval = { at: now + every, every, fn, args, unref: () => t, ref: () => t };
    intervals.add(t);
    return t;
  });
  mock.method(globalThis, 'clearInterval', (t: FakeInterval | undefined) => {
    if (t !== undefined) intervals.delete(t);
  });
});
afterEach(() => {
  mock.restoreAll();
});

/** Moves the fake clock forward `ms` milliseconds, firing due intervals, then calls `each`. */
function advance(ms: number, each?: (t: number) => void): void {
  for (let i = 0; i < ms; i++) {
    now += 1;
    for (const t of [...intervals]) {
      if (intervals.has(t) && t.at <= now) {
        // As Node does, the next run is one interval after this one ran (no catch-up burst).
        t.at = now + t.every;
        t.fn(...t.args);
      }
    }
    each?.(now);
  }
}

interface FakePort extends HeartbeatPort {
  sent: { id: number; at: number }[];
  dead: { silentMs: number; at: number; keptSending: boolean }[];
  /** What busySending() answers; true by default, so that markSeen() alone is life. */
  busy: boolean;
  paused: boolean;
}
function fakePort(): FakePort {
  const port: FakePort = {
    sent: [],
    dead: [],
    busy: true,
    paused: false,
    sendHeartbeat(id) {
      port.sent.push({ id, at: now });
    },
    onPeerSilent(silentMs, keptSending) {
      port.dead.push({ silentMs, at: now, keptSending });
    },
    busySending: () => port.busy,
    readPaused: () => port.paused,
  };
  return port;
}

test('sends one heartbeat at start and then one per interval, with random ids', () => {
  const port = fakePort();
  const hb = new Heartbeat(200, 800, port); // ticks every 200 ms (min(interval, timeout / 4))
  const t0 = now;
  hb.start();
  advance(1_000, () => hb.markSeen());
  assert.deepEqual(port.sent.map((s) => s.at - t0), [0, 200, 400, 600, 800, 1_000]);
  const ids = port.sent.map((s) => s.id);
  assert.equal(new Set(ids).size, ids.length, `distinct: ${ids.join(', ')}`);
  assert.ok(ids.every((id) => Number.isInteger(id) && id >= 1 && id <= 0xffff_ffff), 'u32, never 0');
  assert.notDeepEqual(ids, [1, 2, 3, 4, 5, 6], 'not guessable by a peer that does not read');
  hb.stop();
});

test('with a timeout under 4 intervals it checks more often than it sends', () => {
  const port = fakePort();
  const hb = new Heartbeat(200, 400, port); // tick = 100 ms, send every 200 ms
  const t0 = now;
  hb.start();
  advance(1_000, (t) => {
    if ((t - t0) % 50 === 0) hb.markSeen();
  });
  assert.deepEqual(port.sent.map((s) => s.at - t0), [0, 200, 400, 600, 800, 1_000]);
  assert.equal(port.dead.length, 0);
  hb.stop();
});

test('declares the peer dead once the silence reaches the timeout, exactly once, then stops', () => {
  const port = fakePort();
  const hb = new Heartbeat(100, 400, port);
  const t0 = now;
  hb.start();
  advance(399);
  assert.equal(port.dead.length, 0, 'not before the timeout');
  advance(1);
  assert.deepEqual(port.dead, [{ silentMs: 400, at: t0 + 400, keptSending: false }]);
  const sentAtDeath = port.sent.length;
  advance(2_000);
  assert.equal(port.dead.length, 1, 'declared once');
  assert.equal(port.sent.length, sentAtDeath, 'no heartbeats after death: the timer stopped');
});

test('any inbound data keeps it alive; silence after the last data is dead within timeout + one tick', () => {
  const port = fakePort();
  const hb = new Heartbeat(100, 400, port); // tick 100
  hb.start();
  // Data every 350 ms (less often than the heartbeat interval, never a reply) for 3 s.
  let lastData = now;
  advance(3_000, (t) => {
    if ((t - 1_000) % 350 === 0) {
      hb.markSeen();
      lastData = t;
    }
  });
  assert.equal(port.dead.length, 0, 'alive while data flows, whatever it is');
  advance(1_000);
  assert.equal(port.dead.length, 1);
  const detectedAfter = port.dead[0]!.at - lastData;
  assert.ok(detectedAfter >= 400 && detectedAfter <= 400 + 100, `dead ${detectedAfter} ms after the last data`);
});

test('ticks that run a little short (libuv\'s millisecond clock) still declare death on the last silent tick', () => {
  const port = fakePort();
  const hb = new Heartbeat(100, 400, port);
  hb.start();
  // Drive the ticks by hand: each one 99.6 ms after the previous by performance.now().
  for (let i = 1; i <= 3; i++) {
    now += 99.6;
    hb.check();
  }
  assert.equal(port.dead.length, 0);
  now += 99.6;
  hb.check();
  assert.equal(port.dead.length, 1, 'the 4th silent tick of a 400 ms timeout is the last: not one tick later');
  assert.ok(Math.abs(port.dead[0]!.silentMs - 398.4) < 0.001);
  hb.stop();
});

test('a tick that comes late counts the time it missed', () => {
  const port = fakePort();
  const hb = new Heartbeat(100, 400, port);
  hb.start();
  now += 100;
  hb.check();
  now += 250; // a late tick, not late enough to count as a stall (> tick + timeout / 2)
  hb.check();
  assert.equal(port.dead.length, 0);
  now += 100; // 2 more silent ticks would be needed by count; the clock says 450 ms
  hb.check();
  assert.equal(port.dead.length, 1);
  hb.stop();
});

test('replies give the round-trip time of the outstanding heartbeat and count towards health', () => {
  const port = fakePort();
  const hb = new Heartbeat(100, 400, port);
  hb.start();
  assert.equal(hb.rttMs, undefined);
  assert.equal(hb.replies, 0);
  advance(7);
  hb.markSeen();
  assert.equal(hb.onReply(port.sent[0]!.id), true);
  assert.equal(hb.rttMs, 7);
  assert.equal(hb.replies, 1);
  assert.equal(hb.onReply(port.sent[0]!.id + 1), false, 'an id we never sent is refused (the session calls it a protocol error)');
  assert.equal(hb.onReply(0), false);
  assert.equal(hb.replies, 1);
  assert.equal(hb.rttMs, 7);
  advance(93, () => hb.markSeen()); // the next heartbeat goes out at +100
  advance(20, () => hb.markSeen());
  assert.equal(hb.onReply(port.sent[1]!.id), true);
  assert.equal(hb.rttMs, 20);
  assert.equal(hb.onReply(port.sent[0]!.id), true, 'a late answer to an earlier heartbeat still counts');
  assert.equal(hb.replies, 3);
  hb.stop();
});

test('answers count for exactly the last 256 heartbeats; an id with any bit changed, or another pipe\'s, is refused', () => {
  const port = fakePort();
  const hb = new Heartbeat(10, 40_000, port);
  hb.start();
  advance(2_990, () => hb.markSeen()); // 300 heartbeats: at 0, 10, …, 2,990
  assert.equal(port.sent.length, 300);
  const ids = port.sent.map((s) => s.id);
  assert.equal(new Set(ids).size, ids.length, 'distinct');
  for (const [i, id] of ids.entries()) {
    assert.equal(hb.onReply(id), i >= 300 - 256, `heartbeat ${i} of 300: ${i >= 44 ? 'one of the last 256' : 'older than the last 256'}`);
  }
  const recent = ids.slice(-256);
  for (const bit of [0, 7, 8, 15, 23, 31]) {
    for (const id of recent.slice(0, 16)) assert.equal(hb.onReply((id ^ (1 << bit)) >>> 0), false, `id ${id} with bit ${bit} flipped`);
  }
  // Another pipe's ids (its own nonce) are not ours, though it counts the same way.
  const otherPort = fakePort();
  const other = new Heartbeat(10, 40_000, otherPort);
  other.start();
  advance(20, () => other.markSeen());
  const theirs = otherPort.sent.map((s) => s.id);
  assert.equal(theirs.length, 3);
  assert.notDeepEqual(theirs, ids.slice(0, 3), 'each pipe has its own ids');
  // A made-up id passes with odds of 256 in 2^32 (RECENT_IDS), as before: three fail all but surely.
  assert.ok(!theirs.some((id) => hb.onReply(id)), 'another pipe\'s ids are not answers to ours');
  other.stop();
  hb.stop();
});

test('a peer that keeps sending but answers none of our heartbeats is dead two timeouts after its last answer (when we are not busy sending)', () => {
  const port = fakePort();
  port.busy = false;
  const hb = new Heartbeat(100, 400, port);
  const t0 = now;
  hb.start();
  advance(3_000, () => hb.markSeen()); // data every millisecond, never an answer
  assert.equal(port.dead.length, 1);
  // Its data counts for a timeout after the start (an answer lags by the round trip): the last
  // tick where it did is +300; dead a timeout after that.
  assert.equal(port.dead[0]!.at - t0, 700);
  assert.equal(port.dead[0]!.keptSending, true, 'the reason can say it kept sending');

  // With answers until +1000 and only data after, dead 2 timeouts after the last answer.
  const port2 = fakePort();
  port2.busy = false;
  const hb2 = new Heartbeat(100, 400, port2);
  const t1 = now;
  hb2.start();
  advance(1_000, () => {
    hb2.markSeen();
    const last = port2.sent.at(-1)!;
    if (now - last.at === 30) hb2.onReply(last.id);
  });
  const lastAnswer = Math.max(...port2.sent.map((s) => s.at)) + 30 - t1;
  advance(2_000, () => hb2.markSeen());
  assert.equal(port2.dead.length, 1);
  const at = port2.dead[0]!.at - t1;
  assert.ok(at - lastAnswer >= 800 - 200 && at - lastAnswer <= 800 + 100, `dead ${at - lastAnswer} ms after the last answer (two timeouts, to the tick)`);
});

test('a round trip as long as the timeout is not silence: the peer\'s own data bridges the lag of its answers', () => {
  const port = fakePort();
  port.busy = false;
  const hb = new Heartbeat(100, 400, port);
  hb.start();
  // Each heartbeat is answered 400 ms after it left; the peer's own heartbeats arrive every 100 ms.
  advance(5_000, (t) => {
    if (t % 100 === 50) hb.markSeen();
    for (const s of port.sent) if (now - s.at === 400) hb.onReply(s.id);
  });
  assert.equal(port.dead.length, 0);
});

test('answers to our heartbeats, or progress on a body, keep it alive without anything else', () => {
  const port = fakePort();
  port.busy = false;
  const hb = new Heartbeat(100, 400, port);
  hb.start();
  // Answers, each 30 ms after its heartbeat.
  advance(1_000, () => {
    const last = port.sent.at(-1)!;
    if (now - last.at === 30) hb.onReply(last.id);
  });
  assert.equal(port.dead.length, 0);
  // No answers any more, but a large body arrives piece by piece (its answer waits behind it).
  advance(1_000, (t) => {
    if (t % 150 === 0) hb.markProgress();
  });
  assert.equal(port.dead.length, 0);
  const lastProgress = now - (now % 150);
  advance(1_000);
  assert.equal(port.dead.length, 1);
  assert.ok(port.dead[0]!.at - lastProgress <= 400 + 100, 'dead within timeout + one tick of the last progress');
  assert.equal(port.dead[0]!.keptSending, false);
});

test('busy sending excuses a missing answer for one timeout after the sending stops', () => {
  const port = fakePort();
  port.busy = true;
  const hb = new Heartbeat(100, 400, port);
  hb.start();
  advance(1_000, () => hb.markSeen());
  assert.equal(port.dead.length, 0, 'busy: the peer\'s data is enough (our heartbeat may wait behind our data)');
  const busyEnded = now;
  port.busy = false;
  advance(2_000, () => hb.markSeen());
  assert.equal(port.dead.length, 1);
  const at = port.dead[0]!.at - busyEnded;
  assert.ok(at >= 400 && at <= 800 + 100, `dead ${at} ms after the sending stopped: one timeout of excuse, then one timeout`);
});

test('while the peer\'s reading is paused by us, its silence is not judged', () => {
  const port = fakePort();
  port.busy = false;
  port.paused = true;
  const hb = new Heartbeat(100, 400, port);
  hb.start();
  advance(3_000);
  assert.equal(port.dead.length, 0);
  port.paused = false;
  const resumed = now;
  advance(1_000);
  assert.equal(port.dead.length, 1);
  assert.ok(port.dead[0]!.at - resumed <= 400 + 100);
});

test('a stalled process (a tick far behind schedule) is not taken for a silent peer', () => {
  const port = fakePort();
  const hb = new Heartbeat(100, 400, port);
  hb.start();
  advance(300); // 300 ms of silence: not dead yet
  assert.equal(port.dead.length, 0);
  // The process is frozen for 5 s (SIGSTOP): the clock jumps, then the next tick runs.
  now += 5_000;
  advance(1); // the late tick runs at once
  const resumedAt = now;
  assert.equal(port.dead.length, 0, 'the stalled tick cannot judge the peer: bytes may be waiting unread');
  // Real silence after the stall still counts: dead one timeout after that tick.
  advance(399);
  assert.equal(port.dead.length, 0);
  advance(1);
  assert.equal(port.dead.length, 1);
  assert.equal(port.dead[0]!.at - resumedAt, 400);
});

test('stop() clears the timer; start() again restarts cleanly with a single timer', () => {
  const port = fakePort();
  const hb = new Heartbeat(100, 400, port);
  hb.start();
  advance(150, () => hb.markSeen());
  hb.stop();
  const sent = port.sent.length;
  advance(1_000);
  assert.equal(port.sent.length, sent, 'nothing after stop()');
  assert.equal(port.dead.length, 0, 'a stopped heartbeat never declares death');

  hb.start();
  hb.start(); // twice: still one timer
  const t0 = now;
  advance(500, () => hb.markSeen());
  const after = port.sent.filter((s) => s.at >= t0).map((s) => s.at - t0);
  assert.deepEqual(after, [0, 0, 100, 200, 300, 400, 500], 'one send per start(), then one per interval');
  hb.stop();
});

test('its timer does not keep the process alive (unref)', () => {
  mock.restoreAll(); // real timers for this one
  const hb = new Heartbeat(1_000, 4_000, { sendHeartbeat() {}, onPeerSilent() {}, busySending: () => false, readPaused: () => false });
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  hb.start();
  const during = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
  hb.stop();
  assert.equal(during, before);
});

test('late ticks while the peer floods us with data that is no sign of life do not excuse it forever', () => {
  const port = fakePort();
  port.busy = false;
  const hb = new Heartbeat(100, 400, port);
  const t0 = now;
  hb.start();
  // Our loop is saturated by the flood: every tick comes 300 ms late (> tick + timeout / 2).
  for (let i = 0; i < 20 && port.dead.length === 0; i++) {
    for (let ms = 0; ms < 400; ms++) {
      now += 1;
      hb.markSeen();
    }
    hb.check();
  }
  assert.equal(port.dead.length, 1, 'dead although every tick was late');
  assert.equal(port.dead[0]!.keptSending, true);
  assert.ok(port.dead[0]!.at - t0 <= 8 * 400, `after ${port.dead[0]!.at - t0} ms`);
});
