// Runs the compiled test files under node:test, in two tiers. Node 20's --test takes no globs,
// so the files are found here. Usage: node scripts/run-tests.mjs [substring filter...]
//
// The parallel tier runs everything else two files at a time. The serial tier runs after it,
// one file at a time: the heavy files (chaos, leaks, storms) and those whose bounds are tight
// for a busy machine (slow peers, frozen peers, restarts, cancels, the fault proxy), so that
// none of them shares the two cores with another test's load and none of them slows the rest.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

/** Files of the serial tier (a path substring each). */
const SERIAL = [
  'faults/chaos-',
  'faults/leaks.',
  'faults/tls-unauthenticated-storm.',
  'faults/slow-peer.',
  'faults/gateway-streams.',
  'faults/gateway-slow-reader.',
  'faults/stream-cuts.',
  'faults/stream-leaks.',
  'faults/streams-many.',
  'faults/narrow-link.',
  'faults/blackhole.',
  'faults/fault-proxy.',
  'faults/gateway-max-inflight.',
  'faults/hostile-peer-never-reads.',
  'faults/tls-pipe-port-abuse.',
  'faults/gateway-slowloris.',
  'faults/gateway-slow-headers.',
  'integration/pipe-frozen-peer.',
  'integration/pipe-server-restart.',
  'integration/pipe-cancel-reaches-handler.',
  'integration/pipe-thousand-in-flight.',
  'e2e/browser-inspector-load.',
  'e2e/rules-flood.',
  'e2e/forward-nginx.',
  'e2e/forward-upload.',
  'e2e/forward-sse.',
  'e2e/forward-failures.',
];

const root = new URL('../dist/test/', import.meta.url).pathname;
const filters = process.argv.slice(2);
const files = [];
(function walk(dir) {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'helpers' && name !== 'fixtures') walk(path);
    } else if (name.endsWith('.test.js') && (filters.length === 0 || filters.some((f) => path.includes(f)))) {
      files.push(path);
    }
  }
})(root);
if (files.length === 0) {
  console.error('no test files found under dist/test (did the build run?)');
  process.exit(1);
}

const isSerial = (file) => SERIAL.some((s) => file.includes(s));
const tiers = [
  { name: 'parallel', files: files.filter((f) => !isSerial(f)), concurrency: process.env.TEST_CONCURRENCY ?? '2' },
  { name: 'serial', files: files.filter(isSerial), concurrency: '1' },
];
let status = 0;
for (const tier of tiers) {
  if (tier.files.length === 0) continue;
  const started = performance.now();
  const r = spawnSync(
    process.execPath,
    ['--expose-gc', '--test', `--test-concurrency=${tier.concurrency}`, '--test-timeout=180000', ...tier.files],
    { stdio: 'inherit' },
  );
  console.log(`# tier ${tier.name}: ${tier.files.length} files, ${((performance.now() - started) / 1000).toFixed(1)} s, exit ${r.status ?? r.signal}`);
  if (r.status !== 0) status = r.status ?? 1;
}
process.exit(status);
