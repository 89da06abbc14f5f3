import { test } from 'node:test';
import assert from 'node:assert/strict';

import { buildHandlerTable, type HandlerTable } from '../../../src/dispatch/handler-table.js';
import { hasErrorCode } from '../../../src/errors.js';
import { handlerMethodName, type Verb } from '../../../src/event.js';
import type { Logger } from '../../../src/log.js';

/** The table is looked up by an event's method name, which parseEventHead builds from verb and noun path. */
const lookupIn = (table: HandlerTable, verb: Verb, path: string) => table.lookup(handlerMethodName(verb, path));

const isHandlerInvalid = (err: unknown): boolean => hasErrorCode(err, 'handler_invalid');

test('an object: its VERB_NOUN functions are handlers, bound to it', () => {
  const handlers = {
    greeting: 'hi',
    get_time() {
      return 1;
    },
    post_echo(this: { greeting: string }) {
      return this.greeting;
    },
    helper() {
      return 2;
    },
  };
  const table = buildHandlerTable(handlers);
  assert.deepEqual(table.methodNames, ['get_time', 'post_echo']);
  const echo = lookupIn(table, 'post', 'echo');
  assert.ok(echo);
  // Called detached, as the dispatcher does: the binding must come from the table.
  assert.equal(echo.call(undefined, {} as never, ['', '']), 'hi');
  assert.equal(lookupIn(table, 'get', 'helper'), undefined);
  assert.equal(lookupIn(table, 'post', 'time'), undefined);
});

test('a class is constructed once with no arguments and its methods are bound to the instance', () => {
  const calls: number[] = [];
  class Handlers {
    readonly prefix: string;
    constructor(...args: unknown[]) {
      calls.push(args.length);
      this.prefix = 'p:';
    }
    get_name(_ctx: unknown, _pd: unknown, x = '') {
      return this.prefix + x;
    }
  }
  const table = buildHandlerTable(Handlers);
  assert.deepEqual(calls, [0]);
  assert.equal(lookupIn(table, 'get', 'name')?.({} as never, ['', ''], 'x'), 'p:x');
});

test('an old-style constructor function is constructed too', () => {
  function Legacy(this: { n: number }) {
    this.n = 7;
  }
  Legacy.prototype.get_n = function (this: { n: number }) {
    return this.n;
  };
  const table = buildHandlerTable(Legacy);
  assert.equal(lookupIn(table, 'get', 'n')?.({} as never, ['', '']), 7);
});

test('class fields holding arrow functions are handlers', () => {
  class WithFields {
    value = 3;
    get_value = () => this.value;
  }
  assert.equal(lookupIn(buildHandlerTable(WithFields), 'get', 'value')?.({} as never, ['', '']), 3);
});

test('inherited methods of a user base class are reachable; nearer definitions win', () => {
  class Base {
    get_base() {
      return 'base';
    }
    get_shadowed() {
      return 'base';
    }
  }
  class Child extends Base {
    get_child() {
      return 'child';
    }
    override get_shadowed() {
      return 'child';
    }
  }
  const table = buildHandlerTable(Child);
  assert.deepEqual(table.methodNames, ['get_base', 'get_child', 'get_shadowed']);
  assert.equal(lookupIn(table, 'get', 'base')?.({} as never, ['', '']), 'base');
  assert.equal(lookupIn(table, 'get', 'shadowed')?.({} as never, ['', '']), 'child');
});

test('a nested noun maps to underscores: time/utc → get_time_utc', () => {
  const table = buildHandlerTable({ get_time_utc: () => 'utc', 'delete_a-b': () => 'dash' });
  assert.equal(lookupIn(table, 'get', 'time/utc')?.({} as never, ['', '']), 'utc');
  assert.equal(lookupIn(table, 'delete', 'a-b')?.({} as never, ['', '']), 'dash');
});

test('Object.prototype members are never reachable, even when polluted with a VERB_NOUN name', () => {
  const proto = Object.prototype as unknown as Record<string, unknown>;
  proto['get_polluted'] = () => 'pwned';
  try {
    class H {
      get_ok() {
        return 1;
      }
    }
    for (const handlers of [{ get_ok: () => 1 }, H]) {
      const table = buildHandlerTable(handlers);
      assert.deepEqual(table.methodNames, ['get_ok']);
      assert.equal(lookupIn(table, 'get', 'polluted'), undefined);
      for (const noun of ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']) {
        for (const verb of ['get', 'post', 'put', 'delete', 'patch'] as const) {
          assert.equal(lookupIn(table, verb, noun), undefined, `${verb} ${noun}`);
          assert.equal(table.lookup(noun), undefined, noun);
        }
      }
    }
  } finally {
    delete proto['get_polluted'];
  }
});

test('names with other characters or an upper-case verb are not handlers, and are warned about', () => {
  const warnings: unknown[] = [];
  const logger: Logger = {
    error() {},
    warn: (obj) => void warnings.push(obj),
    info() {},
    debug() {},
    child: () => logger,
    isLevelEnabled: () => true,
  };
  const handlers = {
    get_ok: () => 1,
    'get_a.b': () => 2,
    'get_a b': () => 3,
    'get_a/b': () => 4,
    get_é: () => 5,
    get_: () => 6,
    GET_time: () => 7,
    options_x: () => 8,
    getTime: () => 9,
  };
  const table = buildHandlerTable(handlers, { logger });
  assert.deepEqual(table.methodNames, ['get_ok']);
  const warned = warnings.map((w) => (w as { method: string }).method).sort();
  assert.deepEqual(warned, ['GET_time', 'get_', 'get_a b', 'get_a.b', 'get_a/b', 'get_é'].sort());
});

test('accessors are skipped without running the getter', () => {
  let getterRan = false;
  const handlers = {
    get get_time() {
      getterRan = true;
      return () => 1;
    },
    get_ok: () => 1,
  };
  const table = buildHandlerTable(handlers);
  assert.equal(getterRan, false);
  assert.deepEqual(table.methodNames, ['get_ok']);
});

test('symbol-keyed and null-prototype objects work', () => {
  const handlers = Object.assign(Object.create(null) as object, { get_x: () => 'x', [Symbol('get_y')]: () => 'y' });
  assert.deepEqual(buildHandlerTable(handlers).methodNames, ['get_x']);
});

test('not an object or a class → handler_invalid', () => {
  for (const bad of [null, undefined, 5, 'get_time', true, 10n, Symbol('x')]) {
    assert.throws(() => buildHandlerTable(bad), isHandlerInvalid, String(bad));
  }
  assert.throws(
    () => buildHandlerTable(() => ({})),
    (err: Error) => isHandlerInvalid(err) && /not a constructor/.test(err.message),
  );
  assert.throws(() => buildHandlerTable(async function f() {}), isHandlerInvalid);
});

test('a constructor that throws → handler_invalid with the cause', () => {
  const boom = new Error('no db');
  class Broken {
    constructor() {
      throw boom;
    }
  }
  assert.throws(
    () => buildHandlerTable(Broken),
    (err: Error) => isHandlerInvalid(err) && err.cause === boom && /Broken/.test(err.message) && /no db/.test(err.message),
  );
});

test('no handler methods and no hooks → handler_invalid listing what was found', () => {
  class Nothing {
    size = 1;
    getTime() {
      return 1;
    }
  }
  assert.throws(
    () => buildHandlerTable(Nothing),
    (err: Error) =>
      isHandlerInvalid(err) &&
      err.message.includes('handler class Nothing') &&
      err.message.includes('getTime()') &&
      err.message.includes('size (not a function)') &&
      !err.message.includes('constructor'),
  );
  assert.throws(
    () => buildHandlerTable({}),
    (err: Error) => isHandlerInvalid(err) && err.message.includes('no properties at all'),
  );
  assert.throws(() => buildHandlerTable({ get_time: 5 }), (err: Error) => isHandlerInvalid(err) && err.message.includes('get_time (not a function)'));
});

test('hooks are collected by name, bound, and a handler with only hooks is valid', async () => {
  const seen: unknown[][] = [];
  class Hooks {
    tag = 'h';
    connection_added(name: string, count: number) {
      seen.push([this.tag, name, count]);
    }
    async idle(since: Date, durationS: number) {
      seen.push([this.tag, since, durationS]);
    }
  }
  const table = buildHandlerTable(Hooks);
  assert.deepEqual(table.methodNames, []);
  assert.deepEqual(Object.keys(table.hooks).sort(), ['connection_added', 'idle']);
  const since = new Date(0);
  assert.equal(await table.callHook('connection_added', 'alice', 1), undefined);
  assert.equal(await table.callHook('idle', since, 60), undefined);
  assert.equal(await table.callHook('connect_fail', 1, null), undefined, 'a missing hook is a no-op');
  assert.deepEqual(seen, [
    ['h', 'alice', 1],
    ['h', since, 60],
  ]);
});

test('callHook catches sync throws, rejections and non-Error throws, and never rejects', async () => {
  const syncErr = new Error('sync');
  const asyncErr = new TypeError('async');
  const table = buildHandlerTable({
    connect_success() {
      throw syncErr;
    },
    async connect_fail() {
      throw asyncErr;
    },
    connection_removed() {
      throw 'a string';
    },
    connection_added() {
      return Promise.reject(undefined);
    },
  });
  assert.equal(await table.callHook('connect_success', 0, null), syncErr);
  assert.equal(await table.callHook('connect_fail', 3, new Date()), asyncErr);
  const wrapped = await table.callHook('connection_removed', 'x', 0);
  assert.ok(wrapped instanceof Error);
  assert.equal(wrapped.cause, 'a string');
  assert.match(wrapped.message, /connection_removed.*a string/);
  const fromUndefined = await table.callHook('connection_added', 'x', 1);
  assert.ok(fromUndefined instanceof Error);
});

test('the table is frozen: later changes to the handler object do not change dispatch', () => {
  const handlers: Record<string, unknown> = { get_a: () => 'a' };
  const table = buildHandlerTable(handlers);
  handlers['get_b'] = () => 'b';
  handlers['get_a'] = () => 'changed';
  assert.equal(lookupIn(table, 'get', 'b'), undefined);
  assert.equal(lookupIn(table, 'get', 'a')?.({} as never, ['', '']), 'a');
  assert.ok(Object.isFrozen(table.methodNames));
  assert.ok(Object.isFrozen(table.hooks));
});
