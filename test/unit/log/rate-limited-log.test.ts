// RateLimitedLog (src/log.ts): a burst per key per window, then silence; the suppressed count is
// reported once, by the window-end callback when there is one (a storm that stops still leaves
// its size in the log), else on the key's next line; close() reports what is pending and leaves
// no timer.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { RateLimitedLog } from '../../../src/log.js';
import { waitUntil } from '../../helpers/wait.js';

test('passes the burst, suppresses the rest, and reports the count when the window ends', async () => {
  const summaries: [string, number][] = [];
  const log = new RateLimitedLog(100, 3, (key, n) => summaries.push([key, n]));
  const written: string[] = [];
  for (let i = 0; i < 50; i++) log.log('a', () => written.push('a'));
  for (let i = 0; i < 2; i++) log.log('b', () => written.push('b'));
  assert.deepEqual(written, ['a', 'a', 'a', 'b', 'b']);
  await waitUntil(() => summaries.length > 0, 2_000, 'the window-end summary');
  assert.deepEqual(summaries, [['a', 47]], 'one summary, for the key that suppressed lines');
  // The next window starts clean and does not repeat the count.
  const extras: object[] = [];
  log.log('a', (extra) => extras.push(extra));
  assert.deepEqual(extras, [{}]);
  log.close();
});

test('close() reports pending counts at once and clears the timers', () => {
  const summaries: [string, number][] = [];
  const log = new RateLimitedLog(60_000, 1, (key, n) => summaries.push([key, n]));
  for (let i = 0; i < 10; i++) log.log('k', () => {});
  assert.deepEqual(summaries, []);
  log.close();
  assert.deepEqual(summaries, [['k', 9]]);
  log.close();
  assert.deepEqual(summaries, [['k', 9]], 'not twice');
});

test('without a callback, the count rides on the next line after the window', async () => {
  const log = new RateLimitedLog(50, 1);
  const extras: object[] = [];
  for (let i = 0; i < 5; i++) log.log('k', (extra) => extras.push(extra));
  const t0 = Date.now();
  await waitUntil(() => Date.now() - t0 > 60, 1_000, 'the window to pass');
  log.log('k', (extra) => extras.push(extra));
  assert.deepEqual(extras, [{}, { suppressed: 4 }]);
});
