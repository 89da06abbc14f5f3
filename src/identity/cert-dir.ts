import { accessSync, constants as fsConstants, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { type IdentityRole, identityFileNames } from './install.js';

/** The original's identity directory (SPEC §3). */
export const SYSTEM_CERT_DIR = '/var/lib/restpipe';

/** The environment variable naming each role's cert dir (the original's names). */
export const CERT_DIR_ENV: Readonly<Record<IdentityRole, string>> = {
  server: 'RP_SERVER_CERT_PATH',
  client: 'RP_CLIENT_CERT_PATH',
};

/** Where a cert dir came from, for the log line that names it. */
export type CertDirSource = 'flag' | 'env' | 'default' | 'user-state';

/** Options of {@link resolveCertDir}. */
export interface ResolveCertDirOptions {
  /** `--cert-dir`. */
  flag?: string;
  /** @default process.env */
  env?: NodeJS.ProcessEnv;
  /** The system default, injectable for tests. @default '/var/lib/restpipe' */
  systemDir?: string;
  /** Home directory for the per-user fallback. @default env.HOME, else os.homedir() */
  homeDir?: string;
}

/**
 * Picks a role's cert dir: `--cert-dir`, else `RP_SERVER_CERT_PATH` / `RP_CLIENT_CERT_PATH`,
 * else `/var/lib/restpipe` when it is writable or can be created (as the original, which ran as
 * root), else the per-user state dir `$XDG_STATE_HOME/restpipe` or `~/.local/state/restpipe`.
 *
 * The system dir is also chosen when it is not writable but already holds the role's installed
 * key (installed with sudo, run as another user): the user then gets an error about that file's
 * permissions instead of "not found" in a directory they never installed into.
 *
 * Resolving creates nothing; the returned path is absolute.
 */
export function resolveCertDir(
  role: IdentityRole,
  opts: ResolveCertDirOptions = {},
): { dir: string; source: CertDirSource } {
  const env = opts.env ?? process.env;
  if (opts.flag !== undefined && opts.flag !== '') return { dir: resolve(opts.flag), source: 'flag' };
  const fromEnv = env[CERT_DIR_ENV[role]];
  if (fromEnv !== undefined && fromEnv !== '') return { dir: resolve(fromEnv), source: 'env' };

  const systemDir = resolve(opts.systemDir ?? SYSTEM_CERT_DIR);
  if (isWritableOrCreatable(systemDir) || existsFile(join(systemDir, identityFileNames(role).key))) {
    return { dir: systemDir, source: 'default' };
  }
  return { dir: userStateDir(env, opts.homeDir), source: 'user-state' };
}

/** `$XDG_STATE_HOME/restpipe`, or `~/.local/state/restpipe` (the XDG spec ignores a relative XDG_STATE_HOME). */
export function userStateDir(env: NodeJS.ProcessEnv = process.env, homeDir?: string): string {
  const xdg = env['XDG_STATE_HOME'];
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'restpipe');
  const home = homeDir ?? (env['HOME'] !== undefined && env['HOME'] !== '' ? env['HOME'] : homedir());
  return join(home, '.local', 'state', 'restpipe');
}

function isWritableOrCreatable(dir: string): boolean {
  let current = dir;
  // Walk up to the nearest existing ancestor: mkdir -p succeeds when that one is a writable dir.
  for (;;) {
    try {
      const st = statSync(current);
      if (!st.isDirectory()) return false;
      accessSync(current, fsConstants.W_OK | fsConstants.X_OK);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
    }
    const parent = dirname(current);
    if (parent === current) return false;
    current = parent;
  }
}

function existsFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
