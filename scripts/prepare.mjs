// npm's `prepare` for this repository (npm ci, npm install, npm pack, installing it from git):
// compiles the TypeScript into dist/ with `npm run build`, saying so first, since it takes a
// while (15 to 30 s on two busy cores).
//
// One case does not build: `npx restpipe …` (or `npx rp_…`) run in the repository. npx sees
// that the package in the working directory has that bin, installs the directory into its own
// cache as a link and runs `prepare` on it, with npm_command=exec. That rebuilt the working
// tree `npm ci` had just built, with the script's output hidden, so the first
// `npx restpipe demo` printed nothing for about 15 s (issue 9). Once dist/ exists, npx runs what
// is built, as every later npx run (which skips `prepare`) does; `npm run build` rebuilds.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url)));

if (process.env.npm_command === 'exec' && built) process.exit(0);

const started = Date.now();
console.error('restpipe: compiling the TypeScript sources into dist/ (npm run build: tsc, 15 to 30 s)…');
// npm_execpath is the npm that runs this script; without it (run by hand), npm from PATH.
const npm = process.env.npm_execpath;
const r =
  npm === undefined
    ? spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' })
    : spawnSync(process.execPath, [npm, 'run', 'build'], { cwd: root, stdio: 'inherit' });
if (r.status !== 0) {
  console.error(`restpipe: the build failed (${r.error?.message ?? `exit ${r.status ?? r.signal}`})`);
  process.exit(1);
}
console.error(`restpipe: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
