import { X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { IdentityError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { resolveCertDir } from './cert-dir.js';
import { type IdentityRole, identityFileNames } from './install.js';
import { type IdentityInfo, formatCertTime, verifyIdentity } from './verify.js';
import { nodeCrypto, x509 } from './x509.js';

/** A verified identity read from a cert dir, ready for `tls.createServer` / `tls.connect`. */
export interface LoadedIdentity {
  /** PEM private key. Never log it. */
  key: string;
  /** PEM certificate. */
  cert: string;
  /** PEM CA certificate(s): the only roots the peer is checked against. */
  ca: string;
  /** The certificate's CN: this node's name. */
  name: string;
  info: IdentityInfo;
  files: { key: string; cert: string; ca: string };
}

/** Options of {@link loadIdentity}. */
export interface LoadIdentityOptions {
  /** Receives the warning about a group- or world-readable key. @default silent */
  logger?: Logger;
  /** The time validity is checked at. @default new Date() */
  now?: Date;
}

/**
 * Reads a role's installed identity from `certDir` (file names as `installIdentity` writes
 * them) and verifies it ({@link verifyIdentity}, purpose = role). Warns through `logger` when
 * the key file is readable by group or others (RELIABILITY S16).
 *
 * @throws IdentityError naming the file: missing ("not found: run `restpipe ROLE set-identity
 *   KEY CRT CA` first", with `--cert-dir DIR` when set-identity would not pick this dir by
 *   itself), unreadable, or failing verification.
 */
export async function loadIdentity(
  role: IdentityRole,
  certDir: string,
  opts: LoadIdentityOptions = {},
): Promise<LoadedIdentity> {
  const logger = opts.logger ?? silentLogger;
  const dir = resolve(certDir);
  const names = identityFileNames(role);
  const files = { key: join(dir, names.key), cert: join(dir, names.cert), ca: join(dir, names.ca) };
  // set-identity installs into the dir it resolves by itself (RP_*_CERT_PATH, else the default);
  // when that is not this dir, the command to run needs --cert-dir.
  const certDirFlag = resolveCertDir(role).dir === dir ? '' : ` --cert-dir ${shellWord(dir)}`;
  const hint = `run \`restpipe ${role} set-identity${certDirFlag} KEY CRT CA\` first`;

  // Read together, but report the first missing file in a fixed order (key, certificate, CA):
  // with Promise.all the error named whichever read failed first, so the same empty dir gave
  // different messages from run to run.
  const reads = await Promise.allSettled([readInstalled(files.key, hint), readInstalled(files.cert, hint), readInstalled(files.ca, hint)]);
  for (const r of reads) if (r.status === 'rejected') throw r.reason;
  const [key, cert, ca] = reads.map((r) => (r as PromiseFulfilledResult<string>).value) as [string, string, string];

  const keyStat = await stat(files.key);
  if ((keyStat.mode & 0o077) !== 0) {
    logger.warn(
      { file: files.key, mode: (keyStat.mode & 0o777).toString(8).padStart(4, '0') },
      'private key file is readable by group or others; chmod 600 it',
    );
  }

  const info = verifyIdentity(
    { key: { path: files.key, pem: key }, cert: { path: files.cert, pem: cert }, ca: { path: files.ca, pem: ca } },
    { now: opts.now ?? new Date(), purpose: role },
  );
  return { key, cert, ca, name: info.cn, info, files };
}

/** A CRL read from disk, for the server's tls `crl` option. */
export interface LoadedCrl {
  /** PEM text (`-----BEGIN X509 CRL-----`) as read. */
  pem: string;
  path: string;
  issuer: string;
  thisUpdate: Date;
  /** Past this, OpenSSL refuses every client with `CRL_HAS_EXPIRED` (RELIABILITY S6). */
  nextUpdate: Date | undefined;
  revokedCount: number;
}

/** Options of {@link loadCrl}. */
export interface LoadCrlOptions {
  /**
   * The CA (PEM) the CRL must be signed by. With Node's `crl` option OpenSSL wants a CRL from
   * the issuer of every client certificate; one from another CA refuses them all, so a wrong
   * file is better refused here.
   */
  caPem?: string;
  /** Warns when the CRL is past its nextUpdate. @default silent */
  logger?: Logger;
  /** @default new Date() */
  now?: Date;
}

/**
 * Reads a CRL file and checks that it parses (and, given `caPem`, that the CA signed it).
 *
 * @throws IdentityError naming the file when it is missing, unreadable, not a PEM CRL, does not
 *   parse, or is not signed by the CA.
 */
export async function loadCrl(path: string, opts: LoadCrlOptions = {}): Promise<LoadedCrl> {
  const abs = resolve(path);
  const pem = await readInstalled(abs, 'check the CRL path');
  if (!pem.includes('-----BEGIN X509 CRL-----')) {
    const problem = pem.includes('-----BEGIN CRL-----')
      ? 'CRL is labelled "BEGIN CRL"; OpenSSL needs "-----BEGIN X509 CRL-----"'
      : 'not a PEM CRL (no "-----BEGIN X509 CRL-----" block)';
    throw new IdentityError(abs, problem);
  }
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(pem);
  } catch (err) {
    throw new IdentityError(abs, `CRL does not parse: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (opts.caPem !== undefined) {
    let ok = false;
    try {
      const ca = new x509.X509Certificate(new X509Certificate(opts.caPem).raw);
      ok = await crl.verify({ publicKey: ca }, nodeCrypto);
    } catch {
      ok = false;
    }
    if (!ok) throw new IdentityError(abs, 'CRL is not signed by the CA (a CRL from another CA would refuse every client)');
  }
  const now = opts.now ?? new Date();
  if (crl.nextUpdate !== undefined && crl.nextUpdate.getTime() < now.getTime()) {
    (opts.logger ?? silentLogger).warn(
      { file: abs, nextUpdate: formatCertTime(crl.nextUpdate) },
      'CRL is past its nextUpdate: every client will be refused (CRL_HAS_EXPIRED) until a fresh CRL is installed',
    );
  }
  return {
    pem,
    path: abs,
    issuer: crl.issuer,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate,
    revokedCount: crl.entries.length,
  };
}

/** A path as one shell word: as it is when that is safe, else in single quotes. */
function shellWord(s: string): string {
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

async function readInstalled(path: string, hint: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? `not found: ${hint}`
        : code === 'EACCES'
          ? 'permission denied (run as the user that installed it, or fix its owner)'
          : `cannot be read: ${(err as Error).message}`;
    throw new IdentityError(path, problem, { cause: err });
  }
}
