// The one parse of a peer's event (pipe/inbound-calls.ts parseInboundEvent), where its wire
// message is decoded: a verb or noun no handler can have is refused with a 255 reply naming the
// problem, and the event never reaches the dispatcher. (These cases were the dispatcher's
// before it trusted parsed events.)
import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { Reply } from '../../../src/event.js';
import { isRefusal, parseInboundEvent } from '../../../src/pipe/inbound-calls.js';

const wire = (verb: string, noun: string) => ({ verb, noun, mimetype: '', data: new Uint8Array(0), timeoutMs: 0, query: 'q=1' });
const json = (r: Reply): { error: { code: string; message: string } } => JSON.parse(Buffer.from(r.data).toString('utf8'));

test('a well-formed event is parsed once: path, decoded parameters, method, query', () => {
  const parsed = parseInboundEvent(wire('put', 'cat/deep//hello%20/world'));
  assert.ok(!isRefusal(parsed));
  assert.deepEqual(
    { verb: parsed.verb, noun: parsed.noun, path: parsed.path, params: parsed.params, method: parsed.method, query: parsed.query },
    { verb: 'put', noun: 'cat/deep//hello%20/world', path: 'cat/deep', params: ['hello ', 'world'], method: 'put_cat_deep', query: 'q=1' },
  );
});

test('a noun that is a URL path but no handler\'s is parsed for a forward, with no handler method', () => {
  for (const noun of ['a.b', 'ok/', '__proto__.x', 'files/docs/a%2Fb%20c.pdf', 'x/~u/@:;=']) {
    const r = parseInboundEvent(wire('get', noun));
    assert.ok(!isRefusal(r), noun);
    assert.equal(r.method, '', noun);
    assert.equal(r.path, noun);
  }
});

test('a malformed noun → 255 with a bad_request JSON error', () => {
  for (const noun of ['', '../etc', 'a//%E0%A4%A', 'a b', '/ok', 'a/./b', 'a/%2e%2E/b', 'a%zz', 'a\u0000b', 'a?b', 'a#b', 'é']) {
    const r = parseInboundEvent(wire('get', noun));
    assert.ok(isRefusal(r), noun);
    assert.equal(r.code, 255, noun);
    assert.equal(r.status, undefined, 'the pipe writes no HTTP status');
    const body = json(r);
    assert.equal(body.error.code, 'bad_request', noun);
    assert.ok(body.error.message.length > 0);
  }
});

test('a verb outside the seven → 255 method_not_allowed', () => {
  for (const verb of ['GET', 'trace', 'connect', '', 'constructor']) {
    const r = parseInboundEvent(wire(verb, 'ok'));
    assert.ok(isRefusal(r), verb);
    assert.equal(r.code, 255);
    assert.equal(json(r).error.code, 'method_not_allowed');
  }
});
