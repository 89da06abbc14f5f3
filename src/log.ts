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
 */
export class RateLimitedLog {
  readonly #windowMs: number;
  readonly #burst: number;
  readonly #windows = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(windowMs = 10_000, burst = 5) {
    this.#windowMs = windowMs;
    this.#burst = burst;
  }

  /**
   * Calls `write` unless the key is over its burst in the current window. When a window closes
   * with lines suppressed, the next call reports how many through `obj.suppressed`.
   */
  log(key: string, write: (extra: { suppressed?: number }) => void): void {
    const now = Date.now();
    let w = this.#windows.get(key);
    if (w === undefined || now - w.start >= this.#windowMs) {
      const suppressed = w?.suppressed ?? 0;
      if (this.#windows.size > 1_000) this.#windows.clear(); // keys come from peers: stay bounded
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
    }
  }
}
