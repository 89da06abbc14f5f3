import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import { IdentityError } from '../errors.js';
import { EKU } from '../certificate.js';
import { nodeNameProblem } from '../names.js';

/** One identity file: where it came from (for messages) and its contents. */
export interface IdentityFile {
  path: string;
  pem: string | Buffer;
}

/** The three files of a node identity. */
export interface IdentityFiles {
  key: IdentityFile;
  cert: IdentityFile;
  ca: IdentityFile;
}

/** What a verified identity is, for logs, `/status` and expiry metrics. */
export interface IdentityInfo {
  /** The certificate's CN: the node's name. */
  cn: string;
  /** SHA-256 fingerprint as Node prints it (`AB:CD:…`). */
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
  /** Subject alternative names as `DNS:name` / `IP:address` (IPv6 compressed). */
  sans: string[];
  /** Serial number, lower-case hex. */
  serialHex: string;
  /** CN of the issuing CA (as printed by Node when it has no CN). */
  issuerCn: string;
}

/** Which TLS role the certificate must be allowed by its extended key usage. */
export type IdentityPurpose = 'client' | 'server' | 'any';

/** Options of {@link verifyIdentity}. */
export interface VerifyIdentityOptions {
  /** The time validity is checked at. @default new Date() */
  now?: Date;
  /** Checked against the extended key usage; a certificate without one allows any. @default 'any' */
  purpose?: IdentityPurpose;
}


/**
 * Checks a key, its certificate and the CA before anything is installed or served, in this
 * order: the key parses; the certificate parses; the CA file parses and holds a CA certificate;
 * the key matches the certificate; the certificate is signed by the CA (by name and signature);
 * the certificate and the CA are currently valid; the CN is a valid node name; the extended key
 * usage allows `purpose`. The CA file may hold several CA certificates (a rotation bundle); one
 * of them must have signed the certificate.
 *
 * @returns what the identity is.
 * @throws IdentityError naming the file at fault and the problem in one line.
 */
export function verifyIdentity(files: IdentityFiles, opts: VerifyIdentityOptions = {}): IdentityInfo {
  const now = opts.now ?? new Date();
  const purpose = opts.purpose ?? 'any';

  const key = parseKey(files.key);
  const cert = parseCert(files.cert);
  const cas = parseCaBundle(files.ca);

  if (!cert.checkPrivateKey(key)) {
    throw new IdentityError(files.key.path, `private key does not match the certificate in ${files.cert.path}`);
  }

  const issuer = cas.find((ca) => cert.checkIssued(ca) && cert.verify(ca.publicKey));
  if (issuer === undefined) throw new IdentityError(files.cert.path, notSignedBy(cert, cas, files.ca.path));

  const notBefore = parseOpenSslTime(cert.validFrom);
  const notAfter = parseOpenSslTime(cert.validTo);
  checkValidity(files.cert.path, 'certificate', notBefore, notAfter, now);
  checkValidity(files.ca.path, 'CA certificate', parseOpenSslTime(issuer.validFrom), parseOpenSslTime(issuer.validTo), now);

  const cns = subjectField(cert.subject, 'CN');
  if (cns.length === 0) {
    throw new IdentityError(files.cert.path, 'certificate has no CN (common name); restpipe uses the CN as the node name');
  }
  if (cns.length > 1) throw new IdentityError(files.cert.path, 'certificate has more than one CN');
  const cn = cns[0] as string;
  const nameProblem = nodeNameProblem(cn);
  if (nameProblem !== undefined) {
    throw new IdentityError(files.cert.path, `CN ${JSON.stringify(cn)} is not a valid node name (${nameProblem})`);
  }

  if (purpose !== 'any') {
    const ekus = cert.keyUsage; // Node's name for the extended key usage OIDs; undefined when absent
    const wanted = purpose === 'server' ? EKU.serverAuth : EKU.clientAuth;
    if (ekus !== undefined && !ekus.includes(wanted) && !ekus.includes(EKU.any)) {
      throw new IdentityError(
        files.cert.path,
        `certificate's extended key usage (${ekus.map(ekuName).join(', ') || 'none'}) does not allow TLS ${purpose} authentication`,
      );
    }
  }

  return {
    cn,
    fingerprint256: cert.fingerprint256,
    notBefore,
    notAfter,
    sans: parseSubjectAltName(cert.subjectAltName),
    serialHex: normalizeSerial(cert.serialNumber),
    issuerCn: subjectField(issuer.subject, 'CN')[0] ?? oneLine(issuer.subject),
  };
}

/** Log fields describing a peer's certificate: never the whole certificate, never a key. */
export interface PeerCertificateSummary {
  cn?: string;
  issuerCn?: string;
  fingerprint256?: string;
  /** ISO 8601. */
  validTo?: string;
}

/**
 * Summarises a peer certificate for a refusal log line (RELIABILITY §4 item 3). Accepts what
 * `tlsSocket.getPeerCertificate()` returns (an empty object when the peer sent none: every
 * field is then absent) or a `crypto.X509Certificate`.
 */
export function peerCertificateSummary(cert: PeerCertificate | X509Certificate | null | undefined): PeerCertificateSummary {
  const out: PeerCertificateSummary = {};
  if (cert === null || cert === undefined) return out;
  if (cert instanceof X509Certificate) {
    const cn = subjectField(cert.subject, 'CN')[0];
    const issuerCn = subjectField(cert.issuer, 'CN')[0];
    if (cn !== undefined) out.cn = cn;
    if (issuerCn !== undefined) out.issuerCn = issuerCn;
    out.fingerprint256 = cert.fingerprint256;
    const validTo = isoOrUndefined(cert.validTo);
    if (validTo !== undefined) out.validTo = validTo;
    return out;
  }
  const peer = cert as Partial<Record<'subject' | 'issuer', Record<string, unknown>>> &
    Partial<Record<'fingerprint256' | 'valid_to', unknown>>;
  const cn = firstString(peer.subject?.['CN']);
  const issuerCn = firstString(peer.issuer?.['CN']);
  if (cn !== undefined) out.cn = cn;
  if (issuerCn !== undefined) out.issuerCn = issuerCn;
  if (typeof peer.fingerprint256 === 'string' && peer.fingerprint256 !== '') out.fingerprint256 = peer.fingerprint256;
  if (typeof peer.valid_to === 'string') {
    const validTo = isoOrUndefined(peer.valid_to);
    if (validTo !== undefined) out.validTo = validTo;
  }
  return out;
}

/** An instant as `2025-01-01T00:00:00Z` (certificates carry whole seconds). */
export function formatCertTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

// --- internals ---

const PRIVATE_KEY_BEGIN = /-----BEGIN (?:[A-Z0-9]+ )?PRIVATE KEY-----/;
const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

function text(file: IdentityFile): string {
  return typeof file.pem === 'string' ? file.pem : file.pem.toString('latin1');
}

function parseKey(file: IdentityFile): KeyObject {
  const pem = text(file);
  if (pem.trim() === '') throw new IdentityError(file.path, 'file is empty, expected a PEM private key');
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(pem) || /Proc-Type: 4,ENCRYPTED/.test(pem)) {
    throw new IdentityError(file.path, 'private key is encrypted (passphrase-protected); restpipe needs an unencrypted key');
  }
  if (!PRIVATE_KEY_BEGIN.test(pem)) {
    if (pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new IdentityError(file.path, 'contains a certificate, not a private key (are the KEY and CRT arguments swapped?)');
    }
    if (pem.includes('-----BEGIN PUBLIC KEY-----')) {
      throw new IdentityError(file.path, 'contains a public key, not a private key');
    }
    throw new IdentityError(file.path, 'not a PEM private key (no "-----BEGIN PRIVATE KEY-----" block)');
  }
  try {
    return createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw new IdentityError(file.path, `private key does not parse: ${errorReason(err)}`, { cause: err });
  }
}

/**
 * Why no CA in the bundle signed `cert`. Two CAs can have the same name (two `ca init` with
 * the same `--cn`), and then the names alone read "issued by X, CA is X": the fingerprints
 * tell the CAs apart (`openssl x509 -noout -fingerprint -sha256 -in ca.crt.pem` prints them).
 */
function notSignedBy(cert: X509Certificate, cas: X509Certificate[], caPath: string): string {
  const issuerName = oneLine(cert.issuer);
  const namesake = cas.filter((ca) => oneLine(ca.subject) === issuerName);
  if (namesake.length === 0) {
    return `certificate is not signed by the CA in ${caPath}: issued by "${issuerName}", CA is "${cas.map((c) => oneLine(c.subject)).join('", "')}"`;
  }
  return (
    `certificate is not signed by the CA in ${caPath} but by another CA of the same name "${issuerName}" ` +
    `(the one in ${caPath} has SHA-256 fingerprint ${namesake.map((c) => c.fingerprint256).join(', ')}): ` +
    'install the CA certificate that issued it'
  );
}

function parseCert(file: IdentityFile): X509Certificate {
  const pem = text(file);
  if (pem.trim() === '') throw new IdentityError(file.path, 'file is empty, expected a PEM certificate');
  const block = pem.match(CERT_BLOCK)?.[0];
  if (block === undefined) {
    if (PRIVATE_KEY_BEGIN.test(pem)) {
      throw new IdentityError(file.path, 'contains a private key, not a certificate (are the KEY and CRT arguments swapped?)');
    }
    throw new IdentityError(file.path, 'not a PEM certificate (no "-----BEGIN CERTIFICATE-----" block)');
  }
  try {
    return new X509Certificate(block);
  } catch (err) {
    throw new IdentityError(file.path, `certificate does not parse: ${errorReason(err)}`, { cause: err });
  }
}

function parseCaBundle(file: IdentityFile): X509Certificate[] {
  const pem = text(file);
  if (pem.trim() === '') throw new IdentityError(file.path, 'file is empty, expected a PEM CA certificate');
  const blocks = pem.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) {
    throw new IdentityError(file.path, 'not a PEM CA certificate (no "-----BEGIN CERTIFICATE-----" block)');
  }
  const certs = blocks.map((block, i) => {
    try {
      return new X509Certificate(block);
    } catch (err) {
      const which = blocks.length > 1 ? ` (certificate ${i + 1} of ${blocks.length})` : '';
      throw new IdentityError(file.path, `CA certificate does not parse${which}: ${errorReason(err)}`, { cause: err });
    }
  });
  const cas = certs.filter((c) => c.ca);
  if (cas.length === 0) {
    throw new IdentityError(file.path, 'not a CA certificate (basicConstraints CA:TRUE missing)');
  }
  return cas;
}

function checkValidity(path: string, what: string, notBefore: Date, notAfter: Date, now: Date): void {
  if (now.getTime() < notBefore.getTime()) {
    throw new IdentityError(path, `${what} not valid before ${formatCertTime(notBefore)}`);
  }
  if (now.getTime() > notAfter.getTime()) {
    throw new IdentityError(path, `${what} expired on ${formatCertTime(notAfter)}`);
  }
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Parses OpenSSL's `Jan  1 00:00:00 2025 GMT`, the form Node 20's `validFrom`/`validTo` and
 * `valid_to` use (Node 20 has no `validFromDate`).
 */
function parseOpenSslTime(s: string): Date {
  const m = /^([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4}) GMT$/.exec(s.trim());
  if (m !== null) {
    const month = MONTHS.indexOf(m[1] as string);
    if (month >= 0) return new Date(Date.UTC(Number(m[6]), month, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5])));
  }
  return new Date(s);
}

function isoOrUndefined(s: string): string | undefined {
  const d = parseOpenSslTime(s);
  return Number.isNaN(d.getTime()) ? undefined : formatCertTime(d);
}

/**
 * Values of one attribute in Node's printed distinguished name: one `KEY=value` per line, with
 * RFC 2253 escapes (`\,`) that a valid node name never needs, and control characters escaped,
 * so a CN cannot forge a second line.
 */
function subjectField(subject: string | undefined, field: string): string[] {
  if (subject === undefined) return [];
  const prefix = `${field}=`;
  return subject
    .split('\n')
    .filter((line) => line.startsWith(prefix))
    .map((line) => line.slice(prefix.length));
}

/**
 * Node's `subjectAltName` text (`DNS:a, IP Address:0:0:0:0:0:0:0:1`) → `['DNS:a', 'IP:::1']`:
 * the form {@link IdentityInfo.sans} and the CA's index use (IPv6 compressed).
 */
export function parseSubjectAltName(san: string | undefined): string[] {
  if (san === undefined || san === '') return [];
  return san.split(', ').map((entry) => {
    if (entry.startsWith('IP Address:')) return `IP:${compressIp(entry.slice('IP Address:'.length))}`;
    return entry;
  });
}

function compressIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    // WHATWG URL serialises IPv6 hosts in RFC 5952 form ("[::1]").
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}

/** Same form as ca.ts's normalizeSerialHex (kept here so verify.ts needs no x509 library). */
function normalizeSerial(serial: string): string {
  const hex = serial.toLowerCase();
  return (hex.length % 2 === 1 ? `0${hex}` : hex).replace(/^(?:00)+(?=..)/, '');
}

function firstString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return undefined;
}

function oneLine(dn: string): string {
  return dn.split('\n').join(', ');
}

const EKU_NAMES: Record<string, string> = {
  [EKU.serverAuth]: 'serverAuth',
  [EKU.clientAuth]: 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
};

function ekuName(oid: string): string {
  return EKU_NAMES[oid] ?? oid;
}

function errorReason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  const first = msg.split('\n')[0] ?? msg;
  return typeof code === 'string' && !first.includes(code) ? `${first} (${code})` : first;
}
