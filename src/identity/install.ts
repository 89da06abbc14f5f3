import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { link, lstat, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { IdentityError } from '../errors.js';
import { invalidOption } from '../options/validate.js';
import type { PemPair } from './ca-keys.js';
import { nodeNameProblem } from '../names.js';
import { type IdentityInfo, verifyIdentity } from './verify.js';

/** The two node roles. */
export type IdentityRole = 'server' | 'client';

/** Installed server key (the original's name). */
export const SERVER_KEY_FILE = 'restpipe.server.key.pem';
/** Installed server certificate. */
export const SERVER_CERT_FILE = 'restpipe.server.crt.pem';
/** Installed client key. */
export const CLIENT_KEY_FILE = 'restpipe.client.key.pem';
/** Installed client certificate. */
export const CLIENT_CERT_FILE = 'restpipe.client.crt.pem';
/** Installed CA certificate (both roles). */
export const CA_CERT_FILE = 'ca.crt.pem';

/** Mode of every private key file restpipe writes (SPEC §3). */
export const KEY_FILE_MODE = 0o600;
/** Mode of certificate files. */
export const CERT_FILE_MODE = 0o644;
/** Mode of a directory restpipe creates to hold keys. */
export const CERT_DIR_MODE = 0o700;

/** The installed file names of a role. */
export function identityFileNames(role: IdentityRole): { key: string; cert: string; ca: string } {
  return role === 'server'
    ? { key: SERVER_KEY_FILE, cert: SERVER_CERT_FILE, ca: CA_CERT_FILE }
    : { key: CLIENT_KEY_FILE, cert: CLIENT_CERT_FILE, ca: CA_CERT_FILE };
}

/** Where the files to install come from. `caPath` may be left out only for a client with a CA already installed. */
export interface IdentitySource {
  keyPath: string;
  certPath: string;
  caPath?: string;
}

/** What {@link installIdentity} did. */
export interface InstallResult {
  certDir: string;
  /** Installed paths of the role's three files. */
  files: { key: string; cert: string; ca: string };
  /** Paths actually written (the CA is not rewritten when a client reused the installed one). */
  written: string[];
  info: IdentityInfo;
}

/**
 * Validates a key, certificate and CA ({@link verifyIdentity}, purpose = role) and installs them
 * into `certDir` under the role's file names, atomically: every file is first written and
 * fsynced under a temporary name in `certDir` (keys 0600, certificates 0644; `certDir` is
 * created 0700 when missing), then all are renamed into place. On any failure the temporary
 * files are removed and the installed files are left as they were.
 *
 * A client may leave out `caPath` when `certDir` already holds `ca.crt.pem`; the 2-argument
 * form of `rp_client_set_identity` relies on that (SPEC §3).
 *
 * @throws IdentityError naming the file and the problem (unreadable, invalid, no CA to use).
 */
export async function installIdentity(
  role: IdentityRole,
  source: IdentitySource,
  certDir: string,
  opts: { now?: Date } = {},
): Promise<InstallResult> {
  if (role !== 'server' && role !== 'client') throw invalidOption(`role must be 'server' or 'client', got ${String(role)}`);
  const dir = resolve(certDir);
  const names = identityFileNames(role);
  const files = { key: join(dir, names.key), cert: join(dir, names.cert), ca: join(dir, names.ca) };

  let caPath = source.caPath;
  let reuseCa = false;
  if (caPath === undefined || caPath === '') {
    if (role === 'server') {
      throw new IdentityError(files.ca, 'no CA given: pass the CA certificate as the third argument');
    }
    if (!(await exists(files.ca))) {
      throw new IdentityError(
        files.ca,
        'no CA installed yet: pass the CA certificate as the third argument (restpipe client set-identity KEY CRT CA)',
      );
    }
    caPath = files.ca;
    reuseCa = true;
  }

  const [keyPem, certPem, caPem] = await Promise.all([
    readSource(source.keyPath),
    readSource(source.certPath),
    readSource(caPath),
  ]);
  const info = verifyIdentity(
    {
      key: { path: source.keyPath, pem: keyPem },
      cert: { path: source.certPath, pem: certPem },
      ca: { path: caPath, pem: caPem },
    },
    { now: opts.now ?? new Date(), purpose: role },
  );

  const plan: PlannedFile[] = [
    { path: files.key, data: keyPem, mode: KEY_FILE_MODE },
    { path: files.cert, data: certPem, mode: CERT_FILE_MODE },
  ];
  if (!reuseCa) plan.push({ path: files.ca, data: caPem, mode: CERT_FILE_MODE });
  await writeFilesAtomically(dir, plan);
  return { certDir: dir, files, written: plan.map((p) => p.path), info };
}

/**
 * Writes `DIR/NAME.key.pem` (0600) and `DIR/NAME.crt.pem` (0644), as `ca init` and `ca issue`
 * do, creating `DIR` (0700) when missing. Both files appear together or not at all.
 *
 * @returns the two paths.
 * @throws IdentityError naming the key file when it exists and `overwrite` is not set;
 *   RestpipeError `invalid_option` when NAME is not a valid node name (it becomes a file name).
 */
export async function writeKeyPair(
  dir: string,
  name: string,
  pair: PemPair,
  opts: { overwrite?: boolean } = {},
): Promise<{ keyPath: string; certPath: string }> {
  const nameProblem = nodeNameProblem(name);
  if (nameProblem !== undefined) throw invalidOption(`invalid name ${JSON.stringify(name)}: ${nameProblem}`);
  const abs = resolve(dir);
  const keyPath = join(abs, `${name}.key.pem`);
  const certPath = join(abs, `${name}.crt.pem`);
  if (opts.overwrite !== true && (await exists(keyPath))) {
    throw new IdentityError(keyPath, 'already exists; refusing to overwrite a private key (remove it or choose another name)');
  }
  await writeFilesAtomically(abs, [
    { path: keyPath, data: pair.keyPem, mode: KEY_FILE_MODE },
    { path: certPath, data: pair.certPem, mode: CERT_FILE_MODE },
  ]);
  return { keyPath, certPath };
}

/**
 * Writes one file atomically (temp file in the same directory, fsync, rename), with `mode`,
 * creating its directory (0700) when missing: readers see the old or the new file, never a
 * part. `ca` uses it for `DIR/index.json` and `DIR/crl.pem`.
 * @throws IdentityError naming the path and the problem.
 */
export async function writeFileAtomically(path: string, data: string | Buffer, mode: number): Promise<void> {
  const abs = resolve(path);
  await writeFilesAtomically(dirname(abs), [{ path: abs, data, mode }]);
}

// --- internals ---

interface PlannedFile {
  path: string;
  data: string | Buffer;
  mode: number;
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new IdentityError(path, `cannot be checked: ${(err as Error).message}`, { cause: err });
  }
}

async function readSource(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? 'file not found'
        : code === 'EACCES'
          ? 'permission denied (run as a user that can read it)'
          : code === 'EISDIR'
            ? 'is a directory, expected a PEM file'
            : `cannot be read: ${(err as Error).message}`;
    throw new IdentityError(path, problem, { cause: err });
  }
}

/**
 * Temp files, fsync, then renames: a rename within one directory is atomic, so every installed
 * file is always either the old or the new version. Before the renames, hard links keep the
 * old versions, so that a rename failing half-way (rare: a full or read-only disk was caught
 * earlier) can put the old set back rather than leave a new key beside an old certificate.
 */
async function writeFilesAtomically(dir: string, plan: PlannedFile[]): Promise<void> {
  await ensureDir(dir);
  const tag = `${process.pid}.${randomBytes(6).toString('hex')}`;
  const temps: string[] = [];
  const backups = new Map<string, string>();
  const renamed: string[] = [];
  try {
    for (const [i, f] of plan.entries()) {
      const tmp = join(dir, `.restpipe-tmp.${tag}.${i}`);
      temps.push(tmp);
      await writeSynced(tmp, f.data, f.mode);
    }
    for (const [i, f] of plan.entries()) {
      const bak = join(dir, `.restpipe-bak.${tag}.${i}`);
      try {
        await link(f.path, bak);
        backups.set(f.path, bak);
      } catch {
        // No old file (the usual case), or a filesystem without hard links: nothing to restore.
      }
    }
    for (const [i, f] of plan.entries()) {
      await rename(temps[i] as string, f.path);
      renamed.push(f.path);
    }
    await syncDir(dir);
  } catch (err) {
    for (const path of renamed) {
      const bak = backups.get(path);
      await (bak !== undefined ? rename(bak, path) : unlink(path)).catch(() => {});
    }
    await Promise.all(temps.map((t) => unlink(t).catch(() => {})));
    await Promise.all([...backups.values()].map((b) => unlink(b).catch(() => {})));
    throw toIdentityError(err, dir);
  }
  await Promise.all([...backups.values()].map((b) => unlink(b).catch(() => {})));
}

async function ensureDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true, mode: CERT_DIR_MODE });
  } catch (err) {
    throw toIdentityError(err, dir);
  }
}

async function writeSynced(path: string, data: string | Buffer, mode: number): Promise<void> {
  // O_EXCL: a temp name is never someone else's file (or a planted symlink).
  const fh = await open(path, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, mode);
  try {
    // open()'s mode is filtered by the umask; set it exactly.
    await fh.chmod(mode);
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  // Makes the renames themselves durable; some filesystems refuse fsync on a directory.
  try {
    const fh = await open(dir, fsConstants.O_RDONLY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Best effort only.
  }
}

function toIdentityError(err: unknown, dir: string): IdentityError {
  if (err instanceof IdentityError) return err;
  const e = err as NodeJS.ErrnoException;
  const path = typeof e.path === 'string' && !e.path.includes('.restpipe-') ? e.path : dir;
  const problem =
    e.code === 'EACCES' || e.code === 'EPERM'
      ? 'permission denied (run with sudo, or choose another directory with --cert-dir)'
      : e.code === 'EROFS'
        ? 'read-only file system'
        : e.code === 'ENOSPC'
          ? 'no space left on device'
          : `cannot be written: ${e.message}`;
  return new IdentityError(path, problem, { cause: err });
}
