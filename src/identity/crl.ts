import { invalidOption } from '../options.js';
import { type CaMaterial, type CryptoKeyX509, checkDate, openCa, signingAlgorithmFor } from './ca-keys.js';
import { nodeCrypto, x509 } from './x509.js';

/** Default CRL lifetime in days (OpenSSL's `default_crl_days` in RELIABILITY §5.6). */
export const DEFAULT_CRL_DAYS = 7;

const DAY_MS = 86_400_000;
const OID_CRL_NUMBER = '2.5.29.20';

/** One revoked certificate in a CRL. */
export interface RevokedEntry {
  /** The certificate's serial number in hex (`IssuedCertificate.serialHex`, or Node's upper-case form; ':' allowed). */
  serialHex: string;
  /** When it was revoked. @default now */
  date?: Date;
}

/** Options of {@link createCrl}. */
export interface CreateCrlOptions {
  ca: CaMaterial;
  revoked: RevokedEntry[];
  /** @default now */
  thisUpdate?: Date;
  /** Past this date OpenSSL refuses every certificate (`CRL_HAS_EXPIRED`). @default thisUpdate + 7 days */
  nextUpdate?: Date;
}

/**
 * Creates a CRL (v2, PEM `X509 CRL`) signed by the CA, listing `revoked`, with an authority key
 * identifier and a CRL number taken from the clock so that a newer CRL has a larger number.
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
  const entries: { serialNumber: string; revocationDate: Date }[] = [];
  for (const r of opts.revoked) {
    const serialNumber = normalizeSerialHex(r.serialHex);
    if (seen.has(serialNumber)) continue;
    seen.add(serialNumber);
    const revocationDate = r.date ?? thisUpdate;
    checkDate('revocation date', revocationDate);
    entries.push({ serialNumber, revocationDate });
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
        new x509.Extension(OID_CRL_NUMBER, false, derPositiveInteger(Math.floor(thisUpdate.getTime() / 1000))),
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

// --- internals ---

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
