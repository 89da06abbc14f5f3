// Bounded waits for tests: on an event, on a client status, on a condition. Every wait has a
// timeout and clears its timer and listeners whatever happens, so a failing test fails with a
// message instead of hanging, and a passing one leaves nothing behind.
import type { EventEmitter } from 'node:events';
import { createHook } from 'node:async_hooks';

import type { ClientStatus, RestpipeClient } from 'restpipe';

/** Rejects with `what` if `promise` has not settled within `ms`. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

type Listener = (...args: any[]) => void;

/**
 * The arguments of the next `event` from `emitter` for which `filter` returns true, within
 * `timeoutMs`. Arm it before doing what causes the event.
 */
export function onceEvent<A extends unknown[] = any[]>(
  emitter: EventEmitter | { on(e: string, l: Listener): unknown; off(e: string, l: Listener): unknown },
  event: string,
  { filter, timeoutMs = 5_000 }: { filter?: (...args: A) => boolean; timeoutMs?: number } = {},
): Promise<A> {
  return new Promise<A>((resolve, reject) => {
    const e = emitter as { on(e: string, l: Listener): unknown; off(e: string, l: Listener): unknown };
    const listener = (...args: unknown[]): void => {
      let ok: boolean;
      try {
        ok = filter === undefined || filter(...(args as A));
      } catch (err) {
        done();
        reject(err);
        return;
      }
      if (!ok) return;
      done();
      resolve(args as A);
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      e.off(event, listener);
    };
    e.on(event, listener);
  });
}

/** The next status of `client` that matches, within `timeoutMs`. */
export async function waitForStatus(
  client: RestpipeClient,
  match: (s: ClientStatus) => boolean,
  timeoutMs = 5_000,
): Promise<ClientStatus> {
  const [status] = await onceEvent<[ClientStatus]>(client, 'status', { filter: match, timeoutMs });
  return status;
}

/**
 * Waits until `condition()` holds, checking on every turn of the timers (5 ms), up to
 * `timeoutMs`. For state that has no event (table sizes draining after a close).
 */
export async function waitUntil(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Records every `event` of an emitter with the time it arrived (ms, performance.now()). */
export function record<A extends unknown[] = any[]>(
  emitter: EventEmitter | { on(e: string, l: Listener): unknown; off(e: string, l: Listener): unknown },
  event: string,
): { items: { at: number; args: A }[]; stop(): void } {
  const items: { at: number; args: A }[] = [];
  const e = emitter as { on(e: string, l: Listener): unknown; off(e: string, l: Listener): unknown };
  const listener = (...args: unknown[]): void => {
    items.push({ at: performance.now(), args: args as A });
  };
  e.on(event, listener);
  return { items, stop: () => e.off(event, listener) };
}

/** When `promise` settled (performance.now()), and how. Wrap it at creation, measure from any t0. */
export function settledAt<T>(promise: Promise<T>): Promise<{ at: number; value?: T; error?: unknown }> {
  return promise.then(
    (value) => ({ at: performance.now(), value }),
    (error: unknown) => ({ at: performance.now(), error }),
  );
}

/** The time `promise` took to settle, ms, with its outcome. */
export async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const t0 = performance.now();
  try {
    const value = await promise;
    return { ms: performance.now() - t0, value };
  } catch (error) {
    return { ms: performance.now() - t0, error };
  }
}

/**
 * Counts the timers (setTimeout/setInterval, ref'd or not) created by library code and not yet
 * cleared or fired. `process.getActiveResourcesInfo()` does not list unref'd timers, and the
 * library unrefs all of its own, so a leak check needs this. Install it before the timers are
 * made (at the top of a test file); only timers whose creation stack passes through `dist/src/`
 * are counted, so the test runner's own timers do not count.
 */
export function trackLibraryTimers(): { live(): string[]; count(): number; disable(): void } {
  // The Timeout objects themselves: `_destroyed` turns true synchronously when a timer is
  // cleared or has fired, whereas async_hooks' destroy callbacks arrive late, in batches.
  const timers = new Map<number, { timer: { _destroyed?: boolean }; where: string }>();
  const marker = '/dist/src/';
  const hook = createHook({
    init(asyncId, type, _trigger, resource) {
      if (type !== 'Timeout') return;
      const stack = new Error().stack ?? '';
      if (!stack.includes(marker)) return;
      const where = stack.split('\n').find((line) => line.includes(marker)) ?? '';
      timers.set(asyncId, { timer: resource as { _destroyed?: boolean }, where: where.trim() });
    },
    destroy(asyncId) {
      timers.delete(asyncId);
    },
  });
  hook.enable();
  const live = (): string[] => {
    const out: string[] = [];
    for (const [id, t] of timers) {
      if (t.timer._destroyed === true) timers.delete(id);
      else out.push(t.where);
    }
    return out;
  };
  return {
    live,
    count: () => live().length,
    disable: () => hook.disable(),
  };
}

/** Timers and handles that keep the event loop alive (ref'd only), by kind. */
export function activeResources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}
