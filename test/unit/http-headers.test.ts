import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { carriedHeaders, headerListFrom, headerListProblem, headerRecord, MAX_HEADER_COUNT } from '../../src/http-headers.js';

describe('headers end to end', () => {
  it('carries a request\'s headers in lower case, without hop-by-hop ones and those the pipe carries itself', () => {
    const raw = [
      'Host', '127.0.0.1:1235',
      'Range', 'bytes=0-9',
      'Connection', 'keep-alive, X-Secret',
      'X-Secret', 'hop',
      'Keep-Alive', 'timeout=5',
      'Transfer-Encoding', 'chunked',
      'Content-Type', 'text/plain',
      'Content-Length', '10',
      'X-Event-Timeout', '5',
      'Accept', 'a',
      'accept', 'b',
      'TE', 'trailers',
      'Upgrade', 'websocket',
      'Proxy-Authorization', 'x',
    ];
    assert.deepEqual(carriedHeaders(raw), ['range', 'bytes=0-9', 'accept', 'a', 'accept', 'b']);
  });

  it('refuses more than the bounds, naming what', () => {
    const many: string[] = [];
    for (let i = 0; i <= MAX_HEADER_COUNT; i++) many.push(`x-h${i}`, 'v');
    assert.deepEqual(carriedHeaders(many), { problem: `${MAX_HEADER_COUNT + 1} headers (at most ${MAX_HEADER_COUNT})` });
    assert.match(headerListProblem(['x-big', 'v'.repeat(16 * 1024 + 1)])!, /value of 16385 bytes for header x-big/);
    const fat: string[] = [];
    for (let i = 0; i < 5; i++) fat.push(`x-f${i}`, 'v'.repeat(8000));
    assert.match(headerListProblem(fat)!, /bytes of headers \(at most 32768\)/);
  });

  it('refuses names and values HTTP does not allow, and headers the pipe does not carry (a peer may be hostile)', () => {
    assert.match(headerListProblem(['bad name', 'v'])!, /header name "bad name"/);
    assert.match(headerListProblem(['Upper', 'v'])!, /header name "Upper"/);
    assert.match(headerListProblem(['x-a', 'evil\r\nSet-Cookie: x'])!, /characters HTTP does not allow/);
    assert.match(headerListProblem(['content-length', '5'])!, /does not travel through the pipe/);
    assert.match(headerListProblem(['x-odd'])!, /without a value/);
    assert.equal(headerListProblem(['x-ok', 'caf\u00e9', 'etag', '"1"']), undefined);
  });

  it('makes ctx.headers: repeated headers joined, cookies with "; ", no prototype', () => {
    const rec = headerRecord(['accept', 'a', 'accept', 'b', 'cookie', 'a=1', 'cookie', 'b=2', '__proto__', 'x']);
    assert.equal(rec.accept, 'a, b');
    assert.equal(rec.cookie, 'a=1; b=2');
    assert.equal(rec.__proto__, 'x');
    assert.equal(Object.getPrototypeOf(rec), null);
  });

  it('takes a handler\'s reply headers as an object or a list of pairs, and refuses bad ones with a TypeError', () => {
    assert.deepEqual(headerListFrom({ 'Content-Range': 'bytes 0-9/100', 'Set-Cookie': ['a=1', 'b=2'], 'X-N': 5 }), [
      'content-range', 'bytes 0-9/100', 'set-cookie', 'a=1', 'set-cookie', 'b=2', 'x-n', '5',
    ]);
    assert.deepEqual(headerListFrom([['ETag', '"x"']]), ['etag', '"x"']);
    assert.throws(() => headerListFrom({ 'Content-Length': '5' }), /content-length, which does not travel/);
    assert.throws(() => headerListFrom({ 'x-a': { no: 1 } as unknown as string }), TypeError);
    assert.throws(() => headerListFrom([['x-a']] as unknown as [string, string][]), TypeError);
    assert.throws(() => headerListFrom('x' as unknown as Record<string, string>), TypeError);
  });
});
