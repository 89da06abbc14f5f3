import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { toReply } from '../../../src/dispatch/reply-forms.js';
import { exceptionReply } from '../../../src/replies.js';

const anything = fc.anything({
  withBigInt: true,
  withBoxedValues: true,
  withDate: true,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withObjectString: true,
  withSparseArray: true,
  withTypedArray: true,
});

test('toReply never throws and always yields bytes, a string mimetype and a wire-sized code', () => {
  fc.assert(
    fc.property(anything, (value) => {
      const r = toReply(value);
      assert.ok(r.data instanceof Uint8Array);
      assert.equal(typeof r.mimetype, 'string');
      assert.ok(Number.isInteger(r.code) && r.code >= 0 && r.code <= 0xffff_ffff);
      if (r.code === 0 && r.mimetype === 'application/json') JSON.parse(Buffer.from(r.data).toString('utf8'));
    }),
    { numRuns: 2_000 },
  );
});

test('the explicit forms never throw either', () => {
  const tuple = fc.tuple(fc.string(), fc.integer({ min: -10, max: 2 ** 33 }), anything);
  const object = fc.record(
    { mimetype: fc.oneof(fc.string(), anything), data: anything, code: anything, status: anything },
    { requiredKeys: ['mimetype', 'data'] },
  );
  fc.assert(
    fc.property(fc.oneof(tuple, object), (value) => {
      const r = toReply(value);
      assert.ok(r.data instanceof Uint8Array);
      if (r.status !== undefined) assert.ok(Number.isInteger(r.status) && r.status >= 100 && r.status <= 599);
    }),
    { numRuns: 1_000 },
  );
});

test('exceptionReply never throws and is always valid JSON of the original shape', () => {
  fc.assert(
    fc.property(anything, (thrown) => {
      const r = exceptionReply(thrown);
      assert.equal(r.code, 251);
      const body = JSON.parse(Buffer.from(r.data).toString('utf8')) as { exception: Record<string, unknown> };
      assert.deepEqual(Object.keys(body.exception), ['message', 'traceback', 'class']);
      for (const v of Object.values(body.exception)) assert.equal(typeof v, 'string');
    }),
    { numRuns: 1_000 },
  );
});
