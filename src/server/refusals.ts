import { channels } from '../diagnostics.js';
import { RateLimitedLog, type Logger } from '../log.js';

/** A refused peer, or an open pipe closed because its certificate became invalid. */
export interface Refusal {
  address: string;
  /** The short reason code (OpenSSL's `CERT_HAS_EXPIRED`, `CERT_REVOKED`, a TLS error code): metrics count by it. */
  code: string;
  /** What the `refused` event says; @default code */
  reason?: string;
  /** The peer's CN, when its certificate had one (peer text: already made safe). */
  cn?: string;
  /** The certificate came from a resumed TLS session and failed restpipe's re-check of it (issue 14). */
  resumed?: true;
  /** The log line and its fields. */
  message: string;
  fields: Record<string, unknown>;
  /**
   * Rate-limit the log line under this key: refusals a stranger can cause at will (every
   * connection) write a few lines per key and then one "N more suppressed" line per window.
   * Without it the line is always written (a drop the server decided on, once per pipe).
   */
  limitKey?: string;
}

/** What the server's `refused` event carries. */
export interface RefusedEvent {
  address: string;
  reason: string;
  cn?: string;
  /** The certificate came from a resumed TLS session and failed restpipe's re-check (issue 14). */
  resumed?: true;
}

/**
 * The one way the server reports a refusal (acceptor.ts: a certificate refused, a TLS handshake
 * that failed; cert-watch.ts: a live pipe revoked or expired): a warning in the log, the
 * diagnostics channel metrics count, and the `refused` event.
 */
export class Refusals {
  readonly #log: Logger;
  readonly #onRefused: (refusal: RefusedEvent) => void;
  // A storm of refused connections (scanners, a misconfigured fleet) writes a few lines per
  // reason and then one "N more suppressed" line per window, not one line per connection.
  // The field is `like`, not `key`: the CLI's logger redacts a field named `key` (issue 9).
  readonly #limited: RateLimitedLog;

  constructor(log: Logger, onRefused: (refusal: RefusedEvent) => void) {
    this.#log = log;
    this.#onRefused = onRefused;
    this.#limited = new RateLimitedLog(10_000, 5, (key, suppressed, windowMs) =>
      log.warn({ like: key, suppressed, windowS: windowMs / 1000 }, `${suppressed} more log lines like '${key}' suppressed in the last ${windowMs / 1000} s`),
    );
  }

  report(r: Refusal): void {
    if (r.limitKey === undefined) this.#log.warn(r.fields, r.message);
    else this.#limited.log(r.limitKey, (extra) => this.#log.warn({ ...r.fields, ...extra }, r.message));
    if (channels.refusal.hasSubscribers) channels.refusal.publish({ reason: r.code, address: r.address, ...(r.cn === undefined ? {} : { name: r.cn }) });
    this.#onRefused({ address: r.address, reason: r.reason ?? r.code, ...(r.cn === undefined ? {} : { cn: r.cn }), ...(r.resumed === undefined ? {} : { resumed: r.resumed }) });
  }

  /** Rate-limits another line a stranger can cause (a pipe that did not open) with the same window. */
  limit(key: string, write: (extra: { suppressed?: number }) => void): void {
    this.#limited.log(key, write);
  }

  /** Reports what it suppressed; leaves no timer. */
  close(): void {
    this.#limited.close();
  }
}
