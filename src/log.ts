/**
 * The logger the library writes to: the subset of pino's API it uses. The library never makes a
 * logger of its own; the CLI passes a pino instance, library users pass theirs or get silence.
 */
export interface Logger {
  error(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
  isLevelEnabled(level: 'error' | 'warn' | 'info' | 'debug'): boolean;
}

const noop = (): void => {};

/** A logger that drops everything (the library's default). */
export const silentLogger: Logger = {
  error: noop,
  warn: noop,
  info: noop,
  debug: noop,
  child: () => silentLogger,
  isLevelEnabled: () => false,
};

/**
 * Passes at most `burst` lines per `windowMs` for each key and then one summary line with the
 * number suppressed, so that a flood of refused connections cannot drown the log.
 *
 * Without `onSuppressed`, the count rides on the next line of the key after its window closed
 * (as `obj.suppressed`). That line may never come: a storm of 1,000 refusals that stops leaves
 * no trace of its size. With `onSuppressed`, a timer at the end of each window that suppressed
 * anything reports the count at once (and the next line does not repeat it); `close()` reports
 * what is pending and clears the timers, so a closed owner leaves no timer behind.
 */
export class RateLimitedLog {
  readonly #windowMs: number;
  readonly #burst: number;
  readonly #onSuppressed: ((key: string, suppressed: number, windowMs: number) => void) | undefined;
  readonly #windows = new Map<string, { start: number; count: number; suppressed: number; timer?: NodeJS.Timeout }>();

  constructor(windowMs = 10_000, burst = 5, onSuppressed?: (key: string, suppressed: number, windowMs: number) => void) {
    this.#windowMs = windowMs;
    this.#burst = burst;
    this.#onSuppressed = onSuppressed;
  }

  /**
   * Calls `write` unless the key is over its burst in the current window. When a window closes
   * with lines suppressed, the next call reports how many through `obj.suppressed` (unless an
   * `onSuppressed` callback already did).
   */
  log(key: string, write: (extra: { suppressed?: number }) => void): void {
    const now = Date.now();
    let w = this.#windows.get(key);
    if (w === undefined || now - w.start >= this.#windowMs) {
      if (w !== undefined) this.#flush(key, w);
      const suppressed = w?.suppressed ?? 0;
      if (this.#windows.size > 1_000) this.close(); // keys come from peers: stay bounded
      w = { start: now, count: 0, suppressed: 0 };
      this.#windows.set(key, w);
      if (suppressed > 0) {
        w.count++;
        write({ suppressed });
        return;
      }
    }
    if (w.count < this.#burst) {
      w.count++;
      write({});
    } else {
      w.suppressed++;
      if (this.#onSuppressed !== undefined && w.timer === undefined) {
        const window = w;
        w.timer = setTimeout(() => this.#flush(key, window), Math.max(0, window.start + this.#windowMs - now));
        w.timer.unref();
      }
    }
  }

  /** Reports every pending suppressed count (with `onSuppressed`) and forgets all windows. */
  close(): void {
    for (const [key, w] of this.#windows) this.#flush(key, w);
    this.#windows.clear();
  }

  #flush(key: string, w: { suppressed: number; timer?: NodeJS.Timeout }): void {
    if (w.timer !== undefined) {
      clearTimeout(w.timer);
      delete w.timer;
    }
    if (this.#onSuppressed === undefined || w.suppressed === 0) return;
    const n = w.suppressed;
    w.suppressed = 0;
    this.#onSuppressed(key, n, this.#windowMs);
  }
}
