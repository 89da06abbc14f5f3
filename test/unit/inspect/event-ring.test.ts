import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import type { EventRecord } from '../../../src/inspect/event-record.js';
import { EventRing } from '../../../src/inspect/event-ring.js';

function record(id: number, over: Partial<EventRecord['detail']> = {}): EventRecord {
  return {
    detail: {
      id, time: id, direction: 'outbound', peer: 'p', verb: 'get', noun: 'time', status: 200, returnCode: 0, error: null, durationMs: 1,
      requestBytes: 0, replyBytes: 0, replayable: true, replayOf: null, method: 'GET', url: '/server/time', query: '',
      requestHeaders: [], responseHeaders: [], requestMimetype: '', replyMimetype: '', requestBody: null, replyBody: null, ...over,
    },
    replayBody: undefined,
  };
}

test('the ring keeps exactly the last `capacity` events, newest first, each found by id', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 200 }), (capacity, n) => {
      const ring = new EventRing(capacity);
      for (let i = 0; i < n; i++) ring.push(record(ring.nextId()));
      const ids = ring.list().map((e) => e.id);
      const kept = Math.min(n, capacity);
      assert.deepEqual(ids, Array.from({ length: kept }, (_, i) => n - i));
      for (let id = 0; id <= n + 1; id++) assert.equal(ring.get(id)?.detail.id, id >= 1 && id <= n && id > n - capacity ? id : undefined);
    }),
  );
});

test('list filters by peer (exact), noun (part), status (number, class, error), after and limit; it gives summaries', () => {
  const ring = new EventRing(10);
  ring.push(record(1, { peer: 'a', noun: 'time', status: 200 }));
  ring.push(record(2, { peer: 'b', noun: 'cat//x', status: 404, returnCode: 255 }));
  ring.push(record(3, { peer: 'ab', noun: 'time', status: 503, returnCode: null, error: 'no_connection' }));
  ring.push(record(4, { peer: 'a', noun: 'category', status: null, returnCode: null, error: 'aborted' }));
  const ids = (f: Parameters<EventRing['list']>[0]): number[] => ring.list(f).map((e) => e.id);
  assert.deepEqual(ids({ peer: 'a' }), [4, 1]);
  assert.deepEqual(ids({ noun: 'cat' }), [4, 2]);
  assert.deepEqual(ids({ status: '404' }), [2]);
  assert.deepEqual(ids({ status: '5xx' }), [3]);
  assert.deepEqual(ids({ status: '2XX' }), [1]);
  assert.deepEqual(ids({ status: 'error' }), [4, 3]);
  assert.deepEqual(ids({ after: 2 }), [4, 3]);
  assert.deepEqual(ids({ limit: 1 }), [4]);
  assert.deepEqual(ids({ peer: '', noun: '', status: '' }), [4, 3, 2, 1]);
  assert.equal('requestHeaders' in ring.list()[0]!, false, 'the list carries summaries, not details');
});
