// peerText (issue 8 item 2): a peer's text cut to ~200 characters with every control character
// escaped, so it can neither multiply the log nor forge or hide lines on a terminal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { PEER_TEXT_MAX, peerText } from '../../src/text.js';

const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

test('short plain text is kept as it is', () => {
  assert.equal(peerText('shutting down'), 'shutting down');
  assert.equal(peerText(''), '');
  assert.equal(peerText('naïve — ünïcode ✓'), 'naïve — ünïcode ✓');
});

test('control characters are escaped: newlines, escapes, C1, separators, bidi overrides', () => {
  assert.equal(peerText('a\nb\r\tc'), 'a\\nb\\r\\tc');
  assert.equal(peerText('\x1b[31mred'), '\\x1b[31mred');
  assert.equal(peerText('x\u0085y\u2028z\u202ew\u2066'), 'x\\x85y\\u2028z\\u202ew\\u2066');
  assert.equal(peerText('nul\0'), 'nul\\x00');
});

test('long text is cut to the limit with a note of how much was cut; a surrogate pair is not split', () => {
  const long = 'x'.repeat(65_000);
  assert.equal(peerText(long), `${'x'.repeat(PEER_TEXT_MAX)}… (${65_000 - PEER_TEXT_MAX} more characters)`);
  const emoji = `${'a'.repeat(PEER_TEXT_MAX - 1)}😀tail`;
  const out = peerText(emoji);
  assert.ok(out.startsWith('a'.repeat(PEER_TEXT_MAX - 1) + '…'), out.slice(PEER_TEXT_MAX - 5));
});

test('property: any input comes out without an unsafe character, bounded, and safe short input unchanged', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 600 }), (s) => {
      const out = peerText(s);
      assert.ok(!UNSAFE.test(out), JSON.stringify(out));
      // Each kept character escapes to at most 6 (\uXXXX), plus the note.
      assert.ok(out.length <= PEER_TEXT_MAX * 6 + 40, String(out.length));
      if (s.length <= PEER_TEXT_MAX && !UNSAFE.test(s)) assert.equal(out, s);
    }),
    { numRuns: 2_000 },
  );
});
