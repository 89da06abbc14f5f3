// The name checks everyone shares (src/names.ts): node names, host names, IP literals.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { isHostname, isIpLiteral, isValidNodeName } from '../../src/names.js';

test('isHostname', () => {
  assert.ok(isHostname('localhost'));
  assert.ok(isHostname('a.b-c.example.'));
  assert.ok(isHostname('_srv.example'));
  assert.ok(!isHostname(''));
  assert.ok(!isHostname('-a.example'));
  assert.ok(!isHostname('a-.example'));
  assert.ok(!isHostname('a..b'));
  assert.ok(!isHostname('a'.repeat(64)));
  assert.ok(!isHostname(`${'a'.repeat(63)}.`.repeat(4) + 'a'));
});

test('isHostname without the root dot, as a SAN is written', () => {
  assert.ok(isHostname('a.example', { allowTrailingDot: false }));
  assert.ok(!isHostname('a.example.', { allowTrailingDot: false }));
});

test('node names are never IP literals, even the forms a resolver reads as IPv4', () => {
  for (const s of ['127.0.0.1', '::1', '127.1', '2130706433', '0x7f.0.0.1']) {
    assert.ok(isIpLiteral(s), s);
    assert.ok(!isValidNodeName(s), s);
  }
  assert.ok(isValidNodeName('fileserver-1.example'));
});
