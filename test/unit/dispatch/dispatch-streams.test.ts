// The dispatcher with bodies as streams (SPEC §9): buffered handlers get the body whole up to
// --max-body (252 over it, without running), streaming handlers get ctx.body live; ctx.headers;
// handlers may return streams of every kind, with headers and a length.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { text as readText, buffer as readAll } from 'node:stream/consumers';

import { createDispatcher } from '../../../src/dispatch/dispatcher.js';
import { buildHandlerTable, type PostData } from '../../../src/dispatch/handler-table.js';
import { reply, toReply } from '../../../src/dispatch/reply-forms.js';
import { streaming } from '../../../src/dispatch/streaming.js';
import { parseEventHead, ReturnCode, type HandlerContext, type ParsedEvent, type PeerInfo, type Reply } from '../../../src/event.js';

const peer: PeerInfo = { name: 'client-a', address: '127.0.0.1' };
const signal = new AbortController().signal;

function streamedEvent(noun: string, chunks: Buffer[], over: Partial<ParsedEvent> = {}): ParsedEvent {
  return { ...parseEventHead('post', noun, ''), mimetype: 'application/octet-stream', data: new Uint8Array(0), body: Readable.from(chunks), ...over };
}

const json = (r: Reply): unknown => JSON.parse(Buffer.from(r.data).toString());

test('a buffered handler gets a streamed body whole, JSON decoded as ever', async () => {
  let got: PostData | undefined;
  const dispatch = createDispatcher(buildHandlerTable({ post_x: (_c: HandlerContext, p: PostData) => ((got = p), 'ok') }), { role: 'server' });
  const r = await dispatch(streamedEvent('x', [Buffer.from('{"a":'), Buffer.from('[1,2]}')], { mimetype: 'application/json' }), peer, signal);
  assert.equal(r.code, 0);
  assert.deepEqual(got, ['application/json', { a: [1, 2] }]);
});

test('over --max-body a buffered handler never runs: 252 body_too_large, read no further', async () => {
  let ran = false;
  const dispatch = createDispatcher(buildHandlerTable({ post_x: () => (ran = true) }), { role: 'server', maxBodyBytes: 10 });
  const body = Readable.from([Buffer.alloc(6), Buffer.alloc(6), Buffer.alloc(6)]);
  const r = await dispatch({ ...streamedEvent('x', []), body }, peer, signal);
  assert.equal(r.code, ReturnCode.REPLY_TOO_LARGE);
  assert.equal((json(r) as { error: { code: string } }).error.code, 'body_too_large');
  assert.match((json(r) as { error: { message: string } }).error.message, /limit of 10 bytes/);
  assert.equal(ran, false);
  assert.equal(body.destroyed, true, 'the rest is not read');
  // A declared length over the limit is refused before a byte is read.
  const untouched = Readable.from([Buffer.alloc(1)]);
  const r2 = await dispatch({ ...streamedEvent('x', []), body: untouched, length: 1000 }, peer, signal);
  assert.match((json(r2) as { error: { message: string } }).error.message, /of 1000 bytes exceeds/);
  assert.equal(untouched.readableLength, 0);
});

test('a streaming handler is called at once with the live body and postData [mimetype, undefined]', async () => {
  let postData: PostData | undefined;
  const dispatch = createDispatcher(
    buildHandlerTable({
      post_up: streaming(async (ctx: HandlerContext, p: PostData) => {
        postData = p;
        return { bytes: (await readAll(ctx.body)).length };
      }),
    }),
    { role: 'server', maxBodyBytes: 10 },
  );
  const r = await dispatch(streamedEvent('up', [Buffer.alloc(1000), Buffer.alloc(2000)]), peer, signal);
  assert.deepEqual(json(r), { bytes: 3000 }, 'no --max-body for a streaming handler');
  assert.deepEqual(postData, ['application/octet-stream', undefined]);
});

test('the mark survives the handler table binding class methods, and works across copies (Symbol.for)', async () => {
  class H {
    factor = 2;
    post_up = streaming(async function (this: H, ctx: HandlerContext) {
      return (await readAll(ctx.body)).length * this.factor;
    });
  }
  const dispatch = createDispatcher(buildHandlerTable(H), { role: 'server', maxBodyBytes: 1 });
  const r = await dispatch(streamedEvent('up', [Buffer.alloc(5)]), peer, signal);
  assert.deepEqual(json(r), 10);
  const foreign = Object.assign(async () => 'x', { [Symbol.for('restpipe.streaming')]: true });
  const r2 = await createDispatcher(buildHandlerTable({ post_up: foreign }), { role: 'server', maxBodyBytes: 1 })(streamedEvent('up', [Buffer.alloc(5)]), peer, signal);
  assert.deepEqual(json(r2), 'x');
});

test('ctx.headers and ctx.body for a buffered handler', async () => {
  let seen: { headers: Record<string, string>; body: string } | undefined;
  const dispatch = createDispatcher(
    buildHandlerTable({
      async post_h(ctx: HandlerContext) {
        seen = { headers: { ...ctx.headers }, body: await readText(ctx.body) };
        return null;
      },
    }),
    { role: 'server' },
  );
  await dispatch({ ...parseEventHead('post', 'h', ''), mimetype: 'text/plain', data: Buffer.from('hello'), headers: ['range', 'bytes=0-1', 'x-a', '1', 'x-a', '2'] }, peer, signal);
  assert.deepEqual(seen, { headers: { range: 'bytes=0-1', 'x-a': '1, 2' }, body: 'hello' });
});

test('handlers may return streams of every kind, with headers, status and a length', async () => {
  const chunks = (): Buffer[] => [Buffer.from('ab'), Buffer.from('cd')];
  async function* gen(): AsyncGenerator<Buffer> {
    yield* chunks();
  }
  const web = (): ReadableStream<Uint8Array> =>
    new ReadableStream({
      start(c) {
        for (const b of chunks()) c.enqueue(new Uint8Array(b));
        c.close();
      },
    });
  for (const [what, value] of [
    ['a Readable', Readable.from(chunks())],
    ['an async generator', gen()],
    ['a web ReadableStream', web()],
  ] as const) {
    const r = toReply(value);
    assert.equal(r.code, 0, what);
    assert.equal(r.mimetype, 'application/octet-stream', what);
    assert.equal(await readText(r.body!), 'abcd', what);
  }
  const r = toReply(reply({ data: Readable.from(chunks()), length: 4, status: 206, mimetype: 'text/plain', headers: { 'Content-Range': 'bytes 0-3/10' } }));
  assert.equal(r.status, 206);
  assert.equal(r.length, 4);
  assert.deepEqual(r.headers, ['content-range', 'bytes 0-3/10']);
  assert.equal(await readText(r.body!), 'abcd');
  const plain = toReply({ mimetype: 'text/plain', data: 'hi', headers: [['x-one', '1']] });
  assert.deepEqual(plain.headers, ['x-one', '1']);
  assert.equal(plain.body, undefined);
});

test('bad reply headers or lengths are the handler\'s error (251), with the reason', () => {
  assert.throws(() => reply({ data: 'x', headers: { 'Content-Length': '1' } }), /content-length, which does not travel/);
  assert.throws(() => reply({ data: 'abc', length: 2 }), /length 2 does not match the 3 bytes/);
  assert.throws(() => reply({ data: Readable.from([]), length: -1 }), /length must be a whole number/);
  const r = toReply({ mimetype: 'text/plain', data: 'x', headers: { 'bad name': 'v' } });
  assert.equal(r.code, ReturnCode.HANDLER_EXCEPTION);
});

test('an async iterable that yields something other than bytes fails its stream with a TypeError', async () => {
  async function* bad(): AsyncGenerator<unknown> {
    yield Buffer.from('ok');
    yield { no: 1 };
  }
  const r = toReply(bad());
  await assert.rejects(readAll(r.body!), /yielded object; it must yield bytes or strings/);
});
