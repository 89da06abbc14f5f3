// `--baseline REF`: another build of restpipe measured side by side with this one in the same
// run (the `restpipe-*-base` variants), so that a change is judged against the build before it
// under the same load and noise, not against figures from another day.
//
// The tree at REF is exported with `git archive` (no worktree, nothing left in .git) into a
// temporary directory, given this checkout's node_modules, and compiled with this checkout's
// TypeScript. Its own bench/variants/restpipe-node.js is what runs, so REF must be a commit
// whose bench has that script with the same arguments (any commit since the bench existed).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';

export interface Baseline {
  /** The ref as given, and the commit it named. */
  ref: string;
  commit: string;
  /** dist/bench of the baseline build. */
  benchDir: string;
  remove(): void;
}

/** Exports and builds REF; throws with the tool's output when either step fails. */
export function buildBaseline(root: string, ref: string, log: (msg: string) => void): Baseline {
  const commit = execFileSync('git', ['-C', root, 'rev-parse', '--verify', `${ref}^{commit}`], { encoding: 'utf8' }).trim();
  const dir = mkdtempSync(join(os.tmpdir(), 'restpipe-bench-base-'));
  try {
    log(`baseline: building ${ref} (${commit.slice(0, 10)}) in ${dir}`);
    execFileSync('sh', ['-c', `git -C "$0" archive --format=tar "$1" | tar -x -C "$2"`, root, commit, dir], { stdio: ['ignore', 'ignore', 'pipe'] });
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const benchDir = join(dir, 'dist', 'bench');
    if (!existsSync(join(benchDir, 'variants', 'restpipe-node.js'))) throw new Error(`${ref} has no bench/variants/restpipe-node.ts to run`);
    return { ref, commit, benchDir, remove: () => rmSync(dir, { recursive: true, force: true }) };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    const out = (err as { stdout?: Buffer; stderr?: Buffer }).stdout?.toString() ?? '';
    throw new Error(`could not build the baseline ${ref}: ${(err as Error).message}\n${out.slice(0, 2_000)}`);
  }
}
