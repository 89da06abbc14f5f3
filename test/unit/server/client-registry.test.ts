// ClientRegistry: one pipe per CN, newest replaces the old one, compare-and-delete removal so
// that a late close of a replaced pipe cannot evict its successor, lookup by address, and
// connect-wait waiters that resolve, time out or abort and never linger. Waits use mocked timers.
import { afterEach, beforeEach, test, mock } from 'node:test';
import assert from 'node:assert/strict';

import { hasErrorCode } from '../../../src/errors.js';
import { ClientRegistry, type RegisteredPipe } from '../../../src/server/client-registry.js';

interface FakePipe extends RegisteredPipe {
  tag: string;
  isUsable: boolean;
}
const pipe = (name: string, address = '127.0.0.1', tag = name, isUsable = true): FakePipe => ({ peer: { name, address }, tag, isUsable });

beforeEach(() => {
  mock.timers.enable({ apis: ['setTimeout'] });
});
afterEach(() => {
  mock.timers.reset();
});

function outcome<T>(p: Promise<T>): { settled: boolean; value?: T; error?: unknown } {
  const o: { settled: boolean; value?: T; error?: unknown } = { settled: false };
  p.then(
    (value) => Object.assign(o, { settled: true, value }),
    (error: unknown) => Object.assign(o, { settled: true, error }),
  );
  return o;
}
const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('add registers by name; a second pipe for the name replaces the first and returns it', () => {
  const r = new ClientRegistry<FakePipe>();
  const a1 = pipe('a', '10.0.0.1', 'a1');
  assert.equal(r.add(a1), undefined);
  assert.equal(r.add(pipe('b')), undefined);
  assert.equal(r.size, 2);
  const a2 = pipe('a', '10.0.0.2', 'a2');
  assert.equal(r.add(a2), a1, 'the replaced pipe is handed back for the caller to close');
  assert.equal(r.get('a'), a2);
  assert.equal(r.size, 2);
  assert.deepEqual(r.pipes().map((p) => p.tag).sort(), ['a2', 'b']);
});

test('removeIf is compare-and-delete: a replaced pipe closing late does not evict its successor', () => {
  const r = new ClientRegistry<FakePipe>();
  const old = pipe('a', '10.0.0.1', 'old');
  const fresh = pipe('a', '10.0.0.1', 'fresh');
  r.add(old);
  r.add(fresh);
  assert.equal(r.removeIf(old), false, 'the old pipe is no longer registered');
  assert.equal(r.get('a'), fresh);
  assert.equal(r.removeIf(fresh), true);
  assert.equal(r.get('a'), undefined);
  assert.equal(r.removeIf(fresh), false, 'twice is a no-op');
  assert.equal(r.size, 0);
});

test('findByAddress returns every pipe at that address (several clients behind one NAT)', () => {
  const r = new ClientRegistry<FakePipe>();
  r.add(pipe('a', '192.0.2.7'));
  r.add(pipe('b', '192.0.2.7'));
  r.add(pipe('c', '192.0.2.8'));
  assert.deepEqual(r.findByAddress('192.0.2.7').map((p) => p.peer.name).sort(), ['a', 'b']);
  assert.deepEqual(r.findByAddress('192.0.2.8').map((p) => p.peer.name), ['c']);
  assert.deepEqual(r.findByAddress('192.0.2.9'), []);
  r.add(pipe('a', '192.0.2.9')); // a moved
  assert.deepEqual(r.findByAddress('192.0.2.7').map((p) => p.peer.name), ['b']);
});

test('waitFor resolves at once for a usable pipe, and when the name is registered later', async () => {
  const r = new ClientRegistry<FakePipe>();
  const a = pipe('a');
  r.add(a);
  assert.equal(await r.waitFor('a', 1_000), a);
  assert.equal(r.waiterCount, 0);

  const w1 = outcome(r.waitFor('b', 1_000));
  const w2 = outcome(r.waitFor('b', 1_000));
  const other = outcome(r.waitFor('c', 1_000));
  assert.equal(r.waiterCount, 3);
  const b = pipe('b');
  r.add(b);
  await flush();
  assert.equal(w1.value, b);
  assert.equal(w2.value, b);
  assert.equal(other.settled, false, 'a waiter for another name keeps waiting');
  assert.equal(r.waiterCount, 1);
  mock.timers.tick(1_000);
  await flush();
  assert.ok(hasErrorCode(other.error, 'no_connection'));
  assert.equal(r.waiterCount, 0);
});

test('a registered pipe that is not usable (closing) is waited past', async () => {
  const r = new ClientRegistry<FakePipe>();
  r.add(pipe('a', '127.0.0.1', 'draining', false));
  const w = outcome(r.waitFor('a', 1_000));
  await flush();
  assert.equal(w.settled, false);
  const fresh = pipe('a', '127.0.0.1', 'fresh');
  r.add(fresh);
  await flush();
  assert.equal(w.value, fresh);
});

test('waitFor times out with no_connection naming the client and the wait, and leaves no waiter', async () => {
  const r = new ClientRegistry<FakePipe>();
  const w = outcome(r.waitFor('ghost', 2_500));
  mock.timers.tick(2_499);
  await flush();
  assert.equal(w.settled, false);
  mock.timers.tick(1);
  await flush();
  assert.ok(hasErrorCode(w.error, 'no_connection'));
  assert.match((w.error as Error).message, /no pipe to client 'ghost' within 2\.5 s/);
  assert.equal(r.waiterCount, 0);
  // A registration after the timeout resolves nothing (and throws nothing).
  r.add(pipe('ghost'));
});

test('a zero connect-wait fails at once', async () => {
  const r = new ClientRegistry<FakePipe>();
  await assert.rejects(r.waitFor('ghost', 0), { code: 'no_connection' });
  assert.equal(r.waiterCount, 0);
});

test('waitFor aborts with the signal (reason as cause), at once if already aborted; the listener is removed', async () => {
  const r = new ClientRegistry<FakePipe>();
  const pre = new AbortController();
  pre.abort('before');
  await assert.rejects(r.waitFor('x', 1_000, pre.signal), (err: unknown) => hasErrorCode(err, 'aborted') && (err as Error).cause === 'before');
  assert.equal(r.waiterCount, 0);

  const ac = new AbortController();
  const w = outcome(r.waitFor('x', 1_000, ac.signal));
  assert.equal(r.waiterCount, 1);
  ac.abort(new Error('gave up'));
  await flush();
  assert.ok(hasErrorCode(w.error, 'aborted'));
  assert.equal(r.waiterCount, 0);
  mock.timers.tick(5_000); // its timer was cleared: nothing happens

  // Resolved waiters drop their abort listener: a later abort changes nothing.
  const ac2 = new AbortController();
  const w2 = outcome(r.waitFor('y', 1_000, ac2.signal));
  const y = pipe('y');
  r.add(y);
  ac2.abort();
  await flush();
  assert.equal(w2.value, y);
});

test('failWaiters rejects every waiter with the given error and leaves none', async () => {
  const r = new ClientRegistry<FakePipe>();
  const ws = ['a', 'b', 'a'].map((n) => outcome(r.waitFor(n, 10_000)));
  const closing = new Error('server closing');
  r.failWaiters(closing);
  await flush();
  for (const w of ws) assert.equal(w.error, closing);
  assert.equal(r.waiterCount, 0);
  mock.timers.tick(20_000);
});
