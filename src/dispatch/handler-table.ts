import { ErrorCode, RestpipeError } from '../errors.js';
import type { HandlerContext } from '../event.js';
import { type Logger, silentLogger } from '../log.js';
import { keepStreamingMark } from './streaming.js';

/**
 * A handler method's second argument: the event's mimetype and its body, JSON-decoded when
 * the mimetype is JSON, else a `Buffer` view of the bytes; `['', '']` for an empty event
 * (SPEC §5).
 */
export type PostData = [mimetype: string, data: unknown];

/** A handler method as the table holds it: bound to the handler instance. */
export type HandlerFn = (ctx: HandlerContext, postData: PostData, ...params: string[]) => unknown;

/**
 * The lifecycle hooks a handler may define (SPEC §5), with the arguments the library passes:
 * - client: `connect_success(retry_attempts, last_disconnected)`, `connect_fail(retry_attempts, last_disconnected)`;
 * - server: `connection_added(name, count)`, `connection_removed(name, count)`,
 *   `idle(waiting_since, duration_s)` (once a minute while no client is connected).
 */
export const HOOK_NAMES = ['connect_success', 'connect_fail', 'connection_added', 'connection_removed', 'idle'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** A lifecycle hook, bound to the handler instance; may be async. */
export type HookFn = (...args: unknown[]) => unknown;

/** The callable surface of a handler module, planned once at load (STYLE hot path 7). */
export interface HandlerTable {
  /**
   * The method named `method` (an event's `method`, built by `parseEventHead` from a checked
   * verb and noun: GET `time/utc` → `get_time_utc`), or `undefined`. One Map lookup; the user's
   * object is never indexed here.
   */
  lookup(method: string): HandlerFn | undefined;
  /** The handler method names found, sorted (for logs and `/status`). */
  readonly methodNames: readonly string[];
  /** The lifecycle hooks found, bound to the instance. */
  readonly hooks: Readonly<Partial<Record<HookName, HookFn>>>;
  /**
   * Calls a hook if the handler has it. Resolves with `undefined` on success (or when there is
   * no such hook) and with the error when the hook throws or rejects, so that a broken hook can
   * never break the pipe; the caller logs it. Never rejects. A hook that never settles leaves
   * this promise pending, so callers should not await it on a path that must progress.
   */
  callHook(name: HookName, ...args: unknown[]): Promise<Error | undefined>;
}

/** Options of {@link buildHandlerTable}. */
export interface HandlerTableOptions {
  /** Warned about methods that look like handlers but have a name that can never be called. @default silent */
  logger?: Logger;
}

/**
 * `VERB_NOUN` where the noun is what `parseNoun` lets through with `/` mapped to `_`: so every
 * name here is reachable and nothing else is. Matched against the whole name, so `get_a.b`,
 * `get_a b` and `GET_time` are not handlers.
 */
const HANDLER_NAME = /^(?:get|post|put|delete|patch)_[A-Za-z0-9_-]+$/;
/** Case-insensitive and with any tail: names a user probably meant as handlers, for the warning. */
const LOOKS_LIKE_HANDLER = /^(?:get|post|put|delete|patch)_/i;
const HOOK_SET: ReadonlySet<string> = new Set(HOOK_NAMES);
/** How many names an error message lists before it says "and N more". */
const MAX_LISTED = 20;

/**
 * Builds the dispatch table once, when the handler module is loaded (SPEC §5).
 *
 * `handlers` is an object, or a class (any constructor) that is constructed with no arguments.
 * Handler methods are the functions named `VERB_NOUN` (verb get, post, put, delete or patch;
 * the rest letters, digits, `_`, `-`) among the instance's own properties and its prototype
 * chain up to, not including, `Object.prototype`, so inherited methods of a user base class
 * count and `constructor`, `toString`, `__proto__` and the like can never be called. A name
 * shadows the same name further up the chain, as in JavaScript. Accessor properties are
 * skipped without being read, so loading runs no user getter. Methods are bound to the
 * instance. The hooks of {@link HOOK_NAMES} are collected the same way.
 *
 * @throws RestpipeError `handler_invalid` when `handlers` is neither an object nor a
 *   constructor, when constructing it throws, or when it has neither handler methods nor hooks
 *   (the message lists the names it found instead).
 */
export function buildHandlerTable(handlers: unknown, opts: HandlerTableOptions = {}): HandlerTable {
  const log = opts.logger ?? silentLogger;
  const instance = instantiate(handlers);
  const what = describeHandlers(handlers, instance);

  const methods = new Map<string, HandlerFn>();
  const hooks: Partial<Record<HookName, HookFn>> = {};
  const ignored: string[] = [];
  try {
    const seen = new Set<string>();
    for (let o: object | null = instance; o !== null && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
      for (const name of Object.getOwnPropertyNames(o)) {
        if (seen.has(name)) continue;
        seen.add(name);
        const desc = Object.getOwnPropertyDescriptor(o, name);
        const isData = desc !== undefined && 'value' in desc;
        const value: unknown = isData ? desc.value : undefined;
        if (typeof value !== 'function') {
          ignored.push(`${name} (${isData ? 'not a function' : 'accessor'})`);
        } else if (HANDLER_NAME.test(name)) {
          methods.set(name, keepStreamingMark(value, (value as HandlerFn).bind(instance)));
        } else if (HOOK_SET.has(name)) {
          hooks[name as HookName] = (value as HookFn).bind(instance);
        } else if (name !== 'constructor') {
          ignored.push(`${name}()`);
          if (LOOKS_LIKE_HANDLER.test(name)) {
            log.warn(
              { handlers: what, method: name },
              'handler method can never be called: name it VERB_NOUN with a lower-case verb and letters, digits, _ and -',
            );
          }
        }
      }
    }
  } catch (err) {
    // Only a Proxy's traps, or a module namespace read before its bindings are initialised, throw here.
    throw new RestpipeError(ErrorCode.HANDLER_INVALID, `${what}: cannot read its methods: ${safeString(err)}`, { cause: err });
  }

  const hookNames = Object.keys(hooks);
  if (methods.size === 0 && hookNames.length === 0) {
    throw new RestpipeError(
      ErrorCode.HANDLER_INVALID,
      `${what} has no handler methods (named VERB_NOUN, e.g. get_time) and no lifecycle hooks (${HOOK_NAMES.join(', ')}); ` +
        `found ${ignored.length === 0 ? 'no properties at all' : listNames(ignored)}`,
    );
  }

  const methodNames = Object.freeze([...methods.keys()].sort());
  const frozenHooks = Object.freeze(hooks);
  return {
    lookup: (method) => methods.get(method),
    methodNames,
    hooks: frozenHooks,
    async callHook(name, ...args) {
      const hook = frozenHooks[name];
      if (hook === undefined) return undefined;
      try {
        await hook(...args);
        return undefined;
      } catch (err) {
        return err instanceof Error ? err : new Error(`hook ${name} threw a non-Error value: ${safeString(err)}`, { cause: err });
      }
    },
  };
}

function instantiate(handlers: unknown): object {
  if (typeof handlers === 'function') {
    if (!isConstructor(handlers)) {
      throw new RestpipeError(
        ErrorCode.HANDLER_INVALID,
        `handlers must be an object or a class, got a function that is not a constructor (${handlers.name || 'anonymous'}: arrow, async or method)`,
      );
    }
    try {
      return new (handlers as new () => object)();
    } catch (err) {
      throw new RestpipeError(ErrorCode.HANDLER_INVALID, `constructing handler class ${handlers.name || 'anonymous'} failed: ${safeString(err)}`, {
        cause: err,
      });
    }
  }
  if (typeof handlers !== 'object' || handlers === null) {
    throw new RestpipeError(
      ErrorCode.HANDLER_INVALID,
      `handlers must be an object or a class, got ${handlers === null ? 'null' : typeof handlers}`,
    );
  }
  return handlers;
}

/**
 * Tells constructors from arrow, async and method functions without running any of them:
 * `Reflect.construct` checks its `newTarget` is a constructor before it calls `String`.
 */
function isConstructor(fn: Function): boolean {
  try {
    Reflect.construct(String, [], fn);
    return true;
  } catch {
    return false;
  }
}

function describeHandlers(handlers: unknown, instance: object): string {
  if (typeof handlers === 'function') return `handler class ${handlers.name || 'anonymous'}`;
  try {
    const proto = Object.getPrototypeOf(instance) as { constructor?: unknown } | null;
    const ctor = proto !== null && proto !== Object.prototype ? proto.constructor : undefined;
    return typeof ctor === 'function' && ctor.name !== '' ? `handler object (${ctor.name})` : 'handler object';
  } catch {
    return 'handler object';
  }
}

function listNames(names: string[]): string {
  const shown = names.slice(0, MAX_LISTED).join(', ');
  return names.length > MAX_LISTED ? `${shown} and ${names.length - MAX_LISTED} more` : shown;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return typeof value;
  }
}
