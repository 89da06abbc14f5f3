import { X509Certificate } from 'node:crypto';

// Re-checking a peer certificate restored from a resumed TLS 1.3 session (SPEC §6, issue 14).
// OpenSSL verifies a certificate once, in the full handshake that issued the session ticket; a
// resumed session restores that certificate and that verdict without looking at the dates, the
// CRL or the trust store again (RELIABILITY §5.6 measured it: a revoked client resumes with
// `authorized = true`). This module asks the questions OpenSSL would ask today, with its codes,
// so that a refused resumption is logged exactly as a refused full handshake. Node built-ins
// only (a base module: client/ and server/ both use it); the CRL, which needs @peculiar/x509 to
// parse, comes in already parsed (identity/revocation.ts, `crlsForRecheck`).

/** The codes a re-check refuses with: the names OpenSSL's verification gives the same faults. */
export type RecheckRefusal =
  | 'CERT_HAS_EXPIRED'
  | 'CERT_NOT_YET_VALID'
  | 'CERT_REVOKED'
  | 'CRL_HAS_EXPIRED'
  | 'CRL_NOT_YET_VALID'
  | 'UNABLE_TO_GET_CRL'
  | 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';

/** One CRL, parsed for re-checks: which CA of the bundle issued it, its serials, its dates. */
export interface RecheckCrl {
  /**
   * Which certificates of the CA bundle (indexes into {@link splitPemCertificates}) it is for:
   * those whose subject is the CRL's issuer (several when a renewed CA kept its name); none
   * when no CA of the bundle issued it.
   */
  caIndexes: readonly number[];
  /** Revoked serial numbers, in {@link canonicalSerial} form. */
  revokedSerials: ReadonlySet<string>;
  thisUpdateMs: number;
  /** NaN when the CRL has no nextUpdate. */
  nextUpdateMs: number;
}

/** Options of {@link CertificateRecheck}. */
export interface CertificateRecheckOptions {
  /** The CA bundle in force now (PEM), as the TLS context has it. */
  ca: string | Buffer | Array<string | Buffer>;
  /** The CRLs in force now; undefined when none is configured (no CRL check, as OpenSSL without `crl`). */
  crls?: readonly RecheckCrl[];
  /** @default Date.now */
  now?: () => number;
  /** Chain verdicts remembered, by certificate fingerprint. @default 100000 */
  maxCached?: number;
}

interface TrustedCa {
  cert: X509Certificate;
  notBeforeMs: number;
  notAfterMs: number;
}

/** What is remembered of a certificate: which CA's signature it carries, and its own dates and serial. */
interface ChainVerdict {
  caIndex: number;
  notBeforeMs: number;
  notAfterMs: number;
  serial: string;
}

const DEFAULT_MAX_CACHED = 100_000;

/**
 * Re-checks certificates against the CA and CRLs in force when it was made. Build a new one
 * whenever the CA or the CRL changes; it keeps nothing that would outlive them.
 *
 * Costs: the first check of a certificate verifies one signature (~55 µs here); later checks of
 * the same certificate (by fingerprint) compare dates and look the serial up in a Set, so a
 * reconnect storm of resumed sessions pays the signature once per client, not once per dial.
 */
export class CertificateRecheck {
  readonly #cas: TrustedCa[];
  readonly #crlsByCa: Map<number, RecheckCrl[]> | undefined;
  readonly #now: () => number;
  readonly #maxCached: number;
  readonly #verdicts = new Map<string, ChainVerdict>();

  constructor(options: CertificateRecheckOptions) {
    this.#cas = splitPemCertificates(options.ca).map((pem) => {
      const cert = new X509Certificate(pem);
      return { cert, notBeforeMs: Date.parse(cert.validFrom), notAfterMs: Date.parse(cert.validTo) };
    });
    if (options.crls !== undefined) {
      this.#crlsByCa = new Map();
      for (const crl of options.crls) {
        for (const caIndex of crl.caIndexes) {
          const list = this.#crlsByCa.get(caIndex) ?? [];
          list.push(crl);
          this.#crlsByCa.set(caIndex, list);
        }
      }
    }
    this.#now = options.now ?? Date.now;
    this.#maxCached = options.maxCached ?? DEFAULT_MAX_CACHED;
  }

  /** Certificates whose chain verdict is remembered (for tests and leak checks). */
  get cachedCount(): number {
    return this.#verdicts.size;
  }

  /**
   * Would a full handshake accept `cert` now? Undefined when yes; otherwise the code OpenSSL's
   * verification would report. Node's verify callback lets OpenSSL go on past each fault and
   * reports the last one; OpenSSL checks the CRL before the signatures and dates, so a date
   * fault wins over a CRL fault, as it does in a full handshake.
   */
  check(cert: X509Certificate): RecheckRefusal | undefined {
    const verdict = this.#verdict(cert);
    if (verdict.caIndex < 0) return 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';
    // X.509 times have whole seconds, and OpenSSL compares them with a time_t: a certificate is
    // still valid during the second its notAfter names.
    const nowMs = Math.floor(this.#now() / 1000) * 1000;
    return this.#dateFault(verdict, nowMs) ?? this.#crlFault(verdict, nowMs);
  }

  #dateFault(verdict: ChainVerdict, nowMs: number): RecheckRefusal | undefined {
    const ca = this.#cas[verdict.caIndex]!;
    // OpenSSL checks the chain from the CA down, so the certificate's own dates speak last.
    if (nowMs < verdict.notBeforeMs) return 'CERT_NOT_YET_VALID';
    if (nowMs > verdict.notAfterMs) return 'CERT_HAS_EXPIRED';
    if (nowMs < ca.notBeforeMs) return 'CERT_NOT_YET_VALID';
    if (nowMs > ca.notAfterMs) return 'CERT_HAS_EXPIRED';
    return undefined;
  }

  #crlFault(verdict: ChainVerdict, nowMs: number): RecheckRefusal | undefined {
    if (this.#crlsByCa === undefined) return undefined;
    // With a CRL configured, Node sets X509_V_FLAG_CRL_CHECK: a certificate whose CA has no CRL
    // is refused, not waved through.
    const crls = this.#crlsByCa.get(verdict.caIndex);
    if (crls === undefined) return 'UNABLE_TO_GET_CRL';
    for (const crl of crls) {
      if (crl.revokedSerials.has(verdict.serial)) return 'CERT_REVOKED';
    }
    for (const crl of crls) {
      if (nowMs < crl.thisUpdateMs) return 'CRL_NOT_YET_VALID';
      if (nowMs > crl.nextUpdateMs) return 'CRL_HAS_EXPIRED';
    }
    return undefined;
  }

  #verdict(cert: X509Certificate): ChainVerdict {
    const key = cert.fingerprint256;
    const known = this.#verdicts.get(key);
    if (known !== undefined) return known;
    let caIndex = -1;
    for (let i = 0; i < this.#cas.length; i++) {
      const ca = this.#cas[i]!.cert;
      // checkIssued compares names and key identifiers (cheap); verify checks the signature.
      if (cert.checkIssued(ca) && cert.verify(ca.publicKey)) {
        caIndex = i;
        break;
      }
    }
    const verdict: ChainVerdict = {
      caIndex,
      notBeforeMs: Date.parse(cert.validFrom),
      notAfterMs: Date.parse(cert.validTo),
      // Read only when a CRL will be looked at: Node formats it anew on each certificate.
      serial: this.#crlsByCa === undefined ? '' : canonicalSerial(cert.serialNumber),
    };
    // Bounded: only certificates a peer resumed with reach here, but a CA can issue many.
    if (this.#verdicts.size >= this.#maxCached) this.#verdicts.delete(this.#verdicts.keys().next().value as string);
    this.#verdicts.set(key, verdict);
    return verdict;
  }
}

/** The PEM certificates of a bundle (a string, a Buffer or a list of either), each as its own PEM block. */
export function splitPemCertificates(bundle: string | Buffer | Array<string | Buffer>): string[] {
  const texts = (Array.isArray(bundle) ? bundle : [bundle]).map((b) => b.toString());
  return texts.flatMap((t) => t.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []);
}

/**
 * A serial number as lower-case hex without separators or leading zero bytes: DER may prefix a
 * 00 byte that OpenSSL's and Node's forms lack.
 */
export function canonicalSerial(hex: string): string {
  let h = hex.replace(/[:\s]/g, '').toLowerCase();
  if (h.length % 2 === 1) h = `0${h}`;
  return h.replace(/^(?:00)+(?=..)/, '');
}
