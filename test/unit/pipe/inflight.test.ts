// InflightTable: outbound events by id. Ids are never reused while live (also across the u32
// wrap, and 0 is never used); every entry settles exactly once (reply, deadline, caller's
// signal, failAll); the far side is told (onAbandon) only for deadline and signal. Deadlines run
// on mocked timers: no sleeps.
import { afterEach, beforeEach, test, mock } from 'node:test';
import assert from 'node:assert/strict';

import { hasErrorCode } from '../../../src/errors.js';
import type { Reply } from '../../../src/event.js';
import { InflightTable, type PendingEvent } from '../../../src/pipe/inflight.js';

const REPLY: Reply = { code: 0, mimetype: 'text/plain', data: Buffer.from('ok') };

beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout'] });
});
afterEach(() => {
  mock.timers.reset();
});

/** A table whose abandoned entries are recorded. */
function table(firstId?: number): { t: InflightTable; abandoned: PendingEvent[] } {
  const abandoned: PendingEvent[] = [];
  const t = new InflightTable((e) => abandoned.push(e), firstId);
  return { t, abandoned };
}

/** Adds an entry whose rejection is handled (the tests look at outcomes through outcome()). */
function add(t: InflightTable, timeoutMs: number, signal?: AbortSignal): PendingEvent {
  const e = t.add(timeoutMs, signal);
  e.promise.catch(() => {});
  return e;
}

/** How an entry's promise settled, without leaving a rejection unhandled. */
function outcome(e: PendingEvent): { settled: boolean; value?: Reply; error?: unknown } {
  const o: { settled: boolean; value?: Reply; error?: unknown } = { settled: false };
  e.promise.then(
    (v) => Object.assign(o, { settled: true, value: v }),
    (err: unknown) => Object.assign(o, { settled: true, error: err }),
  );
  return o;
}
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('ids start at 1, increase, and are unique among live entries', () => {
  const { t } = table();
  const ids = Array.from({ length: 1000 }, () => add(t, 60_000).id);
  assert.deepEqual(ids, Array.from({ length: 1000 }, (_, i) => i + 1));
  assert.equal(t.size, 1000);
  assert.equal(new Set(ids).size, ids.length);
  t.failAll(new Error('cleanup'));
});

// (Skipping an id that is still live when the counter comes round needs 2^32 allocations in
// between; the branch is one Map lookup in #allocateId.)
test('the counter wraps from 2^32-1 to 1, skipping 0; ids already handed out are not reused', async () => {
  const { t } = table(0xffff_fffe);
  const a = add(t, 60_000);
  const b = add(t, 60_000);
  assert.equal(a.id, 0xffff_fffe);
  assert.equal(b.id, 0xffff_ffff);
  const c = add(t, 60_000);
  assert.equal(c.id, 1, 'wraps to 1: id 0 is never used');

  // An id freed early is not handed out again until the counter comes round.
  t.fail(b.id, new Error('freed'));
  assert.equal(add(t, 60_000).id, 2);
  assert.equal(add(t, 60_000).id, 3);
  t.failAll(new Error('cleanup'));
});

test('firstId is validated', () => {
  for (const bad of [0, -1, 1.5, 2 ** 32, Number.NaN]) {
    assert.throws(() => new InflightTable(() => {}, bad), RangeError);
  }
});

test('a reply settles its entry once; a second reply for the id is counted as late', async () => {
  const { t, abandoned } = table();
  const e = add(t, 1_000);
  const o = outcome(e);
  assert.equal(t.settle(e.id, REPLY), true);
  assert.equal(t.settle(e.id, REPLY), false, 'no second settle');
  assert.equal(t.lateReplies, 1);
  assert.equal(t.size, 0);
  assert.equal(e.settled, true);
  await flush();
  assert.equal(o.value, REPLY);
  // Its deadline was cleared: advancing past it changes nothing.
  mock.timers.tick(5_000);
  await flush();
  assert.equal(abandoned.length, 0);
  assert.equal(t.settle(12345, REPLY), false, 'an unknown id is a late reply too');
  assert.equal(t.lateReplies, 2);
});

test('a deadline rejects with event_timeout, removes the entry and tells the far side', async () => {
  const { t, abandoned } = table();
  const e = add(t, 1_000);
  const other = add(t, 3_000);
  const o = outcome(e);
  const o2 = outcome(other);
  mock.timers.tick(999);
  await flush();
  assert.equal(o.settled, false, 'not before its deadline');
  mock.timers.tick(1);
  await flush();
  assert.ok(hasErrorCode(o.error, 'event_timeout'), String(o.error));
  assert.match((o.error as Error).message, /no reply within 1 s/);
  assert.deepEqual(abandoned.map((a) => a.id), [e.id], 'onAbandon: the far side gets a cancel');
  assert.equal(t.size, 1);
  assert.equal(o2.settled, false, 'the other event keeps its own deadline');
  // A reply after the deadline is late, not a second settle.
  assert.equal(t.settle(e.id, REPLY), false);
  assert.equal(t.lateReplies, 1);
  mock.timers.tick(2_000);
  await flush();
  assert.ok(hasErrorCode(o2.error, 'event_timeout'));
  assert.equal(t.size, 0);
});

test('the caller\'s signal rejects with aborted (reason as cause), tells the far side, and its listener is removed', async () => {
  const { t, abandoned } = table();
  const ac = new AbortController();
  const e = add(t, 10_000, ac.signal);
  const o = outcome(e);
  const why = new Error('gave up');
  ac.abort(why);
  await flush();
  assert.ok(hasErrorCode(o.error, 'aborted'));
  assert.equal((o.error as Error).cause, why);
  assert.deepEqual(abandoned.map((a) => a.id), [e.id]);
  assert.equal(t.size, 0);
  mock.timers.tick(20_000);
  await flush();
  assert.equal(abandoned.length, 1, 'its deadline was cleared with it');

  // Settling by reply removes the abort listener: a later abort does nothing.
  const ac2 = new AbortController();
  const e2 = add(t, 10_000, ac2.signal);
  const o2 = outcome(e2);
  t.settle(e2.id, REPLY);
  ac2.abort();
  await flush();
  assert.equal(o2.value, REPLY);
  assert.equal(abandoned.length, 1);
});

test('one signal shared by many events aborts them all, each once', async () => {
  const { t, abandoned } = table();
  const ac = new AbortController();
  const entries = Array.from({ length: 10 }, () => add(t, 10_000, ac.signal));
  const outcomes = entries.map(outcome);
  t.settle(entries[3]!.id, REPLY);
  ac.abort();
  await flush();
  outcomes.forEach((o, i) => (i === 3 ? assert.equal(o.value, REPLY) : assert.ok(hasErrorCode(o.error, 'aborted'))));
  assert.equal(abandoned.length, 9);
  assert.equal(t.size, 0);
});

test('failAll rejects every entry with the given error, without telling the far side; deadlines are cleared', async () => {
  const { t, abandoned } = table();
  const ac = new AbortController();
  const entries = [add(t, 1_000), add(t, 2_000, ac.signal), add(t, 3_000)];
  const outcomes = entries.map(outcome);
  const broken = new Error('pipe broke');
  t.failAll(broken);
  await flush();
  for (const o of outcomes) assert.equal(o.error, broken);
  assert.equal(t.size, 0);
  assert.ok(entries.every((e) => e.settled));
  mock.timers.tick(10_000);
  ac.abort();
  await flush();
  assert.equal(abandoned.length, 0, 'no cancel for a pipe that is gone');
  t.failAll(new Error('again')); // empty: a no-op
});

test('fail() rejects one entry without telling the far side; abandon() of a settled id is a no-op', async () => {
  const { t, abandoned } = table();
  const e = add(t, 1_000);
  const o = outcome(e);
  t.fail(e.id, new Error('never sent'));
  t.abandon(e.id, new Error('too late'));
  await flush();
  assert.equal((o.error as Error).message, 'never sent');
  assert.equal(abandoned.length, 0);
});
