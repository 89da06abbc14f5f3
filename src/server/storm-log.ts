import { RateLimitedLog, type Logger } from '../log.js';

/** Per-connection lines let through per kind and second before a storm is summarised. */
const LINES_PER_SECOND = 10;

/**
 * The server's per-connection info lines ('client NAME connected' / 'disconnected') in a
 * reconnect storm: after a restart or a network outage thousands of clients come or go within
 * seconds, and a line each (5,000 JSON lines through pino and the journal) costs CPU when it
 * is scarcest and drowns everything else. The first {@link LINES_PER_SECOND} of each kind in a
 * second are written; the rest become one line per second: `N more clients connected in the
 * last 1 s (M connected now)` (issue 14).
 */
export class StormLog {
  readonly #limiter: RateLimitedLog;

  /** @param clientCount the number of connected clients, for the summary line. */
  constructor(log: Logger, clientCount: () => number) {
    this.#limiter = new RateLimitedLog(1_000, LINES_PER_SECOND, (kind, suppressed, windowMs) =>
      log.info(
        { kind, more: suppressed, windowS: windowMs / 1000, clients: clientCount() },
        `${suppressed} more clients ${kind} in the last ${windowMs / 1000} s (${clientCount()} connected now)`,
      ),
    );
  }

  /** Writes a line of `kind` ('connected', 'disconnected') unless a storm of them is being summarised. */
  log(kind: 'connected' | 'disconnected', write: () => void): void {
    this.#limiter.log(kind, write);
  }

  /** Reports what is pending and clears its timer. */
  close(): void {
    this.#limiter.close();
  }
}
