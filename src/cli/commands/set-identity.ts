import { CERT_DIR_ENV, SYSTEM_CERT_DIR, installIdentity, resolveCertDir, type CertDirSource } from '../../identity/index.js';

/**
 * `restpipe server|client set-identity KEY CRT [CA]`: validates the files and installs them
 * atomically into the role's cert dir (SPEC §3); writes nothing when any check fails.
 */
export async function setIdentity(
  role: 'server' | 'client',
  args: { key: string; cert: string; ca?: string; certDir?: string },
  env: NodeJS.ProcessEnv,
  out: (line: string) => void,
): Promise<number> {
  const { dir, source } = resolveCertDir(role, { ...(args.certDir === undefined ? {} : { flag: args.certDir }), env });
  const result = await installIdentity(role, { keyPath: args.key, certPath: args.cert, ...(args.ca === undefined ? {} : { caPath: args.ca }) }, dir);
  out(`installed ${role} identity '${result.info.cn}' into ${result.certDir} (${describeCertDirSource(role, source)})`);
  for (const file of result.written) out(`  ${file}`);
  out(`  certificate valid until ${result.info.notAfter.toISOString()}`);
  return 0;
}

/** Where a run's cert dir came from: {@link CertDirSource}, or the `--config` file's "cert-dir". */
export type CertDirLogSource = CertDirSource | 'config';

/** Why this cert dir, for the line that names it (SPEC §3: the path used is logged). */
export function describeCertDirSource(role: 'server' | 'client', source: CertDirLogSource): string {
  switch (source) {
    case 'flag':
      return '--cert-dir';
    case 'env':
      return CERT_DIR_ENV[role];
    case 'config':
      return '"cert-dir" in the --config file';
    case 'default':
      return 'the default';
    case 'user-state':
      return `${SYSTEM_CERT_DIR} is not writable: the per-user state dir`;
  }
}
