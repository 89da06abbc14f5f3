import { test } from 'node:test';
import assert from 'node:assert/strict';

import { reply, toReply } from '../../../src/dispatch/reply-forms.js';
import { exceptionReply } from '../../../src/replies.js';
import type { Reply } from '../../../src/event.js';

const text = (r: Reply): string => Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).toString('utf8');
const json = (r: Reply): unknown => JSON.parse(text(r));

function assertException(r: Reply, cls: string, message?: RegExp): void {
  assert.equal(r.code, 251);
  assert.equal(r.mimetype, 'application/json');
  const body = json(r) as { exception: { message: string; traceback: string; class: string } };
  assert.deepEqual(Object.keys(body), ['exception']);
  assert.deepEqual(Object.keys(body.exception), ['message', 'traceback', 'class']);
  assert.equal(body.exception.class, cls);
  if (message) assert.match(body.exception.message, message);
}

test('plain values are JSON with code 0', () => {
  const cases: [unknown, string][] = [
    [{ a: 1 }, '{"a":1}'],
    [[1, 'two', null], '[1,"two",null]'],
    ['abc', '"abc"'],
    [42.5, '42.5'],
    [true, 'true'],
    [null, 'null'],
    [undefined, 'null'],
    [() => 1, 'null'],
    [new Date(0), '"1970-01-01T00:00:00.000Z"'],
    [['a', 1], '["a",1]'],
    [['a', 1.5, 'c'], '["a",1.5,"c"]'],
    [['a', 1, 'c', 'd'], '["a",1,"c","d"]'],
  ];
  for (const [value, expected] of cases) {
    const r = toReply(value);
    assert.equal(r.code, 0);
    assert.equal(r.mimetype, 'application/json');
    assert.equal(text(r), expected);
    assert.equal(r.status, undefined);
    assert.ok(r.data instanceof Uint8Array);
  }
});

test('a bare Buffer or Uint8Array is sent as bytes, without copying', () => {
  const buf = Buffer.from([0, 1, 2, 255]);
  const r = toReply(buf);
  assert.equal(r.code, 0);
  assert.equal(r.mimetype, 'application/octet-stream');
  assert.equal(r.data, buf);
  const u8 = new Uint8Array([9, 8]);
  assert.equal(toReply(u8).data, u8);
  const f32 = new Float32Array([1]);
  const view = toReply(f32).data;
  assert.equal(view.buffer, f32.buffer);
  assert.equal(view.byteLength, 4);
});

test('the tuple [mimetype, code, data]', () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
  const r1 = toReply(['image/png', 0, png]);
  assert.deepEqual([r1.mimetype, r1.code], ['image/png', 0]);
  assert.equal(r1.data, png, 'bytes are not copied');

  const u8 = new Uint8Array([1, 2, 3]).subarray(1);
  assert.equal(toReply(['application/octet-stream', 0, u8]).data, u8);

  const r2 = toReply(['text/plain; charset=utf-8', 3, 'héllo']);
  assert.deepEqual([r2.mimetype, r2.code, text(r2)], ['text/plain; charset=utf-8', 3, 'héllo']);

  const r3 = toReply(['application/json', 7, { a: [1] }]);
  assert.deepEqual([r3.code, text(r3)], [7, '{"a":[1]}']);

  const r4 = toReply(['text/plain', 0, undefined]);
  assert.equal(r4.data.byteLength, 0);

  // The escape hatch for a JSON result that would otherwise read as a tuple or reply object.
  const r5 = toReply(['application/json', 0, ['x', 1, 'y']]);
  assert.deepEqual([r5.code, json(r5)], [0, ['x', 1, 'y']]);
});

test('a tuple with a code the wire cannot carry or a bad mimetype is a handler error', () => {
  assertException(toReply(['text/plain', -1, 'x']), 'TypeError', /code must be an integer/);
  assertException(toReply(['text/plain', 2 ** 32, 'x']), 'TypeError', /code/);
  assertException(toReply(['text/plain\r\nSet-Cookie: a=b', 0, 'x']), 'TypeError', /mimetype/);
});

test('reply() builds a branded, frozen reply with defaults', () => {
  const r = reply({ data: Buffer.from('x'), status: 201 });
  assert.ok(Object.isFrozen(r));
  assert.deepEqual(toReply(r), { code: 0, mimetype: 'application/octet-stream', data: r.data, status: 201 });
  assert.equal(toReply(reply({ data: 'hi' })).mimetype, 'text/plain; charset=utf-8');
  assert.equal(toReply(reply({ data: { a: 1 } })).mimetype, 'application/json');
  const empty = toReply(reply({ status: 204 }));
  assert.deepEqual([empty.mimetype, empty.code, empty.data.byteLength, empty.status], ['', 0, 0, 204]);
  const full = toReply(reply({ mimetype: 'text/csv', code: 9, data: 'a,b', status: 202 }));
  assert.deepEqual([full.mimetype, full.code, text(full), full.status], ['text/csv', 9, 'a,b', 202]);
  // The brand is a Symbol: invisible to JSON, so it cannot travel in a peer's data.
  assert.deepEqual(Object.keys(r).sort(), ['code', 'data', 'mimetype', 'status']);
});

test('reply() throws at the handler for invalid fields', () => {
  assert.throws(() => reply({ status: 99 }), TypeError);
  assert.throws(() => reply({ status: 600 }), TypeError);
  assert.throws(() => reply({ status: 200.5 }), TypeError);
  assert.throws(() => reply({ code: -1 }), TypeError);
  assert.throws(() => reply({ mimetype: 'a\nb' }), TypeError);
  assert.throws(() => reply({ data: 1n }), TypeError);
});

test('a plain object with data and mimetype (and only reply keys) is a reply object', () => {
  const bytes = Buffer.from('abc');
  const r1 = toReply({ mimetype: 'text/plain', data: bytes });
  assert.deepEqual(r1, { code: 0, mimetype: 'text/plain', data: bytes });
  const r2 = toReply({ mimetype: 'application/json', data: { x: 1 }, code: 4, status: 418 });
  assert.deepEqual([r2.code, r2.status, text(r2)], [4, 418, '{"x":1}']);
  const nullProto = Object.assign(Object.create(null) as object, { mimetype: 'text/plain', data: 'z' });
  assert.equal(text(toReply(nullProto)), 'z');
});

test('objects that are not reply objects stay JSON', () => {
  for (const value of [
    { data: 'x' },
    { mimetype: 'text/plain' },
    { mimetype: 'text/plain', data: 'x', extra: 1 },
    { mimetype: 'text/plain', code: 0 },
    new (class Reply {
      mimetype = 'text/plain';
      data = 'x';
    })(),
  ]) {
    const r = toReply(value);
    assert.equal(r.mimetype, 'application/json');
    assert.deepEqual(json(r), JSON.parse(JSON.stringify(value)));
  }
});

test('a reply object with a bad status, code or mimetype is a handler error', () => {
  for (const status of [99, 600, 200.5, '200', null, Number.NaN]) {
    assertException(toReply({ mimetype: 'text/plain', data: 'x', status }), 'TypeError', /status must be an integer from 100 to 599/);
  }
  assertException(toReply({ mimetype: 'text/plain', data: 'x', code: 'zero' }), 'TypeError', /code/);
  assertException(toReply({ mimetype: 5, data: 'x' }), 'TypeError', /mimetype must be a string/);
  assertException(toReply({ mimetype: 'x\u0000', data: 'x' }), 'TypeError', /mimetype/);
  assertException(toReply({ mimetype: 'text/☃', data: 'x' }), 'TypeError', /mimetype/);
});

test('values JSON cannot encode become a 251 exception reply', () => {
  assertException(toReply(10n), 'TypeError', /BigInt/);
  assertException(toReply({ n: 1n }), 'TypeError');
  const cycle: Record<string, unknown> = {};
  cycle['self'] = cycle;
  assertException(toReply(cycle), 'TypeError', /circular/);
  assertException(toReply(['application/json', 0, cycle]), 'TypeError');
  assertException(
    toReply({
      toJSON() {
        throw new RangeError('nope');
      },
    }),
    'RangeError',
    /nope/,
  );
});

test('exceptionReply: the original format, with the class from name or constructor', () => {
  const err = new Error('bad thing');
  assert.deepEqual(json(exceptionReply(err)), { exception: { message: 'bad thing', traceback: err.stack, class: 'Error' } });
  assert.equal(
    text(exceptionReply(err)),
    JSON.stringify({ exception: { message: 'bad thing', traceback: err.stack, class: 'Error' } }),
  );

  class QuotaError extends Error {}
  assertException(exceptionReply(new QuotaError('q')), 'QuotaError', /^q$/);
  class Named extends Error {
    override name = 'CustomName';
  }
  assertException(exceptionReply(new Named('n')), 'CustomName');
  assertException(exceptionReply(new DOMException('stop', 'AbortError')), 'AbortError');

  const fromString = json(exceptionReply('boom')) as { exception: Record<string, string> };
  assert.deepEqual(fromString, { exception: { message: 'boom', traceback: '', class: 'Error' } });
  assertException(exceptionReply(undefined), 'Error', /^undefined$/);
  assertException(exceptionReply({ message: 'obj' }), 'Error', /^obj$/);
  assertException(exceptionReply(Object.create(null)), 'Error');
  assertException(exceptionReply(Symbol('s')), 'Error', /Symbol\(s\)/);

  const { proxy, revoke } = Proxy.revocable({}, {});
  revoke();
  assertException(exceptionReply(proxy), 'Error');
  assert.equal(toReply(proxy).code, 251);
});

test('a reply made by another copy of restpipe is still recognised', () => {
  const foreign = Object.freeze({ code: 3, mimetype: 'text/plain', data: Buffer.from('x'), [Symbol.for('restpipe.reply')]: true });
  assert.deepEqual(toReply(foreign), { code: 3, mimetype: 'text/plain', data: foreign.data });
});
