import { PeerExpiryTimers } from '../cert-expiry.js';
import type { Logger } from '../log.js';
import { GoAwayCode } from '../wire/messages.js';
import type { Refusals } from './refusals.js';

/** What the watch needs of a pipe: who it is, whether it is over, how to end it. */
export interface WatchedPipe {
  readonly peer: { name: string; address: string };
  readonly state: string;
  destroy(reason: string, code: GoAwayCode): void;
}

/**
 * A pipe outlives the handshake that checked its client's certificate, for days. This keeps
 * the certificate's two later verdicts in force on open pipes (SPEC §6, §11):
 * - revocation: OpenSSL checks the CRL only at the handshake, so after each CRL change every
 *   pipe (open, or between TLS and hello) whose certificate the new CRL revokes is closed with
 *   CERT_REVOKED, and a handshake that began under the previous CRL is refused when it ends;
 * - expiry: at the certificate's notAfter (+1 s: OpenSSL counts the last second as valid) its
 *   pipe is closed with CERT_HAS_EXPIRED, and the reconnect is refused by the handshake.
 * Each drop is reported like any refusal (refusals.ts) and the client is told in a goaway.
 * One expiry per pipe (PeerExpiryTimers, which a client uses for the server's certificate too;
 * all on one timer), dropped with the pipe.
 */
export class CertWatch<P extends WatchedPipe> {
  readonly #refusals: Refusals;
  readonly #log: Logger;
  /** Each pipe's client certificate (DER), to re-check live pipes when the CRL changes. */
  readonly #certs = new WeakMap<P, { der: Buffer; fingerprint256: string; notAfterMs: number }>();
  readonly #expiryTimers = new PeerExpiryTimers<P>();
  /** One function for every pipe's expiry (not a closure per pipe). */
  readonly #onExpired = (validTo: Date, pipe: P): void => this.#dropExpired(pipe, validTo);
  /**
   * Whether the current CRL revokes a certificate; undefined while (re)computing or without a
   * CRL. OpenSSL checks new handshakes itself; this catches live pipes and handshakes that
   * began under the previous CRL.
   */
  #isRevoked: ((der: Uint8Array) => boolean) | undefined;
  #generation = 0;
  /** The current CRL's nextUpdate: undefined without a CRL (or before it is read), null when it has none. */
  #crlNextUpdate: Date | null | undefined;
  readonly #onCrlRead: ((nextUpdate: Date | null) => void) | undefined;

  /** `onCrlRead` hears each CRL's nextUpdate once it is read (the server warns when it is near). */
  constructor(refusals: Refusals, log: Logger, onCrlRead?: (nextUpdate: Date | null) => void) {
    this.#refusals = refusals;
    this.#log = log;
    this.#onCrlRead = onCrlRead;
  }

  /** The current CRL's nextUpdate (see the field). */
  get crlNextUpdate(): Date | null | undefined {
    return this.#crlNextUpdate;
  }

  /** Whether the current CRL revokes this certificate (false while there is none, or it is being read). */
  isRevoked(der: Uint8Array): boolean {
    return this.#isRevoked?.(der) === true;
  }

  /** Watches a new pipe's certificate: its DER for CRL re-checks, its notAfter for the expiry timer. */
  track(pipe: P, cert: { der: Buffer; fingerprint256: string; validTo: string }): void {
    const validToMs = Date.parse(cert.validTo);
    this.#certs.set(pipe, { der: cert.der, fingerprint256: cert.fingerprint256, notAfterMs: validToMs });
    if (pipe.state !== 'closed') this.#expiryTimers.track(pipe, validToMs, this.#onExpired);
  }

  /** The notAfter of a tracked pipe's client certificate. */
  notAfter(pipe: P): Date | undefined {
    const ms = this.#certs.get(pipe)?.notAfterMs;
    return ms === undefined ? undefined : new Date(ms);
  }

  /** The pipe closed: its timer goes. */
  untrack(pipe: P): void {
    this.#expiryTimers.untrack(pipe);
  }

  /**
   * Parses `crl` and closes every one of `pipes` whose client certificate it revokes. Runs after
   * each CRL change; only the latest run acts. Resolves with the names of the clients dropped.
   */
  async recheck(crl: string | Buffer | Array<string | Buffer> | undefined, pipes: () => P[]): Promise<string[]> {
    const generation = ++this.#generation;
    this.#isRevoked = undefined;
    if (crl === undefined) {
      this.#crlNextUpdate = undefined;
      return [];
    }
    let isRevoked: (der: Uint8Array) => boolean;
    let nextUpdate: Date | undefined;
    try {
      // Loaded only when a CRL is used: @peculiar/x509 is not needed on the hot path.
      const { crlNextUpdate, revocationChecker } = await import('../identity/revocation.js');
      isRevoked = revocationChecker(crl);
      nextUpdate = crlNextUpdate(crl);
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'cannot read the CRL to re-check open pipes; they stay open');
      return [];
    }
    if (generation !== this.#generation) return [];
    this.#isRevoked = isRevoked;
    this.#crlNextUpdate = nextUpdate ?? null;
    this.#onCrlRead?.(nextUpdate ?? null);
    const dropped: string[] = [];
    for (const pipe of pipes()) {
      const cert = this.#certs.get(pipe);
      if (cert === undefined || !isRevoked(cert.der)) continue;
      dropped.push(pipe.peer.name);
      this.#drop(pipe, 'CERT_REVOKED', `its certificate is revoked by the reloaded CRL (CERT_REVOKED)`, "certificate refused: CERT_REVOKED (revoked by the server's reloaded CRL)", {});
    }
    return dropped;
  }

  /** Stops everything: a CRL parse still running drops nothing, and no expiry timer is left. */
  close(): void {
    this.#generation++;
    this.#expiryTimers.close();
  }

  #dropExpired(pipe: P, validToDate: Date): void {
    if (pipe.state === 'closed') return;
    const validTo = validToDate.toISOString();
    this.#drop(pipe, 'CERT_HAS_EXPIRED', `its certificate expired at ${validTo} (CERT_HAS_EXPIRED)`, `certificate refused: CERT_HAS_EXPIRED (it expired at ${validTo}, while the pipe was open)`, { validTo });
  }

  #drop(pipe: P, code: string, why: string, goAwayReason: string, fields: Record<string, unknown>): void {
    const { name, address } = pipe.peer;
    this.#refusals.report({
      address,
      code,
      cn: name,
      message: `dropping client '${name}': ${why}`,
      fields: { client: name, address, reason: code, ...fields, fingerprint256: this.#certs.get(pipe)?.fingerprint256 },
    });
    pipe.destroy(goAwayReason, GoAwayCode.UNAUTHORIZED);
  }
}
