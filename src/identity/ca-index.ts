import { X509Certificate } from 'node:crypto';
import { open, readFile, readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { IdentityError } from '../errors.js';
import type { KeyType } from './ca-keys.js';
import { REVOCATION_REASONS, type RevocationReason, normalizeSerialHex } from './crl.js';
import { CERT_FILE_MODE, writeFileAtomically } from './install.js';
import { parseSubjectAltName } from './verify.js';

// The index of what a CA directory issued: DIR/index.json, one entry per certificate with its
// name, serial, validity, SANs and revocation. `ca issue` and `ca renew` add to it, `ca revoke`
// marks entries, `ca list` prints it, and the CRL is signed from it. A CA dir made before the
// index existed gets one rebuilt from the certificates found in it (rebuildCaIndex).

/** The index file in a CA dir. */
export const CA_INDEX_FILE = 'index.json';

/** One certificate the CA issued. Dates are ISO strings; the serial is lower-case hex. */
export interface IndexedCertificate {
  /** The CN. */
  name: string;
  serial: string;
  notBefore: string;
  notAfter: string;
  /** `DNS:name` / `IP:address`, as the certificate has them. */
  sans: string[];
  keyType: KeyType;
  fingerprint256: string;
  /** When the index learnt of it: issued, renewed, or found by a rebuild. */
  recordedAt: string;
  revoked?: { date: string; reason: RevocationReason };
  /** `ca renew`: the serial of the certificate this one replaced, and the other way round. */
  renews?: string;
  renewedBy?: string;
}

/** DIR/index.json. */
export interface CaIndex {
  version: 1;
  /** The CA everything listed was issued by (a CA dir holds one CA). */
  caFingerprint256: string;
  certificates: IndexedCertificate[];
}

/** An empty index for the CA `caCert`. */
export function emptyCaIndex(caCert: X509Certificate): CaIndex {
  return { version: 1, caFingerprint256: caCert.fingerprint256, certificates: [] };
}

/** The index entry of a certificate. */
export function indexEntryOf(cert: X509Certificate, recordedAt = new Date()): IndexedCertificate {
  return {
    name: commonName(cert),
    serial: normalizeSerialHex(cert.serialNumber),
    notBefore: new Date(cert.validFrom).toISOString(),
    notAfter: new Date(cert.validTo).toISOString(),
    sans: parseSubjectAltName(cert.subjectAltName),
    keyType: cert.publicKey.asymmetricKeyType === 'rsa' ? 'rsa' : 'ec',
    fingerprint256: cert.fingerprint256,
    recordedAt: recordedAt.toISOString(),
  };
}

/**
 * Reads DIR/index.json; undefined when there is none.
 * @throws IdentityError naming the file when it cannot be read, is not a valid index, or belongs
 *   to another CA than `caCert`.
 */
export async function readCaIndex(dir: string, caCert: X509Certificate): Promise<CaIndex | undefined> {
  const path = join(dir, CA_INDEX_FILE);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new IdentityError(path, `cannot read it (${code ?? (err as Error).message})`, { cause: err });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new IdentityError(path, `not valid JSON (${(err as Error).message}); move it away and it is rebuilt from the certificates in the dir`);
  }
  const index = checkIndex(parsed, path);
  if (index.caFingerprint256 !== caCert.fingerprint256) {
    throw new IdentityError(path, `lists certificates of another CA (${index.caFingerprint256}); move it away and it is rebuilt from the certificates in the dir`);
  }
  return index;
}

/** Writes DIR/index.json atomically (mode 0644: it holds no secret). */
export async function writeCaIndex(dir: string, index: CaIndex): Promise<void> {
  await writeFileAtomically(join(dir, CA_INDEX_FILE), `${JSON.stringify(index, null, 2)}\n`, CERT_FILE_MODE);
}

/**
 * An index for a CA dir that has none: every `*.crt.pem` in `dir` (but the CA's own) that the CA
 * signed, oldest first, marked revoked where `revoked` (the CA's CRL) lists it. What was issued
 * and then deleted or overwritten cannot be found; the CRL keeps what it revoked regardless.
 */
export async function rebuildCaIndex(
  dir: string,
  caCert: X509Certificate,
  revoked: ReadonlyMap<string, { date: Date; reason: RevocationReason }> = new Map(),
): Promise<CaIndex> {
  const index = emptyCaIndex(caCert);
  const files = (await readdir(dir)).filter((f) => f.endsWith('.crt.pem') && f !== 'ca.crt.pem').sort();
  const now = new Date();
  for (const file of files) {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(await readFile(join(dir, file)));
    } catch {
      continue; // not a certificate: not ours to index
    }
    if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) continue;
    const entry = indexEntryOf(cert, now);
    const r = revoked.get(entry.serial);
    if (r !== undefined) entry.revoked = { date: r.date.toISOString(), reason: r.reason };
    index.certificates.push(entry);
  }
  index.certificates.sort((a, b) => a.notBefore.localeCompare(b.notBefore));
  return index;
}

/** The lock file that keeps two `ca` commands from rewriting one CA dir at once. */
const LOCK_FILE = '.restpipe-ca.lock';

/**
 * Runs `fn` holding DIR's lock, so that two `ca` commands do not both read the index and each
 * write back their own version of it. A lock left by a process that no longer runs is taken over.
 * @throws IdentityError when another live process holds it.
 */
export async function withCaDirLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fh = await open(path, 'wx', 0o600);
      await fh.writeFile(`${process.pid}\n`);
      await fh.close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new IdentityError(path, `cannot take the CA dir's lock (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
      }
      const holder = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(holder) && holder > 0 && isRunning(holder)) {
        throw new IdentityError(path, `another restpipe ca command (pid ${holder}) is working on this CA dir; try again when it is done`);
      }
      await unlink(path).catch(() => {}); // left by a process that died: take it over
    }
  }
  try {
    return await fn();
  } finally {
    await unlink(path).catch(() => {});
  }
}

// --- internals ---

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function commonName(cert: X509Certificate): string {
  const line = cert.subject.split('\n').find((l) => l.startsWith('CN='));
  return line === undefined ? '' : line.slice(3);
}

const ISO_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** Checks the shape of a parsed index, so that a hand-edited file fails with its place named. */
function checkIndex(v: unknown, path: string): CaIndex {
  const fail = (where: string, what: string): never => {
    throw new IdentityError(path, `${where}: ${what}; fix it, or move the file away and it is rebuilt from the certificates in the dir`);
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('the file', 'expected a JSON object');
  const o = v as Record<string, unknown>;
  if (o['version'] !== 1) fail('"version"', `expected 1, got ${JSON.stringify(o['version'])}`);
  if (typeof o['caFingerprint256'] !== 'string') fail('"caFingerprint256"', 'expected a string');
  if (!Array.isArray(o['certificates'])) fail('"certificates"', 'expected a list');
  (o['certificates'] as unknown[]).forEach((e, i) => {
    const where = `certificates[${i}]`;
    if (typeof e !== 'object' || e === null) fail(where, 'expected an object');
    const c = e as Record<string, unknown>;
    for (const key of ['name', 'serial', 'fingerprint256']) if (typeof c[key] !== 'string') fail(`${where}.${key}`, 'expected a string');
    if (!/^[0-9a-f]+$/.test(c['serial'] as string)) fail(`${where}.serial`, 'expected lower-case hex');
    for (const key of ['notBefore', 'notAfter', 'recordedAt']) {
      if (typeof c[key] !== 'string' || !ISO_DATE.test(c[key] as string)) fail(`${where}.${key}`, 'expected an ISO date');
    }
    if (!Array.isArray(c['sans']) || !(c['sans'] as unknown[]).every((s) => typeof s === 'string')) fail(`${where}.sans`, 'expected a list of strings');
    if (c['keyType'] !== 'ec' && c['keyType'] !== 'rsa') fail(`${where}.keyType`, 'expected "ec" or "rsa"');
    for (const key of ['renews', 'renewedBy']) if (c[key] !== undefined && typeof c[key] !== 'string') fail(`${where}.${key}`, 'expected a string');
    const r = c['revoked'];
    if (r !== undefined) {
      const rr = r as Record<string, unknown> | null;
      if (typeof rr !== 'object' || rr === null || typeof rr['date'] !== 'string' || !ISO_DATE.test(rr['date'])) fail(`${where}.revoked.date`, 'expected an ISO date');
      if (!REVOCATION_REASONS.includes(rr!['reason'] as RevocationReason)) fail(`${where}.revoked.reason`, `expected one of ${REVOCATION_REASONS.join(', ')}`);
    }
  });
  return v as CaIndex;
}
