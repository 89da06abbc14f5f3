import { type KeyObject, X509Certificate, createPrivateKey } from 'node:crypto';
import { lstat, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { IdentityError } from '../errors.js';
import { invalidOption } from '../options/validate.js';
import { type CreateCaOptions, type IssuedCertificate, createCa, issueCertificate } from './ca.js';
import type { CaMaterial, KeyType } from './ca-keys.js';
import { CA_INDEX_FILE, type CaIndex, type IndexedCertificate, emptyCaIndex, indexEntryOf, readCaIndex, rebuildCaIndex, withCaDirLock, writeCaIndex } from './ca-index.js';
import { type RevocationReason, createCrl, normalizeSerialHex, readCrl } from './crl.js';
import { CERT_FILE_MODE, writeFileAtomically, writeKeyPair } from './install.js';
import { nodeNameProblem } from '../names.js';

// What `restpipe ca …` does to a CA directory: DIR/ca.key.pem and DIR/ca.crt.pem (the CA),
// DIR/NAME.key.pem and DIR/NAME.crt.pem (what it issued), DIR/index.json (ca-index.ts) and
// DIR/crl.pem. Every command that changes the dir holds its lock; every file is replaced
// atomically. Each result carries `notes`: lines the CLI prints (an index rebuilt, a serial
// unknown to the index, …).

/** The CRL file of a CA dir (what `restpipe server --crl` is given). */
export const CRL_FILE = 'crl.pem';

/** A signed CRL, as the commands report it. */
export interface CrlSummary {
  path: string;
  revokedCount: number;
  thisUpdate: Date;
  nextUpdate: Date | undefined;
  crlNumber: number | undefined;
}

/** `ca init`: a new CA and an empty index. @throws IdentityError when DIR already has a CA or an index. */
export async function initCaDir(dirArg: string, opts: CreateCaOptions): Promise<{ keyPath: string; certPath: string; indexPath: string }> {
  const dir = resolve(dirArg);
  const indexPath = join(dir, CA_INDEX_FILE);
  if (await exists(indexPath)) {
    throw new IdentityError(indexPath, 'already exists (the index of another CA?): move it away or choose another --dir');
  }
  const pair = await createCa(opts);
  const { keyPath, certPath } = await writeKeyPair(dir, 'ca', pair);
  await writeCaIndex(dir, emptyCaIndex(new X509Certificate(pair.certPem)));
  return { keyPath, certPath, indexPath };
}

/** What `ca issue` / `ca renew` made. */
export interface IssuedInCaDir {
  issued: IssuedCertificate;
  entry: IndexedCertificate;
  keyPath: string;
  certPath: string;
  caCertPath: string;
  notes: string[];
}

/**
 * `ca issue NAME`: a key and a certificate for NAME, recorded in the index.
 * @throws RestpipeError `invalid_option` for a bad name, SAN or lifetime; IdentityError when the
 *   CA is missing or expired, or NAME already has a key here (`ca renew` is for that).
 */
export async function issueInCaDir(
  dirArg: string,
  name: string,
  opts: { sans?: string[]; days?: number; keyType?: KeyType } = {},
): Promise<IssuedInCaDir> {
  checkNodeName(name);
  return withIndexedCaDir(dirArg, 'sign', async (caDir, index, notes) => {
    const keyPath = join(caDir.dir, `${name}.key.pem`);
    if (await exists(keyPath)) {
      throw new IdentityError(keyPath, `already exists; to give ${name} a new certificate, use: restpipe ca renew ${name} --dir ${caDir.dir}`);
    }
    const issued = await issueCertificate({ ca: caDir.ca, name, ...opts });
    const paths = await writeKeyPair(caDir.dir, name, issued);
    const entry = indexEntryOf(new X509Certificate(issued.certPem));
    index.certificates.push(entry);
    await writeCaIndex(caDir.dir, index);
    return { issued, entry, ...paths, caCertPath: caDir.ca.certPath!, notes };
  });
}

/**
 * `ca renew NAME`: a fresh certificate for NAME with the SANs of its current one (DIR/NAME.crt.pem)
 * and a new key, or the same key with `keepKey`. The previous certificate is not revoked: it
 * stays valid until the node runs the new one (`ca revoke SERIAL` then, if wanted).
 * @throws IdentityError when NAME has no certificate (or key, with keepKey) here, or the CA is
 *   missing or expired.
 */
export async function renewInCaDir(
  dirArg: string,
  name: string,
  opts: { keepKey?: boolean; days?: number } = {},
): Promise<IssuedInCaDir & { previous: IndexedCertificate }> {
  checkNodeName(name);
  return withIndexedCaDir(dirArg, 'sign', async (caDir, index, notes) => {
    const certPath = join(caDir.dir, `${name}.crt.pem`);
    const keyPath = join(caDir.dir, `${name}.key.pem`);
    const current = await readIssued(certPath, caDir, `no certificate to renew: issue one with restpipe ca issue ${name} --dir ${caDir.dir}`);
    const keyPem = opts.keepKey === true ? await readDirFile(keyPath, 'the key to keep (--keep-key) is missing') : undefined;
    if (keyPem !== undefined && !current.checkPrivateKey(importPrivate(keyPath, keyPem))) {
      throw new IdentityError(keyPath, `does not match ${certPath}; renew without --keep-key for a new key`);
    }
    const previousSerial = normalizeSerialHex(current.serialNumber);
    let previous = index.certificates.find((c) => c.serial === previousSerial);
    if (previous === undefined) {
      previous = indexEntryOf(current);
      index.certificates.push(previous);
    }
    const issued = await issueCertificate({
      ca: caDir.ca,
      name,
      // The SANs as they are (name, extras and loopback names alike), in their order.
      sans: previous.sans.map((s) => s.replace(/^(DNS|IP):/, '')),
      loopbackSans: false,
      ...(keyPem === undefined ? { keyType: previous.keyType } : { keyPem }),
      ...(opts.days === undefined ? {} : { days: opts.days }),
    });
    await writeKeyPair(caDir.dir, name, issued, { overwrite: true });
    const entry = { ...indexEntryOf(new X509Certificate(issued.certPem)), renews: previousSerial };
    previous.renewedBy = entry.serial;
    index.certificates.push(entry);
    await writeCaIndex(caDir.dir, index);
    return { issued, entry, previous, keyPath, certPath, caCertPath: caDir.ca.certPath!, notes };
  });
}

/** What `ca revoke` did. */
export interface RevokeResult {
  /** Certificates revoked now (an unknown serial has only `serial` and `name` ''). */
  revoked: IndexedCertificate[];
  /** Certificates of the target that were revoked before. */
  alreadyRevoked: IndexedCertificate[];
  crl: CrlSummary | undefined;
  notes: string[];
}

/**
 * `ca revoke NAME|SERIAL`: marks NAME's unexpired certificates (or the one with SERIAL) revoked
 * in the index and signs a new DIR/crl.pem listing them with every earlier revocation. A serial
 * the index does not know (a certificate this CA signed elsewhere) is revoked too when given in
 * full (8+ hex digits, or openssl's AB:CD form), with a note.
 * @throws IdentityError / RestpipeError `invalid_option` when the target is unknown.
 */
export async function revokeInCaDir(dirArg: string, target: string, reason: RevocationReason = 'unspecified'): Promise<RevokeResult> {
  return withIndexedCaDir(dirArg, 'sign', async (caDir, index, notes) => {
    const now = new Date();
    let matches = index.certificates.filter((c) => c.name === target);
    if (matches.length === 0 && /^[0-9a-fA-F:]+$/.test(target)) {
      const serial = normalizeSerialHex(target);
      matches = index.certificates.filter((c) => c.serial === serial);
      if (matches.length === 0) {
        if (!/:/.test(target) && target.replace(/^0+/, '').length < 8) {
          throw invalidOption(`no certificate named or with serial ${JSON.stringify(target)} in ${join(caDir.dir, CA_INDEX_FILE)} (an unknown serial must be given in full: 8 or more hex digits, or as AB:CD:…)`);
        }
        notes.push(`note: serial ${serial} is not in ${join(caDir.dir, CA_INDEX_FILE)}; revoked anyway (a certificate this CA signed elsewhere)`);
        const unknown: IndexedCertificate = { name: '', serial, notBefore: now.toISOString(), notAfter: now.toISOString(), sans: [], keyType: 'ec', fingerprint256: '', recordedAt: now.toISOString() };
        unknown.revoked = { date: now.toISOString(), reason };
        const crl = await signCrl(caDir, index, now, [unknown]);
        return { revoked: [unknown], alreadyRevoked: [], crl, notes };
      }
    } else if (matches.length === 0) {
      throw invalidOption(`no certificate named ${JSON.stringify(target)} in ${join(caDir.dir, CA_INDEX_FILE)} (see: restpipe ca list --dir ${caDir.dir})`);
    }
    const alreadyRevoked = matches.filter((c) => c.revoked !== undefined);
    const expired = matches.filter((c) => c.revoked === undefined && Date.parse(c.notAfter) <= now.getTime());
    const toRevoke = matches.filter((c) => c.revoked === undefined && Date.parse(c.notAfter) > now.getTime());
    for (const c of expired) notes.push(`note: ${c.name} ${c.serial} expired on ${c.notAfter}: TLS refuses it anyway; not added to the CRL`);
    if (toRevoke.length === 0) return { revoked: [], alreadyRevoked, crl: undefined, notes };
    for (const c of toRevoke) c.revoked = { date: now.toISOString(), reason };
    // The CRL first: once it is written the revocation takes effect; the index only records it.
    const crl = await signCrl(caDir, index, now);
    await writeCaIndex(caDir.dir, index);
    return { revoked: toRevoke, alreadyRevoked, crl, notes };
  });
}

/** `ca crl`: re-signs DIR/crl.pem with a fresh thisUpdate/nextUpdate (created empty if missing). */
export async function resignCaCrl(dirArg: string): Promise<{ crl: CrlSummary; notes: string[] }> {
  return withIndexedCaDir(dirArg, 'sign', async (caDir, index, notes) => {
    const crl = await signCrl(caDir, index, new Date());
    return { crl, notes };
  });
}

/** `ca list`: the index (rebuilt first if missing) and the CRL's state. */
export async function listCaDir(dirArg: string): Promise<{ dir: string; certificates: IndexedCertificate[]; crl: CrlSummary | undefined; notes: string[] }> {
  return withIndexedCaDir(dirArg, 'read', async (caDir, index, notes) => {
    const crlPath = join(caDir.dir, CRL_FILE);
    const existing = await readCaCrl(crlPath, caDir);
    const crl = existing === undefined ? undefined : { path: crlPath, revokedCount: existing.entries.length, thisUpdate: existing.thisUpdate, nextUpdate: existing.nextUpdate, crlNumber: existing.crlNumber };
    return { dir: caDir.dir, certificates: index.certificates, crl, notes };
  });
}

// --- internals ---

function checkNodeName(name: string): void {
  const problem = nodeNameProblem(name);
  if (problem !== undefined) throw invalidOption(`invalid node name ${JSON.stringify(name)}: ${problem}`);
}

/** Opens the CA dir, takes its lock, loads (or rebuilds) its index, and runs `fn` with them. */
async function withIndexedCaDir<T>(
  dirArg: string,
  use: 'sign' | 'read',
  fn: (caDir: OpenedCaDir, index: CaIndex, notes: string[]) => Promise<T>,
): Promise<T> {
  const caDir = await openCaDir(dirArg, use);
  return withCaDirLock(caDir.dir, async () => {
    const { index, notes } = await loadIndex(caDir);
    return fn(caDir, index, notes);
  });
}

interface OpenedCaDir {
  dir: string;
  ca: CaMaterial & { keyPath: string; certPath: string };
  caCert: X509Certificate;
}

/** Reads DIR/ca.key.pem and DIR/ca.crt.pem; to sign, the CA must not have expired. */
async function openCaDir(dirArg: string, use: 'sign' | 'read'): Promise<OpenedCaDir> {
  const dir = resolve(dirArg);
  const init = 'not found: run `restpipe ca init --dir DIR` first';
  const keyPath = join(dir, 'ca.key.pem');
  const certPath = join(dir, 'ca.crt.pem');
  const certPem = await readDirFile(certPath, init);
  const keyPem = use === 'sign' ? await readDirFile(keyPath, init) : '';
  let caCert: X509Certificate;
  try {
    caCert = new X509Certificate(certPem);
  } catch (err) {
    throw new IdentityError(certPath, `CA certificate does not parse: ${(err as Error).message}`, { cause: err });
  }
  const notAfter = new Date(caCert.validTo);
  if (use === 'sign' && notAfter.getTime() <= Date.now()) {
    throw new IdentityError(certPath, `the CA expired on ${notAfter.toISOString()}: nothing it signs would be trusted; make a new one with restpipe ca init`);
  }
  return { dir, ca: { keyPem, certPem, keyPath, certPath }, caCert };
}

/** The index, or one rebuilt from the certificates in the dir (and written, with a note). */
async function loadIndex(caDir: OpenedCaDir): Promise<{ index: CaIndex; notes: string[] }> {
  const found = await readCaIndex(caDir.dir, caDir.caCert);
  if (found !== undefined) return { index: found, notes: [] };
  const crl = await readCaCrl(join(caDir.dir, CRL_FILE), caDir);
  const revoked = new Map((crl?.entries ?? []).map((e) => [e.serialHex, { date: e.date, reason: e.reason }]));
  const index = await rebuildCaIndex(caDir.dir, caDir.caCert, revoked);
  await writeCaIndex(caDir.dir, index);
  const n = index.certificates.length;
  return {
    index,
    notes: [`note: ${join(caDir.dir, CA_INDEX_FILE)} did not exist: started it from the ${n} certificate${n === 1 ? '' : 's'} this CA signed found in ${caDir.dir}`],
  };
}

/**
 * Signs DIR/crl.pem: every revocation of the index, of `extra`, and of the CRL it replaces (a
 * revocation is never dropped, even one the index lost), numbered above the previous CRL.
 */
async function signCrl(caDir: OpenedCaDir, index: CaIndex, now: Date, extra: IndexedCertificate[] = []): Promise<CrlSummary> {
  const path = join(caDir.dir, CRL_FILE);
  const previous = await readCaCrl(path, caDir);
  const revoked = new Map<string, { serialHex: string; date: Date; reason: RevocationReason }>();
  for (const e of previous?.entries ?? []) revoked.set(e.serialHex, e);
  for (const c of [...index.certificates, ...extra]) {
    if (c.revoked !== undefined) revoked.set(c.serial, { serialHex: c.serial, date: new Date(c.revoked.date), reason: c.revoked.reason });
  }
  const crlNumber = Math.max((previous?.crlNumber ?? 0) + 1, Math.floor(now.getTime() / 1000));
  const pem = await createCrl({ ca: caDir.ca, revoked: [...revoked.values()], thisUpdate: now, crlNumber });
  await writeFileAtomically(path, pem, CERT_FILE_MODE);
  const written = await readCrl(pem);
  return { path, revokedCount: revoked.size, thisUpdate: written.thisUpdate, nextUpdate: written.nextUpdate, crlNumber };
}

/** DIR/crl.pem when there is one. @throws IdentityError when it is not a CRL signed by this CA. */
async function readCaCrl(path: string, caDir: OpenedCaDir): Promise<Awaited<ReturnType<typeof readCrl>> | undefined> {
  let pem: string;
  try {
    pem = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new IdentityError(path, `cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, { cause: err });
  }
  let crl: Awaited<ReturnType<typeof readCrl>>;
  try {
    crl = await readCrl(pem, caDir.ca.certPem);
  } catch (err) {
    throw new IdentityError(path, `not a CRL (${(err as Error).message}); move it away and run restpipe ca crl --dir DIR`, { cause: err });
  }
  if (!crl.signedByCa) throw new IdentityError(path, 'is not signed by this CA; move it away and run restpipe ca crl --dir DIR');
  return crl;
}

/** A certificate of the dir, checked to be this CA's. */
async function readIssued(path: string, caDir: OpenedCaDir, missing: string): Promise<X509Certificate> {
  const pem = await readDirFile(path, missing);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (err) {
    throw new IdentityError(path, `certificate does not parse: ${(err as Error).message}`, { cause: err });
  }
  if (!cert.checkIssued(caDir.caCert) || !cert.verify(caDir.caCert.publicKey)) {
    throw new IdentityError(path, `not signed by the CA in ${caDir.ca.certPath}`);
  }
  return cert;
}

function importPrivate(path: string, pem: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new IdentityError(path, `private key does not parse: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}

async function readDirFile(path: string, missing: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new IdentityError(path, code === 'ENOENT' ? missing : `cannot read it (${code ?? (err as Error).message})`, { cause: err });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
