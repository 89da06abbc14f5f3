import { X509Certificate } from 'node:crypto';
import { x509CommonName } from './certificate.js';
import type { Logger } from './log.js';
import type { CertificateExpiry } from './sender.js';
import { MAX_TIMER_MS } from './options/defaults.js';
import { invalidOption } from './options/validate.js';

/**
 * Certificate expiry, before and when it bites (SPEC §6, §11), for both roles: a pipe outlives
 * the handshake that checked its peer's certificate, so whoever owns the pipe ends it at the
 * peer certificate's expiry (the server for each client's, a client for the server's), and
 * each node warns ahead of time about the certificates it depends on: its own, its CA's, its
 * peers'. The timers run at wall-clock instants days ahead; setTimeout holds at most ~24.8
 * days, so a later instant is reached in steps.
 */

const DAY_MS = 86_400_000;
/** The default warnings: 30, 7 and 1 days before a certificate's notAfter. */
export const DEFAULT_EXPIRY_WARNINGS_MS: readonly number[] = [30 * DAY_MS, 7 * DAY_MS, DAY_MS];
/** Certificates remembered as warned about (fingerprint × threshold); past it the memory starts over. */
const MAX_WARNED = 10_000;

/** Options for the expiry warnings, on both roles' pipe ends. */
export interface CertificateExpiryOptions {
  /**
   * How long before a certificate's notAfter to warn, ms (each once per certificate); [] for
   * none. Tests use seconds. @default 30, 7 and 1 days
   */
  expiryWarningsMs?: readonly number[];
  /** Server with a CRL: how long before the CRL's nextUpdate to warn (once per CRL). @default 1 day */
  crlWarningMs?: number;
}

/** Checks {@link CertificateExpiryOptions.expiryWarningsMs}: longest first, duplicates dropped. @throws RestpipeError invalid_option */
export function resolveExpiryWarnings(value: readonly number[] | undefined): number[] {
  if (value === undefined) return [...DEFAULT_EXPIRY_WARNINGS_MS];
  if (!Array.isArray(value) || value.some((ms) => typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0)) {
    throw invalidOption(`expiryWarningsMs must be a list of positive numbers of milliseconds, got ${JSON.stringify(value)}`);
  }
  return [...new Set(value)].sort((a, b) => b - a);
}

/** Checks {@link CertificateExpiryOptions.crlWarningMs}. @throws RestpipeError invalid_option */
export function resolveCrlWarning(value: number | undefined): number {
  if (value === undefined) return DAY_MS;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) throw invalidOption(`crlWarningMs must be a positive number of milliseconds, got ${JSON.stringify(value)}`);
  return value;
}

/**
 * Work at wall-clock instants, however far ahead, on one timer for all of it (unref'd). A server
 * watches each client's certificate twice (its expiry, its next warning): a timer each was ~0.5 KiB
 * of every pipe (issue 14, idle memory per pipe). The timer is armed for the earliest instant;
 * when it fires, every entry due runs and it is armed again for the next. setTimeout holds at
 * most ~24.8 days, so a later instant is reached in steps.
 */
export class WallClockSchedule<K, V> {
  readonly #due = new Map<K, { atMs: number; value: V }>();
  readonly #onDue: (key: K, value: V) => void;
  #timer: NodeJS.Timeout | undefined;
  #armedAtMs = Number.POSITIVE_INFINITY;

  /** `onDue` runs for each entry when its instant comes (once; the entry is gone by then). */
  constructor(onDue: (key: K, value: V) => void) {
    this.#onDue = onDue;
  }

  /** Entries waiting. */
  get size(): number {
    return this.#due.size;
  }

  /** At `atMs` (ms since the epoch), `onDue(key, value)` runs; replaces what `key` had. */
  set(key: K, atMs: number, value: V): void {
    this.#due.set(key, { atMs, value });
    if (atMs < this.#armedAtMs) this.#arm(atMs);
  }

  /** Nothing runs for `key` any more. */
  delete(key: K): void {
    if (this.#due.delete(key) && this.#due.size === 0) this.#disarm();
  }

  /** Nothing runs any more; no timer is left. */
  clear(): void {
    this.#due.clear();
    this.#disarm();
  }

  #arm(atMs: number): void {
    clearTimeout(this.#timer);
    this.#armedAtMs = atMs;
    this.#timer = setTimeout(() => this.#fire(), Math.min(MAX_TIMER_MS, Math.max(0, atMs - Date.now())));
    this.#timer.unref();
  }

  #disarm(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAtMs = Number.POSITIVE_INFINITY;
  }

  #fire(): void {
    this.#timer = undefined;
    this.#armedAtMs = Number.POSITIVE_INFINITY;
    const now = Date.now();
    const due: Array<[K, V]> = [];
    let next = Number.POSITIVE_INFINITY;
    for (const [key, entry] of this.#due) {
      if (entry.atMs <= now) {
        this.#due.delete(key);
        due.push([key, entry.value]);
      } else if (entry.atMs < next) next = entry.atMs;
    }
    if (next !== Number.POSITIVE_INFINITY) this.#arm(next);
    // After re-arming: what runs may set or delete entries.
    for (const [key, value] of due) this.#onDue(key, value);
  }
}

/**
 * A timer per open pipe at its peer certificate's expiry: the mechanism both the server
 * (cert-watch.ts, for each client) and a client (for the server) use to end a pipe whose peer
 * is no longer valid. The instant is notAfter + 1 s: OpenSSL counts notAfter's last second as
 * valid, so a reconnect in that second would still be let in. All pipes share one timer.
 */
export class PeerExpiryTimers<P extends object> {
  readonly #schedule = new WallClockSchedule<P, { validToMs: number; onExpired: (validTo: Date, pipe: P) => void }>((pipe, { validToMs, onExpired }) =>
    onExpired(new Date(validToMs), pipe),
  );

  /**
   * At `validToMs` + 1 s, `onExpired` runs for `pipe` (unless untracked first). A date that does
   * not parse arms nothing. `onExpired` is given the pipe, so one function can serve them all.
   */
  track(pipe: P, validToMs: number, onExpired: (validTo: Date, pipe: P) => void): void {
    this.untrack(pipe);
    if (!Number.isFinite(validToMs)) return;
    this.#schedule.set(pipe, validToMs + 1_000, { validToMs, onExpired });
  }

  /** The pipe closed: its timer goes. */
  untrack(pipe: P): void {
    this.#schedule.delete(pipe);
  }

  /** No timer is left. */
  close(): void {
    this.#schedule.clear();
  }
}

/** What a warning is about. */
export interface WatchedCertificate {
  /** Tells certificates apart (a renewed one is another); the SHA-256 fingerprint. */
  readonly id: string;
  /** How the log names it: `this node's certificate 'hub'`, `client 'sensor-1''s certificate`. */
  readonly what: string;
  readonly notAfterMs: number;
  /** What to do, after the warning. @default 'renew it before then' */
  readonly advice?: string;
}

/**
 * Warns in the log ahead of each watched certificate's expiry, at each threshold once per
 * certificate (a client that reconnects is not warned about again). A certificate watched when it is already past some thresholds gets one warning, for
 * the nearest, not one per threshold passed.
 */
export class ExpiryWarnings {
  readonly #thresholdsMs: readonly number[];
  readonly #log: Logger;
  /** Each watched certificate's next warning, by id. */
  readonly #next = new WallClockSchedule<string, { cert: WatchedCertificate; thresholdMs: number }>((_id, { cert, thresholdMs }) => {
    this.#warn(cert, thresholdMs);
    this.#armNext(cert);
  });
  /** `id|threshold` already warned about. */
  readonly #warned = new Set<string>();

  constructor(thresholdsMs: readonly number[], log: Logger) {
    this.#thresholdsMs = thresholdsMs;
    this.#log = log;
  }

  /** Starts (or, for a known id, goes on) watching a certificate. */
  watch(cert: WatchedCertificate): void {
    if (this.#thresholdsMs.length === 0 || !Number.isFinite(cert.notAfterMs)) return;
    this.#next.delete(cert.id);
    const now = Date.now();
    // Thresholds passed already: one warning for the nearest; those not reached: one at a time.
    const passed = this.#thresholdsMs.filter((t) => cert.notAfterMs - t <= now);
    if (passed.length > 0 && cert.notAfterMs > now) {
      for (const t of passed.slice(0, -1)) this.#remember(`${cert.id}|${t}`);
      this.#warn(cert, passed[passed.length - 1]!);
    }
    this.#armNext(cert);
  }

  /** Stops watching (a peer left, an identity was replaced); what was warned is remembered. */
  unwatch(id: string): void {
    this.#next.delete(id);
  }

  /** No timer is left. */
  close(): void {
    this.#next.clear();
  }

  #armNext(cert: WatchedCertificate): void {
    const now = Date.now();
    const next = this.#thresholdsMs.find((t) => cert.notAfterMs - t > now);
    if (next === undefined) this.#next.delete(cert.id);
    else this.#next.set(cert.id, cert.notAfterMs - next, { cert, thresholdMs: next });
  }

  #warn(cert: WatchedCertificate, thresholdMs: number): void {
    const key = `${cert.id}|${thresholdMs}`;
    if (this.#warned.has(key)) return;
    this.#remember(key);
    const leftMs = cert.notAfterMs - Date.now();
    const notAfter = new Date(cert.notAfterMs).toISOString();
    this.#log.warn(
      { certificate: cert.what, notAfter, expiresInS: Math.round(leftMs / 1000), thresholdS: thresholdMs / 1000 },
      `${cert.what} expires in ${describeDuration(leftMs)} (at ${notAfter}): ${cert.advice ?? 'renew it before then'}`,
    );
  }

  #remember(key: string): void {
    if (this.#warned.size >= MAX_WARNED) this.#warned.clear();
    this.#warned.add(key);
  }
}

/** `2 days 3 h`, `5 h 12 min`, `42 s`: a time left, as people read it. */
export function describeDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const days = Math.floor(s / 86_400);
  const hours = Math.floor((s % 86_400) / 3_600);
  const minutes = Math.floor((s % 3_600) / 60);
  if (days > 0) return `${days} day${days === 1 ? '' : 's'}${hours > 0 ? ` ${hours} h` : ''}`;
  if (hours > 0) return `${hours} h${minutes > 0 ? ` ${minutes} min` : ''}`;
  if (minutes > 0) return `${minutes} min`;
  return `${s} s`;
}

/** A certificate's name (CN), notAfter and fingerprint, from PEM or DER; undefined when it does not parse. */
export interface CertificateDates {
  readonly name: string;
  readonly notAfter: Date;
  readonly fingerprint256: string;
}

/** Reads {@link CertificateDates} of the first certificate in `pem`. */
export function certificateDates(pem: string | Buffer | undefined): CertificateDates | undefined {
  if (pem === undefined) return undefined;
  try {
    const cert = new X509Certificate(pem);
    return { name: x509CommonName(cert), notAfter: new Date(cert.validTo), fingerprint256: cert.fingerprint256 };
  } catch {
    return undefined;
  }
}

/**
 * The certificates a node depends on (its own, its CA's, its peers') and their warnings: what
 * `GET /status` and the expiry gauge show, for the server and a client alike.
 */
export class NodeCertificates {
  readonly #role: 'server' | 'client';
  readonly #warnings: ExpiryWarnings;
  readonly #crlWarnings: ExpiryWarnings;
  #own: CertificateExpiry[] = [];
  #ownIds: string[] = [];
  /** By pipe: the date as a number (a Date per pipe was ~0.1 KiB of every idle pipe; issue 14). */
  readonly #peers = new Map<string, { role: CertificateExpiry['role']; name: string; notAfterMs: number; id: string }>();

  constructor(role: 'server' | 'client', log: Logger, options: CertificateExpiryOptions) {
    this.#role = role;
    this.#warnings = new ExpiryWarnings(resolveExpiryWarnings(options.expiryWarningsMs), log);
    this.#crlWarnings = new ExpiryWarnings([resolveCrlWarning(options.crlWarningMs)], log);
  }

  /** This node's certificate and CA (at start, and after an identity reload): recorded and watched. */
  setIdentity(certPem: string | Buffer | Array<string | Buffer>, caPem: string | Buffer | Array<string | Buffer>): void {
    for (const id of this.#ownIds) this.#warnings.unwatch(id);
    const own = certificateDates(Array.isArray(certPem) ? certPem[0] : certPem);
    const ca = certificateDates(Array.isArray(caPem) ? caPem[0] : caPem);
    this.#own = [];
    this.#ownIds = [];
    if (own !== undefined) this.#add(this.#role, own, `this node's certificate '${own.name}'`);
    if (ca !== undefined) this.#add('ca', ca, `the CA certificate '${ca.name}'`);
  }

  /** A peer's pipe opened: its certificate (keyed by the pipe's name) is shown and watched. */
  peerConnected(key: string, peer: { role: 'server' | 'client'; name: string; notAfter: Date; fingerprint256: string }): void {
    this.peerLeft(key);
    this.#peers.set(key, { role: peer.role, name: peer.name, notAfterMs: peer.notAfter.getTime(), id: peer.fingerprint256 });
    this.#warnings.watch({ id: peer.fingerprint256, what: `the certificate of ${peer.role} '${peer.name}'`, notAfterMs: peer.notAfter.getTime() });
  }

  /** A peer's pipe closed. */
  peerLeft(key: string): void {
    const known = this.#peers.get(key);
    if (known === undefined) return;
    this.#warnings.unwatch(known.id);
    this.#peers.delete(key);
  }

  /** A CRL was read: warned about ahead of its nextUpdate. */
  crlRead(nextUpdate: Date | null, source: string): void {
    this.#crlWarnings.close();
    if (nextUpdate === null) return;
    this.#crlWarnings.watch({
      id: `crl|${nextUpdate.getTime()}`,
      what: `the CRL ${source}`,
      notAfterMs: nextUpdate.getTime(),
      advice: 're-sign it (restpipe ca crl) and install it: past its next update every client is refused (CRL_HAS_EXPIRED)',
    });
  }

  /** Own certificate, CA, then the peers: for /status and the gauge. */
  list(): CertificateExpiry[] {
    const peers = [...this.#peers.values()].map(({ role, name, notAfterMs }) => ({ role, name, notAfter: new Date(notAfterMs) }));
    return [...this.#own, ...peers];
  }

  /** No timer is left. */
  close(): void {
    this.#warnings.close();
    this.#crlWarnings.close();
  }

  #add(role: CertificateExpiry['role'], dates: CertificateDates, what: string): void {
    this.#own.push({ role, name: dates.name, notAfter: dates.notAfter });
    this.#ownIds.push(dates.fingerprint256);
    this.#warnings.watch({ id: dates.fingerprint256, what, notAfterMs: dates.notAfter.getTime() });
  }
}
