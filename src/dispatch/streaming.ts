/**
 * The opt-in for handlers that take their body as a stream (SPEC §9). Registered with
 * `Symbol.for`, so a handler module that imports its own copy of restpipe marks functions this
 * copy recognises.
 */
const STREAMING: unique symbol = Symbol.for('restpipe.streaming');

type Marked = { [STREAMING]?: true };

/**
 * Marks a handler method as streaming: it is called as soon as the event's head arrives, with
 * `ctx.body` the live request body (a Readable; an 'error' if it breaks off, never a clean end)
 * and `postData` `[mimetype, undefined]`, instead of after the body was buffered (up to
 * `--max-body`). Returns the same function.
 *
 * ```js
 * export class Files {
 *   post_upload = streaming(async (ctx, [mimetype], name) => {
 *     await pipeline(ctx.body, createWriteStream(name));
 *     return { stored: name };
 *   });
 * }
 * ```
 * @throws TypeError when `fn` is not a function.
 */
export function streaming<F extends (...args: never[]) => unknown>(fn: F): F {
  if (typeof fn !== 'function') throw new TypeError('streaming() takes a handler function');
  (fn as Marked)[STREAMING] = true;
  return fn;
}

/** Whether a function was marked by {@link streaming} (by any copy of restpipe). */
export function isStreaming(fn: unknown): boolean {
  return typeof fn === 'function' && (fn as Marked)[STREAMING] === true;
}

/** Carries the mark over to a bound copy of a handler method. */
export function keepStreamingMark<F>(from: unknown, to: F): F {
  if (isStreaming(from)) (to as Marked)[STREAMING] = true;
  return to;
}
