// ConnectWaiters (src/pipe/connect-wait.ts), the connect-wait of both the client and the server's
// registry: each waiter settles exactly once (pipe, timeout, abort, failAll) and leaves no timer
// or listener behind. Timers are mocked: time passes only when the test says so.
import { afterEach, beforeEach, test, mock } from 'node:test';
import assert from 'node:assert/strict';

import { ConnectWaiters } from '../../../src/pipe/connect-wait.js';

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

test('resolve, timeout and abort each settle their own waiters', async () => {
  const waiters = new ConnectWaiters<string>();
  const controller = new AbortController();
  const a = waiters.wait('a', 60_000, controller.signal, () => new Error('timeout a'));
  const b = waiters.wait('b', 60_000, undefined, () => new Error('timeout b'));
  const c = waiters.wait('a', 1_000, undefined, () => new Error('timeout c'));
  assert.equal(waiters.size, 3);
  mock.timers.tick(1_000);
  await assert.rejects(c, /timeout c/);
  assert.equal(waiters.size, 2);
  waiters.resolve('b', 'pipe-b');
  assert.equal(await b, 'pipe-b');
  controller.abort(new Error('gone'));
  await assert.rejects(a, { code: 'aborted' });
  assert.equal(waiters.size, 0);
  mock.timers.tick(60_000); // nothing left to fire
});

test('no wait: a timeout of 0 and an aborted signal reject at once', async () => {
  const waiters = new ConnectWaiters<string>();
  await assert.rejects(waiters.wait('x', 0, undefined, () => new Error('no wait')), /no wait/);
  await assert.rejects(waiters.wait('x', 10, AbortSignal.abort(), () => new Error('never')), { code: 'aborted' });
  assert.equal(waiters.size, 0);
});

test('failAll fails every key; a later resolve finds nobody', async () => {
  const waiters = new ConnectWaiters<string>();
  const all = [waiters.wait('a', 5_000, undefined, () => new Error('t')), waiters.wait('b', 5_000, undefined, () => new Error('t'))];
  waiters.failAll(new Error('closing'));
  for (const p of all) await assert.rejects(p, /closing/);
  waiters.resolve('a', 'late');
  assert.equal(waiters.size, 0);
});
