import { RateLimitedLog, type Logger } from '../log.js';

/** How many connected client names the line lists, so that a misspelling shows beside the right name. */
const LISTED_NAMES = 5;
/** A name is logged as given (the gateway admits node names, IP addresses and host names) up to this length. */
const MAX_LOGGED_NAME = 100;

/**
 * Says, at info, that an event waits for a client that has never connected to this server: a
 * misspelled name, or a client not started yet. Without it such a request waits the whole
 * connect-wait and ends with `no_connection` (503 at the gateway) with nothing in the log to
 * say why (issue 9).
 *
 * Once per name per window (a caller retrying does not repeat it), and at most
 * `maxNamesPerWindow` names per window, then one summary line at the window's end: the names
 * come from requests, so a flood of made-up names stays a few lines.
 */
export class NeverConnectedLog {
  readonly #log: Logger;
  readonly #perName: RateLimitedLog;
  readonly #allNames: RateLimitedLog;

  constructor(log: Logger, windowMs = 60_000, maxNamesPerWindow = 10) {
    this.#log = log;
    this.#perName = new RateLimitedLog(windowMs, 1);
    this.#allNames = new RateLimitedLog(windowMs, maxNamesPerWindow, (_key, suppressed, ms) =>
      log.info(
        { names: suppressed, windowS: ms / 1000 },
        `requests for ${suppressed} more client names that never connected were not logged in the last ${ms / 1000} s`,
      ),
    );
  }

  /**
   * Logs (rate-limited) that an event for `name` waits up to `waitMs` for that client.
   * `connectedNames` is called only when the line is written.
   */
  waiting(name: string, waitMs: number, connectedNames: () => string[]): void {
    if (!this.#log.isLevelEnabled('info')) return;
    const shown = name.length > MAX_LOGGED_NAME ? `${name.slice(0, MAX_LOGGED_NAME)}…` : name;
    this.#perName.log(name, () =>
      this.#allNames.log('', () => {
        const connected = connectedNames();
        const listed = connected.slice(0, LISTED_NAMES).join(', ') + (connected.length > LISTED_NAMES ? `, … (${connected.length})` : '');
        this.#log.info(
          { client: shown, waitS: waitMs / 1000, connected: connected.length },
          `a request for client ${JSON.stringify(shown)} waits up to ${waitMs / 1000} s (connect-wait) for it: ` +
            `no client of that name has connected since the server started; connected now: ${listed === '' ? 'none' : listed}`,
        );
      }),
    );
  }

  /** Reports a pending summary and clears the timers. */
  close(): void {
    this.#perName.close();
    this.#allNames.close();
  }
}
