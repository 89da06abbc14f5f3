import { X509Certificate } from 'node:crypto';
import { invalidOption } from '../options/validate.js';
import { type CaMaterial, type CryptoKeyX509, checkDate, openCa, signingAlgorithmFor } from './ca-keys.js';
import { nodeCrypto, x509 } from './x509.js';

// Certificate revocation lists: signing one for a CA (`ca revoke`, `ca crl`, tests) and reading
// one back (`ca list`, and `ca revoke` keeps every entry of the CRL it replaces).

/** Default CRL lifetime in days (OpenSSL's `default_crl_days` in RELIABILITY §5.6). */
export const DEFAULT_CRL_DAYS = 7;

const DAY_MS = 86_400_000;
const OID_CRL_NUMBER = '2.5.29.20';

/**
 * Why a certificate was revoked: RFC 5280's reason codes for a permanent revocation
 * (`certificateHold` and `removeFromCRL` are left out: a revocation here is never undone).
 */
export const REVOCATION_REASONS = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'privilegeWithdrawn',
  'aACompromise',
] as const;

/** One of {@link REVOCATION_REASONS}. */
export type RevocationReason = (typeof REVOCATION_REASONS)[number];

/**
 * A reason as a user types it (`keyCompromise`, `key-compromise`, `KEY_COMPROMISE`) → its
 * RFC 5280 name. @throws RestpipeError `invalid_option` naming `where` and the valid reasons.
 */
export function parseRevocationReason(raw: string, where: string): RevocationReason {
  const squash = (s: string): string => s.replace(/[-_\s]/g, '').toLowerCase();
  const found = REVOCATION_REASONS.find((r) => squash(r) === squash(raw));
  if (found === undefined) throw invalidOption(`${where}: expected one of ${REVOCATION_REASONS.join(', ')}, got ${JSON.stringify(raw)}`);
  return found;
}

/** One revoked certificate in a CRL. */
export interface RevokedEntry {
  /** The certificate's serial number in hex (`IssuedCertificate.serialHex`, or Node's upper-case form; ':' allowed). */
  serialHex: string;
  /** When it was revoked. @default now */
  date?: Date;
  /** Why; `unspecified` is written as no reason at all, as RFC 5280 §5.3.1 asks. @default 'unspecified' */
  reason?: RevocationReason;
}

/** Options of {@link createCrl}. */
export interface CreateCrlOptions {
  ca: CaMaterial;
  revoked: RevokedEntry[];
  /** @default now */
  thisUpdate?: Date;
  /** Past this date OpenSSL refuses every certificate (`CRL_HAS_EXPIRED`). @default thisUpdate + 7 days */
  nextUpdate?: Date;
  /** The CRL number: each new CRL of a CA must have a larger one. @default thisUpdate in whole seconds */
  crlNumber?: number;
}

/**
 * Creates a CRL (v2, PEM `X509 CRL`) signed by the CA, listing `revoked`, with an authority key
 * identifier and a CRL number (by default taken from the clock, so that a newer CRL has a larger
 * number).
 * Node's tls `crl` option accepts it, and a listed certificate is then refused with
 * `CERT_REVOKED`.
 *
 * @throws RestpipeError `invalid_option` for a bad serial or dates; IdentityError for bad CA material.
 */
export async function createCrl(opts: CreateCrlOptions): Promise<string> {
  const thisUpdate = opts.thisUpdate ?? new Date();
  const nextUpdate = opts.nextUpdate ?? new Date(thisUpdate.getTime() + DEFAULT_CRL_DAYS * DAY_MS);
  checkDate('thisUpdate', thisUpdate);
  checkDate('nextUpdate', nextUpdate);
  if (nextUpdate.getTime() <= thisUpdate.getTime()) throw invalidOption('nextUpdate must be after thisUpdate');
  const seen = new Set<string>();
  const crlNumber = opts.crlNumber ?? Math.floor(thisUpdate.getTime() / 1000);
  if (!Number.isSafeInteger(crlNumber) || crlNumber < 0) throw invalidOption(`crlNumber must be a non-negative integer, got ${String(crlNumber)}`);
  const entries: x509.X509CrlEntryParams[] = [];
  for (const r of opts.revoked) {
    const serialNumber = normalizeSerialHex(r.serialHex);
    if (seen.has(serialNumber)) continue;
    seen.add(serialNumber);
    const revocationDate = r.date ?? thisUpdate;
    checkDate('revocation date', revocationDate);
    const reason = r.reason ?? 'unspecified';
    if (!REVOCATION_REASONS.includes(reason)) throw invalidOption(`unknown revocation reason ${JSON.stringify(reason)}`);
    entries.push({ serialNumber, revocationDate, ...(reason === 'unspecified' ? {} : { reason: x509.X509CrlReason[reason] }) });
  }
  const ca = await openCa(opts.ca);
  const crl = await x509.X509CrlGenerator.create(
    {
      issuer: ca.cert.subjectName,
      thisUpdate,
      nextUpdate,
      entries,
      signingKey: ca.signingKey as unknown as CryptoKeyX509,
      signingAlgorithm: signingAlgorithmFor(ca.signingKey),
      extensions: [
        new x509.AuthorityKeyIdentifierExtension(ca.keyId, false),
        new x509.Extension(OID_CRL_NUMBER, false, derPositiveInteger(crlNumber)),
      ],
    },
    nodeCrypto,
  );
  // @peculiar/x509 labels CRLs "BEGIN CRL"; OpenSSL (so Node's tls `crl` option) reads only
  // "BEGIN X509 CRL" and fails with "no start line" on the other.
  return x509.PemConverter.encode(crl.rawData, 'X509 CRL') + '\n';
}

/**
 * Canonical form of a serial number: lower-case hex of its minimal bytes (even length, no
 * separators, no leading zero bytes), as {@link IssuedCertificate.serialHex} has it. Accepts
 * Node's upper-case `serialNumber` and openssl's `AB:CD` form.
 * @throws RestpipeError `invalid_option` when it is not hex.
 */
export function normalizeSerialHex(serial: string): string {
  let hex = String(serial).replace(/[:\s]/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(hex) || hex.length > 42) {
    throw invalidOption(`serial number must be hex (up to 20 bytes), got ${JSON.stringify(serial)}`);
  }
  if (hex.length % 2 === 1) hex = `0${hex}`;
  return hex.replace(/^(?:00)+(?=..)/, '');
}

/** What a CRL says, as {@link readCrl} reads it. */
export interface CrlContents {
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  /** The CRL number extension, when present and small enough to be a safe integer. */
  crlNumber: number | undefined;
  /** The revoked certificates, serials in {@link normalizeSerialHex} form. */
  entries: Array<{ serialHex: string; date: Date; reason: RevocationReason }>;
  /** Whether `caCertPem`'s key signed it (false when no CA was given). */
  signedByCa: boolean;
}

/**
 * Reads the first CRL of a PEM file and, given the CA certificate, checks its signature.
 * @throws Error when it does not parse.
 */
export async function readCrl(pem: string, caCertPem?: string): Promise<CrlContents> {
  const crl = new x509.X509Crl(pem);
  let signedByCa = false;
  if (caCertPem !== undefined) {
    try {
      signedByCa = await crl.verify({ publicKey: new x509.X509Certificate(new X509Certificate(caCertPem).raw) }, nodeCrypto);
    } catch {
      signedByCa = false;
    }
  }
  const numberExt = crl.extensions.find((e) => e.type === OID_CRL_NUMBER);
  return {
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    crlNumber: numberExt === undefined ? undefined : readDerPositiveInteger(new Uint8Array(numberExt.value)),
    entries: crl.entries.map((e) => ({
      serialHex: normalizeSerialHex(e.serialNumber),
      date: e.revocationDate,
      reason: reasonName(e.reason),
    })),
    signedByCa,
  };
}

// --- internals ---

function reasonName(code: x509.X509CrlReason | undefined): RevocationReason {
  if (code === undefined) return 'unspecified';
  const name = x509.X509CrlReason[code] as string | undefined;
  return REVOCATION_REASONS.find((r) => r === name) ?? 'unspecified';
}

/** A DER INTEGER → number; undefined when it is not one, negative, or beyond 2^53. */
function readDerPositiveInteger(der: Uint8Array): number | undefined {
  if (der.length < 3 || der[0] !== 0x02 || der[1] !== der.length - 2 || der.length > 9) return undefined;
  if ((der[2]! & 0x80) !== 0) return undefined;
  let n = 0;
  for (let i = 2; i < der.length; i++) n = n * 256 + der[i]!;
  return Number.isSafeInteger(n) ? n : undefined;
}

function derPositiveInteger(n: number): ArrayBuffer {
  const bytes: number[] = [];
  let v = n;
  do {
    bytes.unshift(v % 256);
    v = Math.floor(v / 256);
  } while (v > 0);
  if ((bytes[0] ?? 0) & 0x80) bytes.unshift(0);
  return new Uint8Array([0x02, bytes.length, ...bytes]).buffer;
}
