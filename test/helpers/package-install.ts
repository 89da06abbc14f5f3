// The package as users get it: `npm pack` in the repository, then `npm install ./restpipe-*.tgz`
// in an empty directory outside it, offline. Offline needs one step a user with a network would
// not take: the empty directory gets a lockfile holding the runtime part of the repository's
// lockfile, because `npm ci` caches the locked tarballs but not the registry metadata a fresh
// resolution would ask for. A dependency restpipe needs at runtime but does not declare is in
// that part only as a dev dependency, so it is left out and the installed restpipe fails.
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT, runCommand } from './cli-processes.js';

/** What `npm pack --json` reports of the tarball. */
export interface PackedTarball {
  filename: string;
  integrity: string;
  /** Paths inside the package, e.g. `bin/restpipe.js`. */
  files: string[];
}

/** An empty directory with the packed restpipe installed in it. */
export interface InstalledPackage {
  dir: string;
  tarball: PackedTarball;
  /** node_modules/restpipe in `dir`. */
  packageDir: string;
}

/**
 * The environment for npm run from a test: none of the `npm_*` variables that `npm test` passes
 * down (they name the repository as the project and would steer the nested npm), no update check.
 */
export function npmEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.toLowerCase().startsWith('npm_') && k !== 'INIT_CWD' && !k.startsWith('RP_')) env[k] = v;
  }
  // The cache is the one `npm ci` filled; keep it when npm test was given another.
  if (process.env['npm_config_cache'] !== undefined) env['npm_config_cache'] = process.env['npm_config_cache'];
  return { ...env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...extra };
}

/**
 * `npm pack` of the repository into `dir`. Without running `prepare` (the build): `npm test`
 * has just built dist/, and a second tsc run would cost half a minute on a busy machine.
 */
export async function packRepository(dir: string): Promise<PackedTarball> {
  const r = await runCommand('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: REPO_ROOT, env: npmEnv() });
  if (r.code !== 0) throw new Error(`npm pack failed (${r.code})\n${r.stderr}`);
  const [info] = JSON.parse(r.stdout) as Array<{ filename: string; integrity: string; files: Array<{ path: string }> }>;
  if (info === undefined) throw new Error(`npm pack printed no package\n${r.stdout}`);
  return { filename: info.filename, integrity: info.integrity, files: info.files.map((f) => f.path) };
}

interface LockEntry {
  dev?: boolean;
  devOptional?: boolean;
  [key: string]: unknown;
}

/**
 * A lockfile for a project that depends on the tarball only: restpipe's own entry plus every
 * entry of the repository's lockfile that is not a dev dependency. Paths stay valid: restpipe's
 * dependencies are hoisted to node_modules/ in both trees.
 */
function runtimeLockfile(projectName: string, tarball: PackedTarball): object {
  const repoLock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
  const spec = `file:${tarball.filename}`;
  const packages: Record<string, unknown> = {
    '': { name: projectName, dependencies: { restpipe: spec } },
    'node_modules/restpipe': {
      version: pkg['version'],
      resolved: spec,
      integrity: tarball.integrity,
      license: pkg['license'],
      dependencies: pkg['dependencies'],
      bin: pkg['bin'],
      engines: pkg['engines'],
    },
  };
  for (const [path, entry] of Object.entries(repoLock.packages)) {
    if (path !== '' && entry.dev !== true && entry.devOptional !== true) packages[path] = entry;
  }
  return { name: projectName, lockfileVersion: 3, requires: true, packages };
}

/**
 * Packs the repository and installs the tarball into the empty (or new) directory `dir`, offline
 * (`--offline`: npm fails with ENOTCACHED rather than touch the network). Install scripts of
 * dependencies are not run: the only one is hot-shots' optional unix-dgram, a native build that
 * may fetch Node's headers and that restpipe does not use (its statsd client sends UDP).
 */
export async function packAndInstall(dir: string): Promise<InstalledPackage> {
  await mkdir(dir, { recursive: true });
  const tarball = await packRepository(dir);
  const name = 'restpipe-install-check';
  await writeFile(join(dir, 'package.json'), `${JSON.stringify({ name, private: true, dependencies: { restpipe: `file:${tarball.filename}` } }, null, 2)}\n`);
  await writeFile(join(dir, 'package-lock.json'), `${JSON.stringify(runtimeLockfile(name, tarball), null, 2)}\n`);
  const r = await runCommand('npm', ['install', '--offline', '--ignore-scripts', `./${tarball.filename}`], { cwd: dir, env: npmEnv(), timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`npm install ./${tarball.filename} failed (${r.code})\n${r.stdout}\n${r.stderr}`);
  return { dir, tarball, packageDir: join(dir, 'node_modules', 'restpipe') };
}
