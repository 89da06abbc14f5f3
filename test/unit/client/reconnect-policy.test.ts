// reconnectDelayMs: exponential backoff with full jitter between a floor and a cap that doubles
// per consecutive failure up to the maximum (SPEC §6). Pure: the random source is injected.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { reconnectDelayMs } from '../../../src/client/reconnect-policy.js';

const MIN = 500;
const MAX = 30_000;

test('random() = 0 gives the floor, random() = 1 the cap, 0.5 the midpoint', () => {
  for (let attempt = 1; attempt <= 10; attempt++) {
    const cap = Math.min(MAX, MIN * 2 ** attempt);
    assert.equal(reconnectDelayMs(attempt, MIN, MAX, () => 0), MIN, `attempt ${attempt}: floor`);
    assert.equal(reconnectDelayMs(attempt, MIN, MAX, () => 1), cap, `attempt ${attempt}: cap`);
    assert.equal(reconnectDelayMs(attempt, MIN, MAX, () => 0.5), Math.round((MIN + cap) / 2), `attempt ${attempt}: midpoint`);
  }
});

test('the cap doubles with each failure until it reaches the maximum, then stays there', () => {
  const caps = Array.from({ length: 12 }, (_, i) => reconnectDelayMs(i + 1, MIN, MAX, () => 1));
  assert.deepEqual(caps, [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000, 30_000, 30_000, 30_000, 30_000]);
  for (let i = 1; i < caps.length; i++) assert.ok(caps[i]! >= caps[i - 1]!, 'never shrinks');
});

test('every delay lies within [min, min(max, min·2^attempt)] whatever the random source says', () => {
  let seed = 42;
  const lcg = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let attempt = 1; attempt <= 40; attempt++) {
    for (let i = 0; i < 200; i++) {
      const d = reconnectDelayMs(attempt, MIN, MAX, lcg);
      assert.ok(Number.isInteger(d), 'whole milliseconds');
      assert.ok(d >= MIN && d <= Math.min(MAX, MIN * 2 ** attempt), `attempt ${attempt}: ${d}`);
    }
  }
});

test('jitter spreads the delays (no thundering herd): many clients at one attempt do not agree', () => {
  let seed = 7;
  const lcg = (): number => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const delays = Array.from({ length: 1_000 }, () => reconnectDelayMs(6, MIN, MAX, lcg));
  const distinct = new Set(delays).size;
  assert.ok(distinct > 900, `${distinct} distinct delays out of 1000`);
  const buckets = new Array<number>(10).fill(0);
  for (const d of delays) buckets[Math.min(9, Math.floor(((d - MIN) / (MAX - MIN)) * 10))]!++;
  assert.ok(Math.max(...buckets) < 200, `spread over the whole range: ${buckets.join(' ')}`);
});

test('attempt 0 or below counts as the first failure; huge attempts do not overflow', () => {
  assert.equal(reconnectDelayMs(0, MIN, MAX, () => 1), 1_000);
  assert.equal(reconnectDelayMs(-5, MIN, MAX, () => 1), 1_000);
  assert.equal(reconnectDelayMs(1_000_000, MIN, MAX, () => 1), MAX);
  assert.equal(reconnectDelayMs(Number.MAX_SAFE_INTEGER, MIN, MAX, () => 0.25), Math.round(MIN + 0.25 * (MAX - MIN)));
});

test('min = max gives a fixed delay; the default random source stays in bounds', () => {
  assert.equal(reconnectDelayMs(3, 2_000, 2_000, () => 0.9), 2_000);
  for (let i = 0; i < 100; i++) {
    const d = reconnectDelayMs(3, 50, 400);
    assert.ok(d >= 50 && d <= 400);
  }
});
