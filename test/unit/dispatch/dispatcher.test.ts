import { test } from 'node:test';
import assert from 'node:assert/strict';

import { createDispatcher } from '../../../src/dispatch/dispatcher.js';
import { buildHandlerTable, type PostData } from '../../../src/dispatch/handler-table.js';
import { reply } from '../../../src/dispatch/reply-forms.js';
import { parseEventHead, type EventHandlerFn, type HandlerContext, type ParsedEvent, type PeerInfo, type Reply, type Verb } from '../../../src/event.js';
import type { Logger } from '../../../src/log.js';

const peer: PeerInfo = { name: 'client-a', address: '127.0.0.1' };
const text = (r: Reply): string => Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength).toString('utf8');
const json = (r: Reply): unknown => JSON.parse(text(r));

/** An event as the pipe hands it over: its head parsed once (parseEventHead), its body as sent. */
function event(noun: string, over: { verb?: Verb; mimetype?: string; data?: Uint8Array; query?: string } = {}): ParsedEvent {
  return { ...parseEventHead(over.verb ?? 'get', noun, over.query ?? ''), mimetype: over.mimetype ?? '', data: over.data ?? new Uint8Array(0) };
}

function capturingLogger(): Logger & { lines: { level: string; obj: Record<string, unknown>; msg?: string }[] } {
  const lines: { level: string; obj: Record<string, unknown>; msg?: string }[] = [];
  const at =
    (level: string) =>
    (obj: object, msg?: string): void =>
      void lines.push({ level, obj: obj as Record<string, unknown>, ...(msg === undefined ? {} : { msg }) });
  const logger: Logger & { lines: typeof lines } = {
    lines,
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: () => logger,
    isLevelEnabled: () => true,
  };
  return logger;
}

function dispatcherFor(handlers: unknown, logger?: Logger): EventHandlerFn {
  return createDispatcher(buildHandlerTable(handlers), { role: 'server', ...(logger ? { logger } : {}) });
}

const noSignal = new AbortController().signal;

test('ctx carries peer, verb, noun, percent-decoded params, query and the signal', async () => {
  let seen: { ctx: HandlerContext; postData: PostData; params: string[] } | undefined;
  const dispatch = dispatcherFor({
    put_cat_deep(ctx: HandlerContext, postData: PostData, ...params: string[]) {
      seen = { ctx, postData, params };
      return 'ok';
    },
  });
  const ac = new AbortController();
  const r = await dispatch(event('cat/deep//hello%20/world/%2F%25', { verb: 'put', query: 'a=1&b=x%20y&a=2' }), peer, ac.signal);
  assert.equal(r.code, 0);
  assert.ok(seen);
  assert.equal(seen.ctx.peer, peer);
  assert.equal(seen.ctx.verb, 'put');
  assert.equal(seen.ctx.noun, 'cat/deep');
  assert.deepEqual(seen.ctx.params, ['hello ', 'world', '/%']);
  assert.deepEqual(seen.params, ['hello ', 'world', '/%']);
  assert.deepEqual(seen.ctx.query.getAll('a'), ['1', '2']);
  assert.equal(seen.ctx.query.get('b'), 'x y');
  assert.equal(seen.ctx.signal, ac.signal);
  assert.deepEqual(seen.postData, ['', '']);
});

test('the README example: cat//hello%20/world → "hello " and "world"', async () => {
  const dispatch = dispatcherFor({ get_cat: (_c: unknown, _p: unknown, x = '', y = '') => ({ result: x + y }) });
  const r = await dispatch(event('cat//hello%20/world'), peer, noSignal);
  assert.deepEqual([r.code, r.mimetype, json(r)], [0, 'application/json', { result: 'hello world' }]);
});

test('postData: JSON decoded, bytes as a view of the event memory, empty forms', async () => {
  const got: PostData[] = [];
  const dispatch = dispatcherFor({
    post_x(_ctx: HandlerContext, postData: PostData) {
      got.push(postData);
      return null;
    },
  });
  await dispatch(event('x', { verb: 'post', mimetype: 'application/json', data: Buffer.from('{"a":[1,"é"]}') }), peer, noSignal);
  await dispatch(event('x', { verb: 'post', mimetype: 'application/vnd.api+json; charset=utf-8', data: Buffer.from('7') }), peer, noSignal);
  const backing = new Uint8Array([0, 1, 2, 3, 4, 5]);
  const body = backing.subarray(2, 5);
  await dispatch(event('x', { verb: 'post', mimetype: 'application/octet-stream', data: body }), peer, noSignal);
  await dispatch(event('x', { verb: 'post' }), peer, noSignal);
  await dispatch(event('x', { verb: 'post', mimetype: 'application/json' }), peer, noSignal);
  await dispatch(event('x', { verb: 'post', mimetype: 'text/plain' }), peer, noSignal);
  await dispatch(event('x', { verb: 'post', data: Buffer.from('raw') }), peer, noSignal);

  assert.deepEqual(got[0], ['application/json', { a: [1, 'é'] }]);
  assert.deepEqual(got[1], ['application/vnd.api+json; charset=utf-8', 7]);

  const [mime, bytes] = got[2] as [string, Buffer];
  assert.equal(mime, 'application/octet-stream');
  assert.ok(Buffer.isBuffer(bytes));
  assert.equal(bytes.buffer, backing.buffer, 'no copy');
  assert.equal(bytes.byteOffset, 2);
  assert.deepEqual([...bytes], [2, 3, 4]);

  assert.deepEqual(got[3], ['', '']);
  assert.deepEqual(got[4], ['application/json', null]);
  const [textMime, textBytes] = got[5] as [string, Buffer];
  assert.deepEqual([textMime, Buffer.isBuffer(textBytes), textBytes.byteLength], ['text/plain', true, 0]);
  assert.equal((got[6]?.[1] as Buffer).toString(), 'raw');
});

test('a JSON body that does not parse → 250 bad_request, handler not called, body not logged', async () => {
  let called = false;
  const logger = capturingLogger();
  const dispatch = dispatcherFor(
    {
      post_x() {
        called = true;
      },
    },
    logger,
  );
  const r = await dispatch(event('x', { verb: 'post', mimetype: 'application/json', data: Buffer.from('{secret') }), peer, noSignal);
  assert.equal(called, false);
  assert.equal(r.code, 250);
  assert.equal(r.mimetype, 'application/json');
  const body = json(r) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'bad_request');
  assert.match(body.error.message, /^request body is not valid JSON \(application\/json\): /);
  assert.equal(logger.lines.length, 1);
  assert.equal(logger.lines[0]?.level, 'warn');
  assert.equal(logger.lines[0]?.obj['method'], 'post_x');
  assert.ok(!JSON.stringify(logger.lines).includes('secret'));
});

test('no handler → 255 with the no_handler JSON error', async () => {
  const dispatch = dispatcherFor({ get_time: () => 1 });
  const r = await dispatch(event('foo'), peer, noSignal);
  assert.equal(r.code, 255);
  assert.equal(r.mimetype, 'application/json');
  assert.equal(text(r), '{"error":{"code":"no_handler","message":"no handler for get \'foo\' (method get_foo)"}}');
  const r2 = await dispatch(event('time', { verb: 'post' }), peer, noSignal);
  assert.deepEqual(json(r2), { error: { code: 'no_handler', message: "no handler for post 'time' (method post_time)" } });
});

test('Object.prototype members as nouns → 255, on objects and classes', async () => {
  class H {
    get_ok() {
      return 1;
    }
  }
  for (const handlers of [{ get_ok: () => 1 }, H]) {
    const dispatch = dispatcherFor(handlers);
    for (const noun of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'constructor/name']) {
      for (const verb of ['get', 'post'] as const) {
        const r = await dispatch(event(noun, { verb }), peer, noSignal);
        assert.equal(r.code, 255, `${verb} ${noun}`);
        assert.equal((json(r) as { error: { code: string } }).error.code, 'no_handler');
      }
    }
  }
});



test('a throwing handler → 251 with exactly {"exception": {message, traceback, class}}, logged at warn', async () => {
  const logger = capturingLogger();
  let thrown: Error | undefined;
  const dispatch = dispatcherFor(
    {
      get_boom() {
        thrown = new RangeError('out of range');
        throw thrown;
      },
    },
    logger,
  );
  const r = await dispatch(event('boom', { data: Buffer.from('private body') }), peer, noSignal);
  assert.ok(thrown);
  assert.equal(r.code, 251);
  assert.equal(r.mimetype, 'application/json');
  assert.equal(text(r), JSON.stringify({ exception: { message: 'out of range', traceback: thrown.stack, class: 'RangeError' } }));
  assert.deepEqual(
    logger.lines.map((l) => [l.level, l.obj['method'], l.obj['class'], l.obj['message']]),
    [['warn', 'get_boom', 'RangeError', 'out of range']],
  );
  assert.ok(!JSON.stringify(logger.lines).includes('private body'));
});

test('async rejections, non-Error throws and custom error classes', async () => {
  class QuotaExceeded extends Error {}
  const dispatch = dispatcherFor({
    async get_reject() {
      await Promise.resolve();
      throw new QuotaExceeded('over');
    },
    get_string() {
      throw 'plain string';
    },
    get_undefined() {
      return Promise.reject(undefined);
    },
  });
  const r1 = await dispatch(event('reject'), peer, noSignal);
  assert.equal(r1.code, 251);
  const e1 = (json(r1) as { exception: { message: string; class: string; traceback: string } }).exception;
  assert.deepEqual([e1.message, e1.class], ['over', 'QuotaExceeded']);
  assert.match(e1.traceback, /QuotaExceeded|over/);

  const r2 = await dispatch(event('string'), peer, noSignal);
  assert.deepEqual(json(r2), { exception: { message: 'plain string', traceback: '', class: 'Error' } });
  const r3 = await dispatch(event('undefined'), peer, noSignal);
  assert.deepEqual(json(r3), { exception: { message: 'undefined', traceback: '', class: 'Error' } });
});

test('async handlers and every return form go through toReply', async () => {
  const dispatch = dispatcherFor({
    async get_json() {
      await Promise.resolve();
      return { ok: true };
    },
    async get_tuple() {
      return ['text/plain', 0, 'hi'];
    },
    get_reply() {
      return reply({ mimetype: 'text/csv', data: 'a,b', status: 201 });
    },
    get_object() {
      return { mimetype: 'image/png', data: Buffer.from([1]), status: 200 };
    },
    get_nothing() {},
  });
  const j = await dispatch(event('json'), peer, noSignal);
  assert.deepEqual([j.code, j.mimetype, json(j)], [0, 'application/json', { ok: true }]);
  const t = await dispatch(event('tuple'), peer, noSignal);
  assert.deepEqual([t.code, t.mimetype, text(t)], [0, 'text/plain', 'hi']);
  const rp = await dispatch(event('reply'), peer, noSignal);
  assert.deepEqual([rp.mimetype, rp.status, text(rp)], ['text/csv', 201, 'a,b']);
  const o = await dispatch(event('object'), peer, noSignal);
  assert.deepEqual([o.mimetype, o.status, [...o.data]], ['image/png', 200, [1]]);
  const n = await dispatch(event('nothing'), peer, noSignal);
  assert.equal(text(n), 'null');
});

test('an invalid return value → 251, logged under the method name', async () => {
  const logger = capturingLogger();
  const dispatch = dispatcherFor(
    {
      get_big: () => ({ n: 10n }),
      get_status: () => ({ mimetype: 'text/plain', data: 'x', status: 700 }),
    },
    logger,
  );
  const r1 = await dispatch(event('big'), peer, noSignal);
  assert.equal((json(r1) as { exception: { class: string } }).exception.class, 'TypeError');
  const r2 = await dispatch(event('status'), peer, noSignal);
  assert.match((json(r2) as { exception: { message: string } }).exception.message, /status/);
  assert.deepEqual(
    logger.lines.map((l) => l.obj['method']),
    ['get_big', 'get_status'],
  );
});

// If dispatch serialised handlers, b would never start while a waits on the gate, and the
// test would fail on its timeout rather than hang.
test('handlers run concurrently: two awaiting handlers are both in flight at once', { timeout: 5_000 }, async () => {
  const started: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let bothStarted!: () => void;
  const bothStartedP = new Promise<void>((resolve) => (bothStarted = resolve));
  const enter = async (name: string): Promise<string> => {
    started.push(name);
    if (started.length === 2) bothStarted();
    await gate;
    return name;
  };
  const dispatch = dispatcherFor({ get_a: () => enter('a'), get_b: () => enter('b') });
  const pa = dispatch(event('a'), peer, noSignal);
  const pb = dispatch(event('b'), peer, noSignal);
  await bothStartedP;
  assert.deepEqual(started, ['a', 'b']);
  release();
  const [ra, rb] = await Promise.all([pa, pb]);
  assert.deepEqual([json(ra), json(rb)], ['a', 'b']);
});

test('the signal reaches the handler, which can stop when it fires', async () => {
  let handlerSignal: AbortSignal | undefined;
  let entered!: () => void;
  const enteredP = new Promise<void>((resolve) => (entered = resolve));
  const dispatch = dispatcherFor({
    get_slow(ctx: HandlerContext) {
      handlerSignal = ctx.signal;
      entered();
      return new Promise((_, reject) => {
        ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true });
      });
    },
  });
  const ac = new AbortController();
  const pending = dispatch(event('slow'), peer, ac.signal);
  await enteredP;
  assert.equal(handlerSignal, ac.signal);
  assert.equal(handlerSignal.aborted, false);
  ac.abort(new DOMException('caller gave up', 'AbortError'));
  const r = await pending;
  assert.equal(r.code, 251);
  assert.deepEqual(
    [(json(r) as { exception: { class: string; message: string } }).exception.class, (json(r) as { exception: { message: string } }).exception.message],
    ['AbortError', 'caller gave up'],
  );
});

test('an already-aborted signal is passed through as is', async () => {
  let aborted: boolean | undefined;
  const dispatch = dispatcherFor({
    get_x(ctx: HandlerContext) {
      aborted = ctx.signal.aborted;
    },
  });
  await dispatch(event('x'), peer, AbortSignal.abort());
  assert.equal(aborted, true);
});

test('a parameter list too long to spread is a handler error, not a crash', async () => {
  const dispatch = dispatcherFor({ get_x: (..._args: unknown[]) => 1 });
  // V8 refuses to spread a few hundred thousand arguments (RangeError); the noun is bounded
  // only by the body limit, so a peer can send that many.
  const r = await dispatch(event(`x//${'a/'.repeat(1_000_000)}a`), peer, noSignal);
  assert.equal(r.code, 251);
  assert.equal((json(r) as { exception: { class: string } }).exception.class, 'RangeError');
});
