// The expiry warnings (src/cert-expiry.ts) on short thresholds: each threshold once per
// certificate, in turn; a certificate already past some thresholds gets one warning, for the
// nearest; watching it again (a client that reconnects) warns no more; a renewed certificate
// (another fingerprint) is warned about afresh; a bad option is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ExpiryWarnings, PeerExpiryTimers, describeDuration, resolveExpiryWarnings } from '../../../src/cert-expiry.js';
import { MemoryLogger } from '../../helpers/nodes.js';
import { waitUntil } from '../../helpers/wait.js';

test('each threshold warns once, in turn, and a re-watched certificate is not warned about again', async () => {
  const log = new MemoryLogger();
  const warnings = new ExpiryWarnings([600, 400, 200], log);
  const notAfterMs = Date.now() + 700;
  warnings.watch({ id: 'fp1', what: "the certificate of client 'a'", notAfterMs });
  assert.equal(log.lines.length, 0);
  await waitUntil(() => log.lines.length === 3, 2_000, 'three warnings');
  assert.ok(Date.now() < notAfterMs, 'all before notAfter');
  assert.deepEqual(log.lines.map((l) => l.fields['thresholdS']), [0.6, 0.4, 0.2]);
  assert.ok(log.lines.every((l) => l.level === 'warn' && /^the certificate of client 'a' expires in \d s \(at .*\): renew it before then$/.test(l.msg)));
  warnings.unwatch('fp1');
  warnings.watch({ id: 'fp1', what: "the certificate of client 'a'", notAfterMs });
  assert.equal(log.lines.length, 3, 'a reconnect is not warned about again');
  // A renewed certificate (another fingerprint) is another certificate.
  warnings.watch({ id: 'fp2', what: "the certificate of client 'a'", notAfterMs: Date.now() + 300 });
  assert.equal(log.lines.length, 4, 'past 600 and 400 already: one warning, for 400');
  assert.equal(log.lines[3]!.fields['thresholdS'], 0.4);
  await waitUntil(() => log.lines.length === 5, 2_000, 'the 200 ms warning');
  warnings.close();
});

test('an expired certificate, or no thresholds, warns nothing; a far one arms a timer only', () => {
  const log = new MemoryLogger();
  const warnings = new ExpiryWarnings(resolveExpiryWarnings(undefined), log);
  warnings.watch({ id: 'old', what: 'x', notAfterMs: Date.now() - 1_000 });
  warnings.watch({ id: 'far', what: 'y', notAfterMs: Date.now() + 400 * 86_400_000 });
  assert.equal(log.lines.length, 0);
  warnings.watch({ id: 'soon', what: 'z', notAfterMs: Date.now() + 10 * 86_400_000 });
  assert.equal(log.lines.length, 1);
  assert.match(log.lines[0]!.msg, /^z expires in (9 days 23 h|10 days)/);
  warnings.close();
  const none = new ExpiryWarnings(resolveExpiryWarnings([]), log);
  none.watch({ id: 'soon2', what: 'z', notAfterMs: Date.now() + 1_000 });
  assert.equal(log.lines.length, 1);
});

test('the thresholds option is checked', () => {
  assert.deepEqual(resolveExpiryWarnings(undefined), [30 * 86_400_000, 7 * 86_400_000, 86_400_000]);
  assert.deepEqual(resolveExpiryWarnings([1_000, 5_000, 1_000]), [5_000, 1_000]);
  for (const bad of [[0], [-1], [Number.NaN], ['1' as unknown as number]]) {
    assert.throws(() => resolveExpiryWarnings(bad), { code: 'invalid_option' });
  }
});

test('a peer expiry timer fires once at notAfter + 1 s, and not after untrack', async () => {
  const timers = new PeerExpiryTimers<object>();
  const a = {};
  const b = {};
  const fired: object[] = [];
  const start = Date.now();
  timers.track(a, start - 900, () => fired.push(a));
  timers.track(b, start - 900, () => fired.push(b));
  timers.untrack(b);
  await waitUntil(() => fired.length === 1, 2_000, 'the timer');
  assert.ok(Date.now() - start >= 90, 'at notAfter + 1 s, not before');
  assert.deepEqual(fired, [a]);
  timers.close();
});

test('describeDuration', () => {
  assert.equal(describeDuration(42_000), '42 s');
  assert.equal(describeDuration(5 * 60_000), '5 min');
  assert.equal(describeDuration(3 * 3_600_000 + 12 * 60_000), '3 h 12 min');
  assert.equal(describeDuration(2 * 86_400_000 + 3 * 3_600_000), '2 days 3 h');
  assert.equal(describeDuration(86_400_000), '1 day');
});
