// WallClockSchedule (src/cert-expiry.ts): many instants on one timer. Each entry runs once at
// its instant, in time order; deleting the entry the timer is armed for moves nothing else; an
// entry set from a callback (the next warning) runs too; an earlier entry re-arms the timer;
// clear and delete-to-empty leave no timer behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { WallClockSchedule } from '../../../src/cert-expiry.js';
import { trackLibraryTimers, waitUntil } from '../../helpers/wait.js';

// The schedule's timer is unref'd: only this tracker sees it.
const timers = trackLibraryTimers();
const activeTimeouts = (): number => timers.count();

test('entries run once each, in time order, on one timer; a deleted one never runs', async () => {
  const ran: Array<[string, number]> = [];
  const schedule = new WallClockSchedule<string, number>((key, value) => ran.push([key, value]));
  const before = activeTimeouts();
  const t0 = Date.now();
  schedule.set('c', t0 + 120, 3);
  schedule.set('a', t0 + 40, 1); // earlier: re-arms
  schedule.set('b', t0 + 80, 2);
  schedule.set('gone', t0 + 20, 0); // the one armed for, then deleted
  schedule.delete('gone');
  assert.equal(activeTimeouts() - before, 1, 'one timer for all entries');
  await waitUntil(() => ran.length === 3, 2_000, 'all three entries');
  assert.deepEqual(ran, [['a', 1], ['b', 2], ['c', 3]]);
  assert.ok(Date.now() - t0 >= 120, 'not before the last instant');
  assert.equal(schedule.size, 0);
  assert.equal(activeTimeouts() - before, 0, 'no timer left once all ran');
});

test('an entry set from a callback runs; setting a key again replaces it; clear leaves no timer', async () => {
  const ran: string[] = [];
  const schedule: WallClockSchedule<string, string> = new WallClockSchedule<string, string>((key, value) => {
    ran.push(value);
    if (value === 'first') schedule.set(key, Date.now() + 30, 'second');
  });
  const before = activeTimeouts();
  schedule.set('k', Date.now() + 10_000, 'replaced');
  schedule.set('k', Date.now() + 20, 'first');
  await waitUntil(() => ran.length === 2, 2_000, 'the entry set from the callback');
  assert.deepEqual(ran, ['first', 'second']);
  schedule.set('x', Date.now() + 60_000, 'never');
  schedule.set('y', Date.now() + 90_000, 'never');
  assert.equal(activeTimeouts() - before, 1);
  schedule.clear();
  assert.equal(activeTimeouts() - before, 0);
  schedule.set('z', Date.now() + 60_000, 'never');
  schedule.delete('z');
  assert.equal(activeTimeouts() - before, 0, 'deleting the last entry clears the timer');
});
