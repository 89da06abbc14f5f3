import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { invalidOption } from '../options/validate.js';
import {
  type CaMaterial,
  type CryptoKeyPairX509,
  type CryptoKeyX509,
  type KeyType,
  type NodeCryptoKey,
  type PemPair,
  type PublicKeyX509,
  checkDate,
  checkKeyType,
  exportPkcs8,
  generateKeys,
  importKeyPair,
  openCa,
  randomSerialHex,
  signingAlgorithmFor,
} from './ca-keys.js';
import { EKU } from '../certificate.js';
import { isHostname, nodeNameProblem } from '../names.js';
import { nodeCrypto, x509 } from './x509.js';

// Creating a CA and issuing node certificates. The CA's key material is in ca-keys.ts, CRLs in
// crl.ts, the index of what a CA directory issued in ca-index.ts.
export type { CaMaterial, KeyType, PemPair } from './ca-keys.js';

/**
 * What an issued certificate may be used for (its extended key usage). A restpipe node
 * certificate serves both ends: the server presents it as a server certificate, a client as a
 * client certificate.
 */
export type CertUsage = 'node' | 'client' | 'server';

/** Default CA lifetime in days. */
export const DEFAULT_CA_DAYS = 3650;
/** Default leaf lifetime in days (the CA/Browser Forum's old ceiling). */
export const DEFAULT_CERT_DAYS = 825;
/**
 * The default CA common name is this, a dash and 8 random hex digits (`restpipe-ca-1f0c9a2e`):
 * two CAs made with the defaults get different names, so a certificate of one checked against
 * the other reads as issued by another CA instead of "issued by restpipe-ca, CA is restpipe-ca".
 */
export const DEFAULT_CA_CN_PREFIX = 'restpipe-ca';
/** SANs every issued certificate gets, so that local tests and `restpipe demo` verify. */
export const LOOPBACK_SANS: readonly string[] = ['localhost', '127.0.0.1', '::1'];

const DAY_MS = 86_400_000;
// A certificate issued on one machine is often used at once on another whose clock is a little
// behind; starting validity a few minutes early keeps that from failing as "not yet valid".
const BACKDATE_MS = 5 * 60_000;


/** Options of {@link createCa}. */
export interface CreateCaOptions {
  /** Common name of the CA. @default `restpipe-ca-` and 8 random hex digits ({@link DEFAULT_CA_CN_PREFIX}) */
  cn?: string;
  /** Lifetime in days, counted from `notBefore` when given, else from now. @default 3650 */
  days?: number;
  /** @default 'ec' */
  keyType?: KeyType;
  /** Overrides the start of validity (tests). */
  notBefore?: Date;
  /** Overrides the end of validity (tests); wins over `days`. */
  notAfter?: Date;
}

/**
 * Creates a self-signed CA: basicConstraints CA:TRUE (critical, path length 0: it signs only
 * leaves), keyUsage keyCertSign + cRLSign (critical), a subject key identifier.
 *
 * @returns the CA's PKCS#8 key and certificate as PEM.
 * @throws RestpipeError `invalid_option` for a bad cn, days, key type or validity window.
 */
export async function createCa(opts: CreateCaOptions = {}): Promise<PemPair> {
  const cn = opts.cn ?? `${DEFAULT_CA_CN_PREFIX}-${randomBytes(4).toString('hex')}`;
  if (typeof cn !== 'string' || cn.length === 0 || cn.length > 64 || /[\u0000-\u001f\u007f]/.test(cn)) {
    throw invalidOption(`CA common name must be 1-64 printable characters, got ${JSON.stringify(cn)}`);
  }
  const keyType = checkKeyType(opts.keyType);
  const { notBefore, notAfter } = validityWindow(opts, DEFAULT_CA_DAYS);
  const keys = await generateKeys(keyType);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialHex(),
      // The JSON form of a name, not a "CN=…" string, so that a CN holding ',' or '=' is not parsed.
      name: [{ CN: [cn] }],
      notBefore,
      notAfter,
      keys: keys as unknown as CryptoKeyPairX509,
      signingAlgorithm: signingAlgorithmFor(keys.privateKey),
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as PublicKeyX509, false, nodeCrypto),
      ],
    },
    nodeCrypto,
  );
  return { keyPem: exportPkcs8(keys.privateKey), certPem: cert.toString('pem') + '\n' };
}

/** Options of {@link issueCertificate}. */
export interface IssueCertificateOptions {
  /** The signing CA. */
  ca: CaMaterial;
  /** The node name: becomes the CN and the first SAN. Must be a valid node name. */
  name: string;
  /** Extra SANs, each an IP address or a DNS name (detected). */
  sans?: string[];
  /** Lifetime in days, counted from `notBefore` when given, else from now. @default 825 */
  days?: number;
  /** @default 'ec' */
  keyType?: KeyType;
  /** An existing private key (PEM) to certify instead of a new one (`ca renew --keep-key`); its type wins over `keyType`. */
  keyPem?: string;
  /** Overrides the start of validity (tests: not-yet-valid certificates). */
  notBefore?: Date;
  /** Overrides the end of validity (tests: expired certificates); wins over `days`. */
  notAfter?: Date;
  /** Extended key usage. @default 'node' (serverAuth and clientAuth) */
  usage?: CertUsage;
  /**
   * Adds `localhost`, `127.0.0.1` and `::1` to the SANs. Only tests that need a certificate for
   * another host alone turn this off. @default true
   */
  loopbackSans?: boolean;
}

/** An issued key and certificate, with the certificate's serial number (lower-case hex). */
export interface IssuedCertificate extends PemPair {
  serialHex: string;
  /** The certificate's end of validity. */
  notAfter: Date;
  /**
   * True when `days` (or its default) from now would have outlived the CA, so `notAfter` is the
   * CA's own notAfter instead: a certificate cannot be trusted past its CA's expiry anyway.
   */
  cappedAtCaExpiry: boolean;
}

/**
 * Issues a leaf certificate signed by `opts.ca`: CN = name; SANs = name (DNS name or IP
 * address), each of `sans`, then localhost, 127.0.0.1 and ::1, without duplicates;
 * basicConstraints CA:FALSE, keyUsage digitalSignature (+ keyEncipherment for RSA), extended key
 * usage from `usage`, subject and authority key identifiers, a random positive 128-bit serial.
 * A lifetime of `days` from now that would outlive the CA is cut to the CA's notAfter
 * (`cappedAtCaExpiry`); explicit `notBefore`/`notAfter` are used as given.
 *
 * @throws RestpipeError `invalid_option` for an invalid node name, SAN, days, key type or
 *   validity window; IdentityError when the CA key or certificate does not parse, the
 *   certificate is not a CA, or the two do not match.
 */
export async function issueCertificate(opts: IssueCertificateOptions): Promise<IssuedCertificate> {
  const nameProblem = nodeNameProblem(opts.name);
  if (nameProblem !== undefined) throw invalidOption(`invalid node name ${JSON.stringify(opts.name)}: ${nameProblem}`);
  const ownKey = opts.keyPem === undefined ? undefined : await importKeyPair(opts.keyPem);
  const keyType = ownKey?.keyType ?? checkKeyType(opts.keyType);
  const usage = opts.usage ?? 'node';
  if (usage !== 'node' && usage !== 'client' && usage !== 'server') {
    throw invalidOption(`usage must be 'node', 'client' or 'server', got ${JSON.stringify(usage)}`);
  }
  const sans = buildSans(opts.name, opts.sans ?? [], opts.loopbackSans ?? true);
  const window = validityWindow(opts, DEFAULT_CERT_DAYS);
  const { notBefore } = window;
  let { notAfter } = window;
  const ca = await openCa(opts.ca);
  // A lifetime counted in days from now ends no later than the CA. Explicit notBefore/notAfter
  // are left alone (tests make not-yet-valid and expired certificates on purpose), and so is a
  // CA that has already expired: nothing it signs is trusted, and verification says why.
  const caNotAfter = ca.cert.notAfter;
  let cappedAtCaExpiry = false;
  if (
    opts.notAfter === undefined &&
    opts.notBefore === undefined &&
    notAfter.getTime() > caNotAfter.getTime() &&
    Math.floor(caNotAfter.getTime() / 1000) > Math.floor(notBefore.getTime() / 1000)
  ) {
    notAfter = caNotAfter;
    cappedAtCaExpiry = true;
  }
  const keys = ownKey ?? (await newKeyPair(keyType));

  const ekus =
    usage === 'node' ? [EKU.serverAuth, EKU.clientAuth] : usage === 'server' ? [EKU.serverAuth] : [EKU.clientAuth];
  const keyUsage =
    keyType === 'rsa'
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
      : x509.KeyUsageFlags.digitalSignature;
  const serialHex = randomSerialHex();
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialHex,
      subject: [{ CN: [opts.name] }],
      // The CA's own encoded name, byte for byte: OpenSSL matches issuer to subject.
      issuer: ca.cert.subjectName,
      notBefore,
      notAfter,
      publicKey: keys.publicKey as unknown as PublicKeyX509,
      signingKey: ca.signingKey as unknown as CryptoKeyX509,
      signingAlgorithm: signingAlgorithmFor(ca.signingKey),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(keyUsage, true),
        new x509.ExtendedKeyUsageExtension(ekus, false),
        new x509.SubjectAlternativeNameExtension(sans, false),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey as unknown as PublicKeyX509, false, nodeCrypto),
        new x509.AuthorityKeyIdentifierExtension(ca.keyId, false),
      ],
    },
    nodeCrypto,
  );
  return { keyPem: keys.keyPem, certPem: cert.toString('pem') + '\n', serialHex, notAfter: cert.notAfter, cappedAtCaExpiry };
}

// --- internals ---

async function newKeyPair(keyType: KeyType): Promise<{ publicKey: NodeCryptoKey; keyPem: string }> {
  const pair = await generateKeys(keyType);
  return { publicKey: pair.publicKey, keyPem: exportPkcs8(pair.privateKey) };
}

function validityWindow(
  opts: { days?: number; notBefore?: Date; notAfter?: Date },
  defaultDays: number,
): { notBefore: Date; notAfter: Date } {
  const days = opts.days ?? defaultDays;
  if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0 || days > 100 * 365) {
    throw invalidOption(`days must be a positive number of days (at most 36500), got ${String(days)}`);
  }
  const now = Date.now();
  const notBefore = opts.notBefore ?? new Date(now - BACKDATE_MS);
  // `days` counts from an explicit notBefore when there is one, else from now.
  const notAfter = opts.notAfter ?? new Date((opts.notBefore?.getTime() ?? now) + days * DAY_MS);
  checkDate('notBefore', notBefore);
  checkDate('notAfter', notAfter);
  // Certificates carry whole seconds; compare at that resolution.
  if (Math.floor(notAfter.getTime() / 1000) <= Math.floor(notBefore.getTime() / 1000)) {
    throw invalidOption('notAfter must be after notBefore');
  }
  return { notBefore, notAfter };
}

// A SAN is a DNS name without the root's trailing dot.
const NO_ROOT = { allowTrailingDot: false };

function buildSans(name: string, extra: string[], loopback: boolean): { type: 'dns' | 'ip'; value: string }[] {
  const out: { type: 'dns' | 'ip'; value: string }[] = [];
  const seen = new Set<string>();
  const add = (value: string, fromUser: boolean): void => {
    const v = value.trim();
    let type: 'dns' | 'ip';
    if (isIP(v) !== 0) {
      type = 'ip';
    } else if (isHostname(v, NO_ROOT) || (fromUser && v.startsWith('*.') && isHostname(v.slice(2), NO_ROOT))) {
      type = 'dns';
    } else if (fromUser) {
      throw invalidOption(`SAN ${JSON.stringify(value)} is neither an IP address nor a DNS name`);
    } else {
      return; // a node name such as "a..b" is valid as a CN but not as a DNS name: CN only
    }
    // DNS names compare without case; store them in the usual lower case.
    const canonical = type === 'dns' ? v.toLowerCase() : v;
    const key = `${type}:${canonical}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ type, value: canonical });
  };
  add(name, false);
  for (const s of extra) {
    if (typeof s !== 'string') throw invalidOption('every SAN must be a string');
    if (s.trim() !== '') add(s, true);
  }
  if (loopback) for (const s of LOOPBACK_SANS) add(s, false);
  return out;
}
