/**
 * `npm run fuzz`: runs fuzz-lib's mutation fuzzer over the wire codec and prints a summary.
 *
 *   node dist/fuzz/fuzz.js [--inputs N] [--seed S] [--seconds T] [--index N] [--no-corpus]
 *
 * Defaults: 1,000,000 inputs, a random seed (printed), no time limit. Also read from the
 * environment: FUZZ_INPUTS, FUZZ_SEED, FUZZ_SECONDS. With --seconds and no --inputs it runs
 * for that long. On a failure it prints the seed, the input's index, the slicing and a hex
 * dump, writes the input as a corpus-style .hex file, and exits 1 (2 for bad arguments).
 */
import { randomInt } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatReport, FuzzFailure, hexDump, runFuzz, type FuzzOptions } from './fuzz-lib.js';

function usage(problem: string): never {
  console.error(`fuzz: ${problem}`);
  console.error('usage: node dist/fuzz/fuzz.js [--inputs N] [--seed S] [--seconds T] [--index N] [--no-corpus]');
  process.exit(2);
}

function count(name: string, raw: string | undefined, { integer }: { integer: boolean }): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (integer && !Number.isInteger(n))) usage(`${name} must be a non-negative ${integer ? 'integer' : 'number'}, got "${raw}"`);
  return n;
}

function parseArgs(argv: readonly string[]): FuzzOptions {
  const raw: Record<string, string | undefined> = {
    inputs: process.env.FUZZ_INPUTS,
    seed: process.env.FUZZ_SEED,
    seconds: process.env.FUZZ_SECONDS,
    index: undefined,
  };
  let corpus = true;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--no-corpus') {
      corpus = false;
      continue;
    }
    const m = /^--(inputs|seed|seconds|index)(?:=(.*))?$/.exec(arg);
    if (m === null) usage(`unknown argument "${arg}"`);
    const value = m[2] ?? argv[++i];
    if (value === undefined) usage(`${arg} needs a value`);
    raw[m[1]!] = value;
  }
  const inputs = count('--inputs', raw.inputs, { integer: true });
  const seconds = count('--seconds', raw.seconds, { integer: false });
  const seed = count('--seed', raw.seed, { integer: true }) ?? randomInt(0, 2 ** 32 - 1);
  if (seed > 0xffffffff) usage('--seed must fit in 32 bits');
  const index = count('--index', raw.index, { integer: true });
  return {
    seed,
    // A time box alone means "as many as fit".
    inputs: inputs ?? (seconds !== undefined ? Number.POSITIVE_INFINITY : 1_000_000),
    ...(seconds === undefined ? {} : { seconds }),
    ...(index === undefined ? {} : { index }),
    ...(corpus ? {} : { corpusDir: null }),
  };
}

const options = parseArgs(process.argv.slice(2));
console.log(
  `fuzzing the wire codec: seed ${options.seed}, ` +
    (options.index !== undefined
      ? `input #${options.index} only`
      : Number.isFinite(options.inputs) ? `${options.inputs} inputs` : 'as many inputs as fit') +
    (options.seconds !== undefined ? `, at most ${options.seconds} s` : ''),
);
try {
  console.log(formatReport(runFuzz(options)));
} catch (err) {
  if (!(err instanceof FuzzFailure)) throw err;
  const file = join(tmpdir(), `restpipe-fuzz-${err.seed}-${err.inputLabel.replace(/[^\w.-]/g, '_')}.hex`);
  const hex = Buffer.from(err.input).toString('hex').replace(/(.{64})/g, '$1\n');
  writeFileSync(file, `# found by: node dist/fuzz/fuzz.js --seed ${err.seed}\n# max: ${err.maxPayloadBytes ?? 0}\n${hex}\n`);
  console.error(`\nFAILURE: ${err.message}`);
  if (err.cause !== undefined) console.error('cause:', err.cause);
  console.error(`seed: ${err.seed}`);
  console.error(`input: ${err.inputLabel} (${err.input.length} bytes), decoder max ${err.maxPayloadBytes ?? '-'}`);
  console.error(`slices: [${err.slices.join(', ')}]`);
  console.error(hexDump(err.input));
  console.error(`input written to ${file}`);
  if (err.inputLabel.startsWith('#')) {
    console.error(`reproduce: node dist/fuzz/fuzz.js --seed ${err.seed} --index ${err.inputLabel.slice(1)}`);
  }
  process.exitCode = 1;
}
