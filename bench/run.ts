// `npm run bench` (= `npm run build && node dist/bench/run.js`): restpipe against the
// alternatives, side by side in one run, in interleaved rounds (round 1: every variant, round
// 2: every variant, …), medians with min–max, the issue's targets printed met or not, and
// BENCHMARKS.md written. Not part of `npm test`.
//
//   --rounds N        rounds (default 3; 1 with --quick)
//   --quick           short smoke run (~2 minutes): 1 round, short windows, 1,000 clients only
//   --only GROUPS     comma list of: small, echo, scale, stream, profile, forward (default: all)
//   --stream-bytes N  bytes of each stream transfer (default 1 GiB; 256 MiB with --quick)
//   --rss-bytes N     bytes of the peak-RSS transfer each way (default 10 GiB; 1 GiB with --quick)
//   --variants IDS    comma list of: direct, http-proxy, socket.io, restpipe-s2c, restpipe-c2s,
//                     restpipe-c2s-rules (the server enforces the README's example rules),
//                     restpipe-fwd-s2c, restpipe-fwd-c2s (a --forward on the far node; by default only
//                     in the forward group, which compares them with direct and http-proxy)
//   --clients N,N     client counts for scale and the reconnect storm (default 1000,5000)
//   --storm-only      with scale: skip the 10 s idle window (RSS/idle-CPU figures are then
//                     not meaningful); for iterating on the reconnect storm alone
//   --resumption M,M  with scale: TLS session resumption on, off, or both (default on,off),
//                     side by side in every round, their order alternating
//   --out FILE        where the markdown goes (default: BENCHMARKS.md for a full run, else
//                     bench/results/<stamp>.md); raw JSON always goes to bench/results/
//   --keep-snapshot   keep the private copy of dist/ the children run from
//   --baseline REF    also measure the build of git REF (e.g. main, a commit) side by side:
//                     variants restpipe-s2c-base and restpipe-c2s-base (see bench/baseline.ts)
//   --render FILE     measure nothing: write the markdown again from a run's bench/results/*.json
//                     (to BENCHMARKS.md, or --out); with --add-profiles FILE2, profiles of a kind
//                     the first run lacks are taken from a later `--only profile` run, labelled so
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openFilesLimit } from './lib/proc.js';
import { ensurePki } from './lib/pki.js';
import { fmt, fmtSpread, spread, type Spread } from './lib/stats.js';
import { noiseBudget, runEcho, runSmall, setNoiseBudget, type Durations, type EchoResult, type SmallResult } from './measure.js';
import { PROFILE_INTERVAL_US, runProfile, runStormProfile, runStreamProfile, type ProfileRun, type StormProfileRun, type StreamProfileRun } from './profile.js';
import { runScale, type ResumptionMode, type ScaleDurations, type ScaleResult } from './scale.js';
import { buildBaseline, type Baseline } from './baseline.js';
import { STREAM_VARIANTS, renderStreams, streamTargets, type StreamResults } from './report-streams.js';
import { runFloor, runRelay, runStreams, type StreamSizes } from './streams.js';
import { BASELINE_VARIANT_IDS, FORWARD_VARIANT_IDS, VARIANT_IDS, variantLabel, type VariantId } from './variants.js';
import { FORWARD_GROUP_VARIANTS, runForward } from './forward.js';
import { forwardTargets, renderForward, type ForwardResults } from './report-forward.js';

const GROUPS = ['small', 'echo', 'scale', 'stream', 'profile', 'forward'] as const;
type Group = (typeof GROUPS)[number];
const ECHO_SIZES = [64 * 1024, 1024 * 1024];
/** Clients in the profiled storm: enough to show the per-reconnect costs, fewer than 5,000 to keep the run short. */
const STORM_PROFILE_CLIENTS = 2_000;

// --- options ----------------------------------------------------------------------------------

interface Options {
  rounds: number;
  quick: boolean;
  groups: Group[];
  variants: VariantId[];
  /** The forward group's variants: {@link FORWARD_GROUP_VARIANTS}, or those of them --variants names. */
  forwardVariants: VariantId[];
  clients: number[];
  out: string | undefined;
  keepSnapshot: boolean;
  stormOnly: boolean;
  resumption: ResumptionMode[];
  full: boolean;
  baseline: string | undefined;
  streamSizes: StreamSizes;
}

function parseOptions(argv: string[]): Options {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`--${name} needs a value`);
    return v;
  };
  const known = new Set(['--rounds', '--quick', '--only', '--variants', '--clients', '--out', '--keep-snapshot', '--storm-only', '--resumption', '--help', '--render', '--add-profiles', '--baseline', '--stream-bytes', '--rss-bytes']);
  for (const a of argv) if (a.startsWith('--') && !known.has(a)) throw new Error(`unknown flag ${a}`);
  if (argv.includes('--help')) {
    process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').filter((l) => l.startsWith('//')).join('\n') + '\n');
    process.exit(0);
  }
  const quick = argv.includes('--quick');
  const only = get('only');
  const groups = (only?.split(',') ?? (quick ? ['small', 'echo', 'scale'] : [...GROUPS])) as Group[];
  for (const g of groups) if (!GROUPS.includes(g)) throw new Error(`unknown group ${g} (use ${GROUPS.join(', ')})`);
  const vs = get('variants');
  const baseline = get('baseline');
  const variants = (vs?.split(',') ??
    VARIANT_IDS.filter((v) => (baseline !== undefined || !BASELINE_VARIANT_IDS.includes(v)) && !FORWARD_VARIANT_IDS.includes(v))) as VariantId[];
  for (const v of variants) if (!VARIANT_IDS.includes(v)) throw new Error(`unknown variant ${v} (use ${VARIANT_IDS.join(', ')})`);
  if (baseline === undefined && variants.some((v) => BASELINE_VARIANT_IDS.includes(v))) throw new Error(`variants ${BASELINE_VARIANT_IDS.join(', ')} need --baseline REF`);
  const cl = get('clients');
  const clients = cl?.split(',').map(Number) ?? (quick ? [1000] : [1000, 5000]);
  if (clients.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('--clients takes whole numbers');
  const resumption = (get('resumption')?.split(',') ?? ['on', 'off']) as ResumptionMode[];
  if (resumption.length === 0 || resumption.some((m) => m !== 'on' && m !== 'off')) throw new Error('--resumption takes on, off or on,off');
  const rounds = Number(get('rounds') ?? (quick ? 1 : 3));
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('--rounds takes a whole number ≥ 1');
  return {
    rounds,
    quick,
    groups,
    variants,
    forwardVariants: FORWARD_GROUP_VARIANTS.filter((v) => vs === undefined || variants.includes(v)),
    clients,
    out: get('out'),
    keepSnapshot: argv.includes('--keep-snapshot'),
    stormOnly: argv.includes('--storm-only'),
    streamSizes: {
      bytes: byteCount('--stream-bytes', get('stream-bytes'), quick ? 256 * 2 ** 20 : 2 ** 30),
      rssBytes: byteCount('--rss-bytes', get('rss-bytes'), quick ? 2 ** 30 : 10 * 2 ** 30),
      smallMs: quick ? 3_000 : 6_000,
    },
    resumption,
    full: !argv.includes('--storm-only') && !quick && only === undefined && vs === undefined && cl === undefined,
    baseline,
  };
}

function byteCount(flag: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 16) throw new Error(`${flag} takes a whole number of bytes (at least 16)`);
  return n;
}

function durationsFor(quick: boolean): { load: Durations; scale: ScaleDurations; profile: { warmupMs: number; measureMs: number } } {
  return quick
    ? {
        load: { smallWarmupMs: 1_000, smallMeasureMs: 2_500, freeMeasureMs: 1_500, latencyWarmupMs: 500, latencyMeasureMs: 1_500, echoWarmupMs: 700, echoMeasureMs: 1_500 },
        scale: { settleMs: 1_000, idleMs: 2_500, stormTimeoutMs: 30_000 },
        profile: { warmupMs: 1_000, measureMs: 5_000 },
      }
    : {
        load: { smallWarmupMs: 2_000, smallMeasureMs: 8_000, freeMeasureMs: 6_000, latencyWarmupMs: 1_000, latencyMeasureMs: 5_000, echoWarmupMs: 2_000, echoMeasureMs: 6_000 },
        scale: { settleMs: 3_000, idleMs: 10_000, stormTimeoutMs: 60_000 },
        profile: { warmupMs: 2_000, measureMs: 15_000 },
      };
}

// --- the run ------------------------------------------------------------------------------------

interface Failure {
  round: number;
  what: string;
  error: string;
}

/** A measurement that other processes on the machine disturbed. */
interface Noise {
  round: number;
  what: string;
  foreignCores: number;
  quietWaitMs: number;
  attempts: number;
}

interface Results {
  streams?: StreamResults;
  forward?: ForwardResults;
  noise: Noise[];
  small: Partial<Record<VariantId, (SmallResult | undefined)[]>>;
  echo: Record<number, Partial<Record<VariantId, (EchoResult | undefined)[]>>>;
  scale: Record<number, (ScaleResult | undefined)[]>;
  profile: ProfileRun[];
  stormProfile: StormProfileRun[];
  /** Absent in runs made before stop 22. */
  streamProfile?: StreamProfileRun[];
  failures: Failure[];
}

interface Meta {
  command: string;
  date: string;
  node: string;
  v8: string;
  cpu: string;
  cores: number;
  memGiB: number;
  kernel: string;
  nofile: { soft: number; hard: number };
  git: string;
  buildHash: string;
  rounds: number;
  quick: boolean;
  durations: ReturnType<typeof durationsFor>;
  elapsedS: number;
  loadAvgBefore: number[];
  /** When the time allowed for waiting out other people's load ran out, if it did. */
  noiseBudgetExhaustedAt?: string | undefined;
  /** The baseline build measured beside this one (`--baseline REF`). */
  baseline?: { ref: string; commit: string } | undefined;
}

const started = performance.now();
function log(msg: string): void {
  process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`);
}

function rotate<T>(list: readonly T[], by: number): T[] {
  const k = by % Math.max(1, list.length);
  return [...list.slice(k), ...list.slice(0, k)];
}

interface SavedRun {
  meta: Meta;
  options: Options;
  results: Results;
}

/** `--render`: the markdown again from saved results, with today's report code. */
function render(argv: string[], root: string): void {
  const arg = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i < 0 ? undefined : argv[i + 1];
  };
  const base = JSON.parse(readFileSync(resolve(arg('render')!), 'utf8')) as SavedRun;
  for (const r of base.results.profile) r.kind ??= 'small';
  const extraPath = arg('add-profiles');
  if (extraPath !== undefined) {
    const extra = JSON.parse(readFileSync(resolve(extraPath), 'utf8')) as SavedRun;
    const have = new Set(base.results.profile.map((r) => r.kind));
    const source = `a separate \`${extra.meta.command}\` run at ${extra.meta.date} (build ${extra.meta.buildHash}, git ${extra.meta.git})`;
    for (const r of extra.results.profile) {
      r.kind ??= 'small';
      if (!have.has(r.kind)) base.results.profile.push({ ...r, source });
    }
    if (base.results.stormProfile.length === 0) base.results.stormProfile.push(...extra.results.stormProfile.map((r) => ({ ...r, source })));
    if ((base.results.streamProfile ?? []).length === 0) base.results.streamProfile = (extra.results.streamProfile ?? []).map((r) => ({ ...r, source }));
  }
  const targets = evaluateTargets(base.results, base.options);
  const out = arg('out') !== undefined ? resolve(arg('out')!) : join(root, 'BENCHMARKS.md');
  writeFileSync(out, renderMarkdown(base.meta, base.options, base.results, targets, root));
  process.stdout.write('Targets\n');
  for (const t of targets) process.stdout.write(`  ${t.status.padEnd(9)} ${t.name}: ${t.measured}\n`);
  process.stdout.write(`wrote ${relative(process.cwd(), out) || out}\n`);
}

async function main(): Promise<void> {
  const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
  const root = resolve(here, '../..');
  if (process.argv.includes('--render')) {
    render(process.argv.slice(2), root);
    return;
  }
  const opts = parseOptions(process.argv.slice(2));
  const d = durationsFor(opts.quick);
  if (opts.stormOnly) d.scale = { ...d.scale, settleMs: 1_000, idleMs: 500 };
  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);

  // The children run from a private copy of dist/: a rebuild during a 20-minute run must not
  // mix two versions of the library in one table.
  const snap = mkdtempSync(join(os.tmpdir(), 'restpipe-bench-'));
  cpSync(join(root, 'dist'), join(snap, 'dist'), { recursive: true });
  cpSync(join(root, 'package.json'), join(snap, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(snap, 'node_modules'), 'dir');
  const benchDir = join(snap, 'dist', 'bench');
  const pkiPath = join(root, 'bench', '.cache', 'pki.json');
  const meta = describeMachine(opts, root, snap, d);
  log(`restpipe bench: ${opts.rounds} round(s), groups ${opts.groups.join(', ')}, variants ${opts.variants.join(', ')}${opts.groups.includes('forward') ? ` (forward group: ${opts.forwardVariants.join(', ')})` : ''}; build ${meta.buildHash} (${meta.git})`);

  setNoiseBudget(opts.quick ? 2 * 60_000 : 8 * 60_000);
  const needClients = opts.groups.includes('scale') ? Math.max(...opts.clients) : 0;
  await ensurePki(pkiPath, needClients, log);
  let baseline: Baseline | undefined;
  if (opts.baseline !== undefined) {
    baseline = buildBaseline(root, opts.baseline, log);
    meta.baseline = { ref: baseline.ref, commit: baseline.commit };
  }
  const ctx = { benchDir, pkiPath, rulesExample: join(root, 'examples', 'rules.json'), ...(baseline === undefined ? {} : { baselineBenchDir: baseline.benchDir }) };

  const results: Results = { noise: [], small: {}, echo: {}, scale: {}, profile: [], stormProfile: [], failures: [] };
  /** Notes a measurement taken while more than 0.1 core was busy outside the benchmark. */
  const noise = (round: number, what: string, m: { foreignCores: number; quietWaitMs: number; attempts?: number }): string => {
    const attempts = m.attempts ?? 1;
    if (m.foreignCores <= 0.1 && attempts === 1) return '';
    results.noise.push({ round, what, foreignCores: m.foreignCores, quietWaitMs: m.quietWaitMs, attempts });
    return ` [${attempts > 1 ? `${attempts} attempts; ` : ''}${fmt(m.foreignCores, 2)} cores busy elsewhere]`;
  };
  const attempt = async <T>(round: number, what: string, fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      log(`FAILED ${what}: ${error.split('\n')[0]}`);
      results.failures.push({ round, what, error: error.slice(0, 2_000) });
      return undefined;
    }
  };

  for (let r = 0; r < opts.rounds; r++) {
    const order = rotate(opts.variants, r);
    log(`round ${r + 1}/${opts.rounds}: ${order.join(' → ')}`);
    if (opts.groups.includes('small')) {
      for (const id of order) {
        const res = await attempt(r + 1, `small ${id}`, () => runSmall(id, ctx, d.load));
        (results.small[id] ??= []).push(res);
        if (res !== undefined) {
          log(
            `  small  ${id.padEnd(13)} ${fmt(res.c64.load.rps).padStart(7)} req/s @64, ${fmt(res.c64.cpuPerReqUs, 1)} µs CPU/req; ` +
              `@1 p50 ${fmt(res.c1.load.latencyUs.p50)} µs cross-core, ${fmt(res.c1one.load.latencyUs.p50)} µs one core` +
              `; free ${fmt(res.c64free.load.rps)} req/s @64` +
              errorNote([res.c64, res.c64free, res.c1, res.c1one].reduce((n, m) => n + m.load.errors + m.load.non2xx, 0)) +
              noise(r + 1, `small ${id} @64`, res.c64) +
              noise(r + 1, `small ${id} @64 free`, res.c64free) +
              noise(r + 1, `small ${id} @1 cross-core`, res.c1) +
              noise(r + 1, `small ${id} @1 one core`, res.c1one),
          );
        }
      }
    }
    if (opts.groups.includes('echo')) {
      for (const size of ECHO_SIZES) {
        for (const id of order) {
          const res = await attempt(r + 1, `echo ${size} ${id}`, () => runEcho(id, size, ctx, d.load));
          ((results.echo[size] ??= {})[id] ??= []).push(res);
          if (res !== undefined) {
            log(
              `  echo ${sizeLabel(size).padStart(7)} ${id.padEnd(13)} ${fmt(res.mibps, 1).padStart(7)} MiB/s, peak RSS ` +
                res.m.procs.map((p) => `${p.label} ${fmt(p.hwmKiB / 1024)} MiB`).join(', ') +
                errorNote(res.m.load.errors + res.m.load.non2xx) +
                noise(r + 1, `echo ${sizeLabel(size)} ${id}`, res.m),
            );
          }
        }
      }
    }
    if (opts.groups.includes('stream')) {
      const streams = (results.streams ??= { sizes: opts.streamSizes, floor: [], relay: [], byVariant: {} });
      const floor = await attempt(r + 1, 'stream floor', () => runFloor(ctx, opts.streamSizes.bytes));
      streams.floor.push(floor);
      if (floor !== undefined) log(`  floor  plain TLS: ${fmt(floor.c2s.mibps)} MiB/s client→server, ${fmt(floor.s2c.mibps)} MiB/s server→client`);
      const relay = await attempt(r + 1, 'stream relay', () => runRelay(ctx, opts.streamSizes.bytes));
      (streams.relay ??= []).push(relay);
      if (relay !== undefined) log(`  relay  bare node:http → TLS relay: down ${fmt(relay.down.mibps)} MiB/s, up ${fmt(relay.up.mibps)} MiB/s`);
      for (const id of order.filter((v) => STREAM_VARIANTS.includes(v))) {
        const sr = await attempt(r + 1, `stream ${id}`, () => runStreams(id, ctx, opts.streamSizes));
        (streams.byVariant[id] ??= []).push(sr);
        if (sr !== undefined) {
          log(
            `  stream ${id.padEnd(13)} down ${fmt(sr.down.mibps)} MiB/s, up ${fmt(sr.up.mibps)} MiB/s, 16× ${fmt(sr.down16.mibps)} MiB/s; ` +
              `small p99 ${fmt(sr.smallIdle.latencyUs.p99 / 1000, 2)} ms idle, ${fmt(sr.smallDuringBulk.latencyUs.p99 / 1000, 2)} ms during bulk; ` +
              `peak RSS ${sr.rss.map((x) => `${x.label} ${fmt(x.afterUpKiB / 1024)} MiB`).join(', ')}`,
          );
        }
      }
    }
    if (opts.groups.includes('forward')) {
      const forward = (results.forward ??= {});
      for (const id of rotate(opts.forwardVariants, r)) {
        const res = await attempt(r + 1, `forward ${id}`, () => runForward(id, ctx, d.load));
        (forward[id] ??= []).push(res);
        if (res !== undefined) {
          log(
            `  forward ${id.padEnd(16)} small ${fmt(res.small.load.rps).padStart(7)} req/s @64, 1 MiB GET ${fmt(res.downloadMibps, 1)} MiB/s @8` +
              errorNote(res.small.load.errors + res.small.load.non2xx + res.download.load.errors + res.download.load.non2xx) +
              noise(r + 1, `forward ${id} small`, res.small) +
              noise(r + 1, `forward ${id} 1 MiB`, res.download),
          );
        }
      }
    }
    if (opts.groups.includes('scale')) {
      for (const n of opts.clients) {
        // Both modes in every round, their order alternating, so that a slow stretch of the
        // shared machine does not fall on one mode only.
        for (const mode of rotate(opts.resumption, r)) {
          const res = await attempt(r + 1, `scale ${n} resumption ${mode}`, () => runScale(n, ctx, d.scale, log, undefined, mode));
          (results.scale[n] ??= []).push(res);
          if (res !== undefined) {
            log(
              `  scale ${n} (resumption ${mode}): ${fmt(res.server.rssPerPipeKiB, 1)} KiB server RSS/pipe, idle CPU ${fmt(res.idle.serverCpuPct, 2)} %; ` +
                `storm: ${res.storm.complete ? `${fmt(res.storm.restartToServingS, 2)} s restart → all serving` : `incomplete (${res.storm.serving}/${n})`}; ` +
                `load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}` +
                noise(r + 1, `storm ${n} resumption ${mode}`, { foreignCores: res.storm.foreignCores, quietWaitMs: 0 }),
            );
          }
        }
      }
    }
  }

  if (opts.groups.includes('profile')) {
    const profDir = join(root, 'bench', 'profiles', stamp);
    const runs = (['small', 'echo-1MiB'] as const).flatMap((kind) =>
      (['restpipe-s2c', 'restpipe-c2s'] as const).filter((v) => opts.variants.includes(v)).map((id) => ({ id, kind })),
    );
    for (const { id, kind } of runs) {
      log(`profile ${id} ${kind} (node --cpu-prof, ${kind === 'small' ? '64' : '8'} connections)`);
      const res = await attempt(0, `profile ${id} ${kind}`, () =>
        runProfile(id, ctx, profDir, kind === 'small' ? d.profile : { warmupMs: d.profile.warmupMs, measureMs: Math.round(d.profile.measureMs * 0.6) }, kind),
      );
      if (res !== undefined) {
        results.profile.push(res);
        for (const s of res.summaries) {
          log(`  ${s.label}: busy ${fmt(s.busyMs)} ms of ${fmt(s.wallMs)} ms; top: ` + s.topSelf.slice(0, 3).map((f) => `${f.functionName} ${fmt(f.pctBusy, 1)} %`).join(', '));
        }
      }
    }
    // One transfer each way per direction and through the bare relay: where the stream targets' CPU goes.
    const streamBytes = opts.quick ? 128 * 2 ** 20 : 512 * 2 ** 20;
    const streamTargets = [...(['restpipe-s2c', 'restpipe-c2s'] as const).filter((v) => opts.variants.includes(v)), 'relay' as const];
    for (const target of streamTargets) {
      for (const kind of ['download', 'upload'] as const) {
        log(`profile ${target} ${kind} of ${fmt(streamBytes / 2 ** 20)} MiB (node:inspector, the transfer alone)`);
        const res = await attempt(0, `profile ${target} ${kind}`, () => runStreamProfile(target, kind, streamBytes, ctx, profDir));
        if (res === undefined) continue;
        (results.streamProfile ??= []).push(res);
        log(`  ${fmt(res.mibps)} MiB/s; CPU per MiB: ` + res.cpuMsPerMiB.map((c) => `${c.label} ${fmt(c.ms, 2)} ms`).join(', '));
      }
    }
    const stormN = STORM_PROFILE_CLIENTS;
    log(`profile reconnect storm with ${stormN} clients (node --cpu-prof on the restarted server and the clients)`);
    await ensurePki(pkiPath, stormN, log);
    const sp = await attempt(0, `storm profile ${stormN}`, () => runStormProfile(stormN, ctx, profDir, d.scale, log));
    if (sp !== undefined) results.stormProfile.push(sp);
  }

  meta.elapsedS = (performance.now() - started) / 1000;
  meta.noiseBudgetExhaustedAt = noiseBudget().exhaustedAt;
  const targets = evaluateTargets(results, opts);
  const md = renderMarkdown(meta, opts, results, targets, root);
  const outMd = opts.out !== undefined ? resolve(opts.out) : opts.full ? join(root, 'BENCHMARKS.md') : join(root, 'bench', 'results', `${stamp}.md`);
  mkdirSync(dirname(outMd), { recursive: true });
  writeFileSync(outMd, md);
  const outJson = join(root, 'bench', 'results', `${stamp}.json`);
  mkdirSync(dirname(outJson), { recursive: true });
  writeFileSync(outJson, JSON.stringify({ meta, options: opts, results, targets }, null, 1));

  process.stdout.write('\nTargets\n');
  for (const t of targets) process.stdout.write(`  ${t.status.padEnd(9)} ${t.name}: ${t.measured}\n`);
  process.stdout.write(`\nwrote ${relative(process.cwd(), outMd) || outMd} and ${relative(process.cwd(), outJson)}` + ` in ${fmt(meta.elapsedS)} s\n`);
  if (results.failures.length > 0) process.stdout.write(`${results.failures.length} measurement(s) failed; see the report\n`);
  if (opts.keepSnapshot) process.stdout.write(`snapshot kept in ${snap}\n`);
  else rmSync(snap, { recursive: true, force: true });
  baseline?.remove();
}

function errorNote(n: number): string {
  return n > 0 ? ` (${n} errors/non-2xx)` : '';
}

function sizeLabel(bytes: number): string {
  return bytes >= 1 << 20 ? `${bytes / (1 << 20)} MiB` : `${bytes / 1024} KiB`;
}

// --- machine and build --------------------------------------------------------------------------

function describeMachine(opts: Options, root: string, snap: string, durations: ReturnType<typeof durationsFor>): Meta {
  const git = (...args: string[]): string => {
    try {
      return execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const head = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const dirty = git('status', '--porcelain', '--', 'src').split('\n').filter(Boolean).length;
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.js')) hash.update(p.slice(snap.length)).update(readFileSync(p));
    }
  };
  walk(join(snap, 'dist', 'src'));
  const cpus = os.cpus();
  return {
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memGiB: os.totalmem() / 2 ** 30,
    kernel: `${os.type()} ${os.release()}`,
    nofile: openFilesLimit(),
    git: dirty > 0 ? `${head} + uncommitted changes in ${dirty} src file(s)` : head,
    buildHash: hash.digest('hex').slice(0, 12),
    rounds: opts.rounds,
    quick: opts.quick,
    durations,
    elapsedS: 0,
    loadAvgBefore: os.loadavg(),
  };
}

// --- targets --------------------------------------------------------------------------------------

interface Target {
  name: string;
  measured: string;
  status: 'met' | 'NOT MET' | 'n/a';
}

/** Per-round ratios a/b (the two measured in the same round), as a spread. */
function ratios<T>(a: (T | undefined)[] | undefined, b: (T | undefined)[] | undefined, f: (x: T) => number): Spread {
  const out: number[] = [];
  for (let i = 0; i < Math.max(a?.length ?? 0, b?.length ?? 0); i++) {
    const x = a?.[i];
    const y = b?.[i];
    if (x !== undefined && y !== undefined) out.push(f(x) / f(y));
  }
  return spread(out);
}

function evaluateTargets(res: Results, opts: Options): Target[] {
  const t: Target[] = [];
  const judge = (name: string, s: Spread, ok: (m: number) => boolean, unit = '×', digits = 2): void => {
    if (s.n === 0) t.push({ name, measured: 'not measured', status: 'n/a' });
    else t.push({ name, measured: `${fmtSpread(s, digits)}${unit}`, status: ok(s.median) ? 'met' : 'NOT MET' });
  };
  const dirs: [VariantId, string][] = [
    ['restpipe-s2c', 'server→client'],
    ['restpipe-c2s', 'client→server'],
  ];
  const rps = (x: SmallResult): number => x.c64.load.rps;
  for (const [id, dir] of dirs) judge(`64 conns: restpipe ${dir} req/s ≥ 0.6× direct`, ratios(res.small[id], res.small.direct, rps), (m) => m >= 0.6);
  for (const [id, dir] of dirs) judge(`64 conns: restpipe ${dir} ahead of socket.io (same round)`, ratios(res.small[id], res.small['socket.io'], rps), (m) => m > 1);
  for (const [id, dir] of dirs) {
    judge(`1 conn: restpipe ${dir} p50 ≤ 3× direct (every hop across cores)`, ratios(res.small[id], res.small.direct, (x) => x.c1.load.latencyUs.p50), (m) => m <= 3);
  }
  for (const [id, dir] of dirs) {
    judge(`1 conn: restpipe ${dir} p50 ≤ 3× direct (all processes on one core)`, ratios(res.small[id], res.small.direct, (x) => x.c1one.load.latencyUs.p50), (m) => m <= 3);
  }
  // Issue 11: 64 KiB and 1 MiB echo ≥ 0.45× direct both ways, and ahead of the plain proxy.
  for (const size of ECHO_SIZES) {
    for (const [id, dir] of dirs) {
      judge(`${sizeLabel(size)} echo: restpipe ${dir} MiB/s ≥ 0.45× direct`, ratios(res.echo[size]?.[id], res.echo[size]?.direct, (x) => x.mibps), (m) => m >= 0.45);
      judge(`${sizeLabel(size)} echo: restpipe ${dir} ahead of http-proxy (same round)`, ratios(res.echo[size]?.[id], res.echo[size]?.['http-proxy'], (x) => x.mibps), (m) => m > 1);
    }
  }
  for (const [id, dir] of dirs) {
    judge(`CPU per small event: restpipe ${dir} ≤ 2.2× direct (all processes, 64 conns)`, ratios(res.small[id], res.small.direct, (x) => x.c64.cpuPerReqUs), (m) => m <= 2.2);
  }
  // Against the build before a change (--baseline): no regression beyond the noise between
  // rounds, which is the larger relative spread (max − min over median) of the two series' own
  // rounds, and at least 3 %.
  const baseOf: Record<string, VariantId> = { 'restpipe-s2c': 'restpipe-s2c-base', 'restpipe-c2s': 'restpipe-c2s-base' };
  for (const [id, dir] of dirs) {
    const base = baseOf[id]!;
    if (res.small[base] === undefined) continue;
    const noiseOf = (g: (x: SmallResult) => number): number => {
      const rel = (xs: (SmallResult | undefined)[] | undefined): number => {
        const sp = spread((xs ?? []).filter((x): x is SmallResult => x !== undefined).map(g));
        return sp.n < 2 ? 0 : (sp.max - sp.min) / sp.median;
      };
      return Math.max(0.03, rel(res.small[id]), rel(res.small[base]));
    };
    const rpsNoise = noiseOf(rps);
    judge(`64 conns: restpipe ${dir} req/s vs the baseline build (≥ 1 − noise ${fmt(rpsNoise * 100, 1)} %)`, ratios(res.small[id], res.small[base], rps), (m) => m >= 1 - rpsNoise);
    const cpu = (x: SmallResult): number => x.c64.cpuPerReqUs;
    const cpuNoise = noiseOf(cpu);
    judge(`CPU per small event: restpipe ${dir} vs the baseline build (≤ 1 + noise ${fmt(cpuNoise * 100, 1)} %)`, ratios(res.small[id], res.small[base], cpu), (m) => m <= 1 + cpuNoise);
  }
  const ns = Object.keys(res.scale).map(Number).sort((a, b) => a - b);
  const nMax = ns[ns.length - 1];
  // Runs made before issue 14 had no resumption: they count as off.
  const ofMode = (xs: (ScaleResult | undefined)[] | undefined, mode: ResumptionMode): ScaleResult[] =>
    (xs ?? []).filter((x): x is ScaleResult => x !== undefined && (x.resumption ?? 'off') === mode);
  for (const [mode, bound] of [['on', 50], ['off', 60]] as const) {
    const name = `idle pipe ≤ ${bound} KiB server RSS, resumption ${mode}`;
    if (nMax === undefined || ofMode(res.scale[nMax], mode).length === 0) t.push({ name, measured: 'not measured', status: 'n/a' });
    else judge(`${name} (${fmt(nMax)} pipes)`, spread(ofMode(res.scale[nMax], mode).map((x) => x.server.rssPerPipeKiB)), (m) => m <= bound, ' KiB', 1);
  }
  for (const [mode, boundS] of [['on', 5], ['off', 10]] as const) {
    const name = `5,000 clients all back and serving within ${boundS} s of a server restart, resumption ${mode}`;
    const rounds = ofMode(res.scale[5000], mode);
    if (rounds.length === 0) {
      t.push({ name, measured: opts.clients.includes(5000) ? 'not measured' : 'not run (needs --clients 5000)', status: 'n/a' });
      continue;
    }
    // A round that did not finish within the storm timeout counts as the slowest: the median
    // is taken over every round, and the figure says how many did not finish.
    const incomplete = rounds.filter((x) => !x.storm.complete).length;
    const times = rounds.map((x) => (x.storm.complete ? x.storm.restartToServingS : Infinity)).sort((a, b) => a - b);
    const median = times.length % 2 === 1 ? times[(times.length - 1) / 2]! : (times[times.length / 2 - 1]! + times[times.length / 2]!) / 2;
    const done = spread(times.filter(Number.isFinite));
    const timeoutS = 60;
    t.push({
      name,
      measured:
        incomplete === 0
          ? `${fmtSpread(done, 2)} s`
          : `median ${Number.isFinite(median) ? `${fmt(median, 2)} s` : `> ${timeoutS} s`}; ${incomplete} of ${rounds.length} round(s) not all back within ${timeoutS} s` +
            (done.n > 0 ? `, the others ${fmtSpread(done, 2)} s` : ''),
      status: median <= boundS ? 'met' : 'NOT MET',
    });
  }
  if (res.streams !== undefined) t.push(...streamTargets(res.streams));
  if (res.forward !== undefined) t.push(...forwardTargets(res.forward));
  return t;
}

// --- the report -----------------------------------------------------------------------------------

function renderMarkdown(meta: Meta, opts: Options, res: Results, targets: Target[], root: string): string {
  const L: string[] = [];
  const p = (s = ''): void => {
    L.push(s);
  };
  const table = (head: string[], rows: string[][], align?: string[]): void => {
    p(`| ${head.join(' | ')} |`);
    p(`|${head.map((_, i) => (align?.[i] ?? (i === 0 ? ':--' : '--:'))).join('|')}|`);
    for (const r of rows) p(`| ${r.join(' | ')} |`);
    p();
  };
  const variants = opts.variants;
  const f = (vals: number[], digits = 0): string => fmtSpread(spread(vals), digits);
  const defined = <T>(xs: (T | undefined)[] | undefined): T[] => (xs ?? []).filter((x): x is T => x !== undefined);
  const renderSummary = (s: ProfileRun['summaries'][number]): void => {
    p(`#### ${s.label}: busy ${fmt(s.busyMs)} ms of ${fmt(s.wallMs)} ms`);
    p();
    p('By where the code lives: ' + s.categories.slice(0, 10).map((c) => `${c.category} ${fmt(c.pctBusy, 1)} %`).join(', ') + '.');
    p();
    table(
      ['#', 'function', 'location', 'self ms', '% busy', 'reached from (nearest src/ caller, share ≥ 5 %)'],
      s.topSelf.map((fc, i) => [
        String(i + 1),
        `\`${fc.functionName}\``,
        `\`${fc.location}\``,
        fmt(fc.ms),
        fmt(fc.pctBusy, 1),
        (fc.callers ?? [])
          .filter((c) => c.pct >= 5)
          .map((c) => `\`${c.functionName}\` ${c.location} ${fmt(c.pct)} %`)
          .join('; '),
      ]),
      ['--:', ':--', ':--', '--:', '--:', ':--'],
    );
    p('<details><summary>restpipe functions by inclusive time</summary>');
    p();
    table(
      ['function', 'location', 'total ms', '% busy'],
      s.topRestpipeInclusive.map((fc) => [`\`${fc.functionName}\``, `\`${fc.location}\``, fmt(fc.ms), fmt(fc.pctBusy, 1)]),
      [':--', ':--', '--:', '--:'],
    );
    p('</details>');
    p();
  };

  p('# restpipe benchmarks');
  p();
  p(`Generated by \`bench/run.ts\`${meta.quick ? ' in **--quick** mode (short windows; for smoke testing, not for decisions)' : ''}. Every figure is the median over ` +
    `${meta.rounds} interleaved round(s) with the min–max in parentheses; ratios are taken per round (both sides measured in the same round) and then summarised the same way.`);
  p();
  table(
    ['', ''],
    [
      ['command', `\`${meta.command}\``],
      ['date', meta.date],
      ['Node', `${meta.node} (V8 ${meta.v8})`],
      ['machine', `${meta.cpu}, ${meta.cores} cores, ${fmt(meta.memGiB, 1)} GiB, ${meta.kernel}; shared and noisy (load average before the run: ${meta.loadAvgBefore.map((x) => x.toFixed(2)).join(', ')})`],
      ['open files', `soft ${meta.nofile.soft}, hard ${meta.nofile.hard}`],
      ['restpipe build', `git ${meta.git}; dist/src hash ${meta.buildHash}`],
      ...(meta.baseline === undefined ? [] : [['baseline build (`--baseline`)', `${meta.baseline.ref} = git ${meta.baseline.commit.slice(0, 10)}`]]),
      ['duration', `${fmt(meta.elapsedS)} s`],
    ],
    [':--', ':--'],
  );

  p('## Targets');
  p();
  table(['target (issues 4, 11 and 12)', 'measured', ''], targets.map((t) => [t.name, t.measured, t.status === 'met' ? '**met**' : t.status === 'n/a' ? 'n/a' : '**NOT MET**']));

  if (opts.groups.includes('small')) {
    p('## 1. Small event (`GET` of the built-in `get_time`)');
    p();
    p('Processes are pinned for every compared figure, because unpinned this VM\'s scheduler sometimes puts two processes that wake each other on ' +
      'one core and sometimes not, which makes both 1-connection latency and 64-connection throughput bimodal (direct: ~20 or ~85 µs; ~48k or ~90k req/s). ' +
      '**cross-core** layout: the gateway process alone on CPU 1, the load generator and the far-side process (handler, backend) on CPU 0, so every hop crosses cores, ' +
      'as between machines. **one core**: every process on CPU 0 (no cross-core wake-ups; what is left is the software path). **free**: unpinned, for reference.');
    p();
    p(`On the same warm processes: 64 connections cross-core (${meta.durations.load.smallWarmupMs / 1000} s warm-up, ${meta.durations.load.smallMeasureMs / 1000} s measured), ` +
      `64 connections free (${meta.durations.load.latencyWarmupMs / 1000} s + ${meta.durations.load.freeMeasureMs / 1000} s), then 1 connection cross-core and one core ` +
      `(${meta.durations.load.latencyWarmupMs / 1000} s + ${meta.durations.load.latencyMeasureMs / 1000} s each). ` +
      'Latency is taken per response (µs, from the load generator\'s hrtime). CPU is user + system time of every process under test (gateway and handler; ' +
      'not the load generator), read from /proc at the edges of the measured window, divided by the responses in it.');
    p();
    const direct = res.small.direct;
    const ratioCell = (id: VariantId, g: (x: SmallResult) => number, digits = 2): string =>
      id === 'direct' ? '1' : fmtSpread(ratios(res.small[id], direct, g), digits);
    table(
      ['variant', 'req/s @64 cross-core', '× direct', 'CPU µs/req @64', 'CPU × direct', 'p50 µs @1 cross-core', 'p99 µs', '× direct', 'p50 µs @1 one core', 'p99 µs', '× direct'],
      variants.map((id) => {
        const xs = defined(res.small[id]);
        return [
          variantLabel(id, meta.baseline?.ref),
          f(xs.map((x) => x.c64.load.rps)),
          ratioCell(id, (x) => x.c64.load.rps),
          f(xs.map((x) => x.c64.cpuPerReqUs), 1),
          ratioCell(id, (x) => x.c64.cpuPerReqUs),
          f(xs.map((x) => x.c1.load.latencyUs.p50)),
          f(xs.map((x) => x.c1.load.latencyUs.p99)),
          ratioCell(id, (x) => x.c1.load.latencyUs.p50),
          f(xs.map((x) => x.c1one.load.latencyUs.p50)),
          f(xs.map((x) => x.c1one.load.latencyUs.p99)),
          ratioCell(id, (x) => x.c1one.load.latencyUs.p50),
        ];
      }),
    );
    p('More of the same runs:');
    p();
    table(
      ['variant', 'req/s @64 free', '× direct', 'CPU µs/req @64 free', 'p50 µs @64', 'p99 µs @64', 'CPU µs/req @64 by process', 'cores busy @64', 'load generator µs/req @64', 'req/s @1 cross-core', 'CPU µs/req @1 cross-core', 'CPU µs/req @1 one core'],
      variants.map((id) => {
        const xs = defined(res.small[id]);
        const labels = xs[0]?.c64.procs.map((pc) => pc.label) ?? [];
        return [
          variantLabel(id, meta.baseline?.ref),
          f(xs.map((x) => x.c64free.load.rps)),
          ratioCell(id, (x) => x.c64free.load.rps),
          f(xs.map((x) => x.c64free.cpuPerReqUs), 1),
          f(xs.map((x) => x.c64.load.latencyUs.p50)),
          f(xs.map((x) => x.c64.load.latencyUs.p99)),
          labels.map((l, i) => `${l} ${f(xs.map((x) => x.c64.procs[i]?.usPerReq ?? NaN), 1)}`).join('; '),
          f(xs.map((x) => x.c64.cores), 2),
          f(xs.map((x) => x.c64.lgCpuPerReqUs), 1),
          f(xs.map((x) => x.c1.load.rps)),
          f(xs.map((x) => x.c1.cpuPerReqUs), 1),
          f(xs.map((x) => x.c1one.cpuPerReqUs), 1),
        ];
      }),
    );
    const unpinned = variants.some((id) => defined(res.small[id]).some((x) => !x.c64.pinned || !x.c1.pinned || !x.c1one.pinned));
    if (unpinned) p('**Warning: pinning failed (is `taskset` installed?); the 1-connection figures are unpinned.**\n');
    p('At 1 connection every process sleeps between requests, and each loopback write that wakes a peer on another vCPU costs the writer ' +
      'tens of µs of (system) CPU here: compare the two 1-connection CPU columns.');
    p();
  }

  if (opts.groups.includes('echo')) {
    p('## 2. POST echo at 8 connections');
    p();
    p(`Random binary bodies, echoed whole; cross-core layout; ${meta.durations.load.echoWarmupMs / 1000} s warm-up, ${meta.durations.load.echoMeasureMs / 1000} s measured. ` +
      'MiB/s counts each body once (it travels up and back down). Every measurement starts fresh processes, so the peak RSS (VmHWM) is that run\'s.');
    p();
    for (const size of ECHO_SIZES) {
      const bySize = res.echo[size] ?? {};
      p(`### ${sizeLabel(size)}`);
      p();
      table(
        ['variant', 'MiB/s', '× direct', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'peak RSS per process (MiB)'],
        variants.map((id) => {
          const xs = defined(bySize[id]);
          const labels = xs[0]?.m.procs.map((pc) => pc.label) ?? [];
          return [
            variantLabel(id, meta.baseline?.ref),
            f(xs.map((x) => x.mibps), 1),
            id === 'direct' ? '1' : fmtSpread(ratios(bySize[id], bySize.direct, (x) => x.mibps), 3),
            f(xs.map((x) => x.m.load.rps)),
            f(xs.map((x) => x.m.load.latencyUs.p50 / 1000), 2),
            f(xs.map((x) => x.m.load.latencyUs.p99 / 1000), 2),
            f(xs.map((x) => x.m.cpuPerReqUs)),
            labels.map((l, i) => `${l} ${f(xs.map((x) => (x.m.procs[i]?.hwmKiB ?? NaN) / 1024))}`).join('; '),
          ];
        }),
      );
    }
  }

  const ns = Object.keys(res.scale).map(Number).sort((a, b) => a - b);
  if (opts.groups.includes('scale') && ns.length > 0) {
    // One row per client count and resumption mode; runs made before issue 14 had none ("off").
    const modes: ResumptionMode[] = ['on', 'off'];
    const rows = ns.flatMap((n) =>
      modes
        .map((mode) => ({ n, mode, xs: defined(res.scale[n]).filter((x) => (x.resumption ?? 'off') === mode) }))
        .filter((r) => r.xs.length > 0),
    );
    p('## 3. Scale: one server holding N client pipes');
    p();
    p('A restpipe server node (startNode, with its gateway) and one load-generator process holding N library clients (createClient, each with its own ' +
      'certificate, so its own CN), opened in waves of 250. Server RSS per pipe = (VmRSS with N idle pipes − VmRSS before) / N, read after ' +
      `${meta.durations.scale.settleMs / 1000} s to settle and a ${meta.durations.scale.idleMs / 1000} s idle window; "after GC" repeats both readings after a forced full GC. ` +
      'Idle CPU is the server\'s own process.cpuUsage() over the idle window (default heartbeats: every 5 s, both ways). "Resumption on" is ' +
      'the default: these pipes were opened by full handshakes, which also give each client its TLS session ticket; "after the storm" is the ' +
      'same reading on the restarted server once every client is back, through resumed sessions when resumption is on.');
    p();
    table(
      ['pipes', 'resumption', 'server RSS/pipe KiB', 'after GC KiB', 'after the storm KiB (GC)', 'JS heap/pipe KiB (GC)', 'idle server CPU (% of a core)', 'µs CPU/pipe/s', 'client side RSS/pipe KiB', 'time to open all (s)'],
      rows.map(({ n, mode, xs }) => [
        fmt(n),
        mode,
        f(xs.map((x) => x.server.rssPerPipeKiB), 1),
        f(xs.map((x) => x.server.rssPerPipeGcKiB), 1),
        f(xs.map((x) => x.storm.rssPerPipeAfterGcKiB ?? NaN).filter(Number.isFinite), 1),
        f(xs.map((x) => x.server.heapPerPipeGcB / 1024), 1),
        f(xs.map((x) => x.idle.serverCpuPct), 2),
        f(xs.map((x) => x.idle.serverUsPerPipePerS), 2),
        f(xs.map((x) => x.lgRssPerPipeKiB), 1),
        f(xs.map((x) => x.connect.ms / 1000), 1),
      ]),
    );
    p('## 4. Reconnect storm');
    p();
    p('With all N pipes idle, the server process is SIGKILLed and started again on the same port at once. A client counts as back when its new ' +
      'pipe is open (the server\'s hello arrived) and as serving when one get_time sent through it was answered. The clients use the library\'s ' +
      'defaults (reconnect 0.5–30 s, full jitter; connect timeout 3 s). "restart" is the moment the new server process was spawned. With resumption ' +
      'on the server has a ticket key file (`--tls-ticket-keys`), so the restarted server resumes the sessions its clients got from the first one ' +
      'and re-checks each certificate (SPEC §6); off, every reconnect is a full handshake. The modes alternate within each round; the load ' +
      'average is the machine\'s (shared with other people\'s work) when each storm ended.');
    p();
    table(
      ['clients', 'resumption', 'restart → all serving (s)', 'kill → all serving (s)', 'restart → listening (s)', 'listening → all open (s)', 'median client (s after listening)', 'pipes opened/s', 'resumed', 'failed dials', 'server CPU (s)', 'server CPU per reconnect (ms)', 'load generator CPU (s)', 'load average'],
      rows.map(({ n, mode, xs }) => {
        const incomplete = xs.filter((x) => !x.storm.complete).length;
        const st = xs.filter((x) => x.storm.complete).map((x) => x.storm);
        return [
          fmt(n) + (incomplete > 0 ? ` (${incomplete} round(s) incomplete)` : ''),
          mode,
          f(st.map((x) => x.restartToServingS), 2),
          f(st.map((x) => x.killToServingS), 2),
          f(st.map((x) => x.restartToListenS), 2),
          f(st.map((x) => x.listenToReadyS), 2),
          f(st.map((x) => x.medianListenToServingS), 2),
          f(st.map((x) => x.handshakesPerS)),
          f(st.map((x) => x.resumed ?? NaN).filter(Number.isFinite)),
          f(xs.map((x) => x.storm.connectFails)),
          f(xs.map((x) => x.storm.serverCpuS), 1),
          f(xs.map((x) => (x.storm.serverCpuS / n) * 1000), 2),
          f(xs.map((x) => x.storm.lgCpuS), 1),
          xs.map((x) => (x.storm.loadAvg1 === undefined ? '–' : fmt(x.storm.loadAvg1, 2))).join(', '),
        ];
      }),
    );
    p('Where the time goes (ms after the kill; p50 / p90 over the clients, last round): the client state each entered first.');
    p();
    table(
      ['clients', 'resumption', 'backoff (pipe loss seen)', 'connecting (dial starts)', 'handshaking (TLS up, hellos)', 'ready (hello in)', 'pipes open per 500 ms after the kill'],
      rows.map(({ n, mode, xs }) => {
        const x = xs.at(-1);
        const sg = (name: string): string => {
          const s = x?.storm.stages[name];
          return s === undefined ? '–' : `${fmt(s.p50Ms)} / ${fmt(s.p90Ms)}`;
        };
        return [fmt(n), mode, sg('backoff'), sg('connecting'), sg('handshaking'), sg('ready'), x?.storm.readyPer500ms.join(' ') ?? '–'];
      }),
    );
    p('The N clients all live in one load-generator process on the same 2 cores as the server, so the storm also measures their side of ' +
      '5,000 TLS handshakes (in one event loop, where 5,000 real clients would have 5,000): compare the two CPU columns. On real deployments each ' +
      'client has its own CPU.');
    p();
  }

  for (const kind of ['small', 'echo-1MiB'] as const) {
    const runs = res.profile.filter((r) => r.kind === kind);
    if (runs.length === 0) continue;
    p(kind === 'small' ? "## Profile: restpipe's small-event path at 64 connections" : "## Profile: restpipe's 1 MiB echo at 8 connections");
    p();
    p(`\`node --cpu-prof --cpu-prof-interval=${PROFILE_INTERVAL_US}\` on both processes of each direction (cross-core layout), under load for ` +
      `${kind === 'small' ? meta.durations.profile.measureMs / 1000 : Math.round(meta.durations.profile.measureMs * 0.6) / 1000} s after ${meta.durations.profile.warmupMs / 1000} s of warm-up ` +
      '(the profile covers the process\'s whole life, start-up included). Self time by function; dist/*.js positions mapped to src/*.ts; ' +
      '"reached from" names the nearest restpipe function up the stack. ' +
      `Percentages are of the process's busy (non-idle) time. Profiles: \`${relative(root, dirname(runs[0]!.dir))}/\` (open in Chrome DevTools or speedscope).` +
      (runs[0]!.source !== undefined ? ` **These profiles come from ${runs[0]!.source}.**` : ''));
    p();
    for (const run of runs) {
      const what = kind === 'small' ? `${fmt(run.load.load.rps)} req/s` : `${fmt((run.load.load.ok * (1 << 20)) / (run.load.load.windowMs / 1000) / 2 ** 20, 1)} MiB/s`;
      p(`### ${variantLabel(run.variant, meta.baseline?.ref)} (${what} under the profiler, ${fmt(run.load.cpuPerReqUs, 1)} µs CPU/req)`);
      p();
      for (const s of run.summaries) renderSummary(s);
    }
  }

  const streamProfiles = res.streamProfile ?? [];
  if (streamProfiles.length > 0) {
    const first = streamProfiles[0]!;
    p(`## Profile: one ${fmt(first.bytes / 2 ** 20)} MiB download and upload, each direction and the bare relay`);
    p();
    p(`A CPU profile (node:inspector, ${PROFILE_INTERVAL_US} µs sampling) of every process under test (not the HTTP client) for the transfer alone, fresh processes for each transfer, ` +
      'one stream, unpinned (as in the stream group). The bare relay (bench/variants/tls-relay.ts: node:http in front of one mutual-TLS socket per ' +
      'request to another Node process, nothing of restpipe) is the ceiling of a gateway of restpipe\'s shape: its "relay" stands where the gateway ' +
      'node stands and its "relay end" where the handler node does. CPU per MiB is the process\'s own (from /proc) during the transfer. ' +
      `Profiles: \`${relative(root, dirname(first.dir))}/\`.` +
      (first.source !== undefined ? ` **These profiles come from ${first.source}.**` : ''));
    p();
    const who = (t: StreamProfileRun['target']): string => (t === 'relay' ? 'bare relay' : variantLabel(t, meta.baseline?.ref));
    table(
      ['transfer', 'MiB/s under the profiler', 'CPU per MiB, ms (process: ms)'],
      streamProfiles.map((r) => [`${who(r.target)}, ${r.kind}`, fmt(r.mibps), r.cpuMsPerMiB.map((c) => `${c.label}: ${fmt(c.ms, 2)}`).join('; ')]),
      [':--', '--:', ':--'],
    );
    for (const r of streamProfiles) {
      p(`### ${who(r.target)}, ${r.kind} (${fmt(r.mibps)} MiB/s under the profiler)`);
      p();
      for (const s of r.summaries) renderSummary(s);
    }
  }

  if (res.stormProfile.length > 0) {
    for (const sp of res.stormProfile) {
      p(`## Profile: reconnect storm with ${fmt(sp.n)} clients`);
      p();
      if (sp.source !== undefined) p(`**This profile comes from ${sp.source}.**\n`);
      p(`All ${fmt(sp.n)} serving again ${fmt(sp.restartToServingS, 2)} s after the restart (under the profiler). CPU in that time (from /proc): ` +
        `restarted server ${fmt(sp.serverCpuS, 2)} s (${fmt((sp.serverCpuS / sp.n) * 1000, 2)} ms per reconnect, its start-up included), ` +
        `load generator ${fmt(sp.lgCpuS, 2)} s (${fmt((sp.lgCpuS / sp.n) * 1000, 2)} ms per client). The V8 profile sees JavaScript and the native ` +
        'calls made from it; TLS handshake work that OpenSSL does outside a JS call, kernel time and other threads show in /proc, not here.');
      p();
      for (const s of sp.summaries) renderSummary(s);
    }
  }

  if (res.streams !== undefined) L.push(...renderStreams(res.streams, (id) => variantLabel(id, meta.baseline?.ref), variants));
  if (res.forward !== undefined) L.push(...renderForward(res.forward, (id) => variantLabel(id, meta.baseline?.ref)));

  p('## How it is measured');
  p();
  p('- Every variant is an HTTP request to a local gateway process, which gets its answer from another process: **direct** is the lower bound ' +
    '(node:http answers by itself); **http-proxy** is a node:http reverse proxy with a keep-alive `http.Agent`, streaming both bodies, to a second ' +
    'node:http process; **socket.io** (4.x, devDependency only) is a node:http gateway plus a socket.io server over wss (HTTPS with ' +
    '`requestCert` + `rejectUnauthorized`, websocket transport only, no compression) that the handler process dials into with its client ' +
    'certificate, answering by acknowledgement (binary attachment for echo; a 60 s ack timeout per event, like restpipe\'s event timeout); ' +
    '**restpipe** is two nodes started with `startNode` (what the CLI runs; silent logger, default options, built-in handlers plus a ' +
    '`post_echo` handler), measured server→client (`/client/NAME/…` on the server node\'s gateway) and client→server (`/server/…` on the client node\'s gateway).');
  p('- The load generator is its own process: autocannon\'s programmatic API (one thread, keep-alive, no pipelining), with its per-response ' +
    'body-to-string decoding switched off (`PipelinedRequestsQueue.addBody`, which appends every chunk to a JS string) and every response\'s ' +
    'latency recorded in µs from its hrtime (autocannon\'s own histogram rounds to whole ms). It shares the 2 cores with the processes under test, ' +
    'which limits every variant, most of all the fastest (see "cores busy" and "load generator µs/req").');
  p('- Each variant is checked before it is measured (200 with JSON for the small event, a 100 kB binary body echoed byte for byte). ' +
    'Errors and non-2xx responses are counted; any would be reported here.');
  p(`- Rounds are interleaved (round 1 runs every variant, then round 2, …), and the order of the variants rotates from round to round. ` +
    'The children run from a private copy of dist/ made at the start, so a rebuild during the run cannot mix versions.');
  p('- Peak RSS is VmHWM from /proc/<pid>/status; CPU is utime + stime from /proc/<pid>/stat (all threads, 10 ms ticks).');
  p();

  p('## Noise');
  p();
  p('This machine is shared (other people\'s builds and tests run on it). Before each measurement the harness waits (up to 30 s) until no more than ' +
    '0.15 core is busy elsewhere, and it reads the machine\'s busy time during each window: busy minus what the benchmark\'s own processes used is ' +
    '"elsewhere" (kernel softirq time for loopback traffic is not counted as busy). A load measurement with more than 0.2 core busy elsewhere is ' +
    'repeated, up to 3 attempts, and the least disturbed attempt is kept (the storm is not repeated). Waiting and repeating share a budget ' +
    `(${opts.quick ? 2 : 8} minutes per run); after it is spent every measurement is taken once, as it comes.` +
    (meta.noiseBudgetExhaustedAt !== undefined ? ` **In this run the budget ran out at ${meta.noiseBudgetExhaustedAt}.**` : ''));
  p();
  if (res.noise.length === 0) p('No measurement had more than 0.1 core busy elsewhere.');
  else {
    p(`${res.noise.length} measurement(s) were disturbed (figures kept are from the least disturbed attempt; medians damp the rest):`);
    p();
    table(
      ['round', 'measurement', 'attempts', 'cores busy elsewhere (kept attempt)', 'waited for quiet (s)'],
      res.noise.map((n) => [String(n.round), n.what, String(n.attempts), fmt(n.foreignCores, 2), fmt(n.quietWaitMs / 1000, 1)]),
    );
  }
  p();

  if (res.failures.length > 0) {
    p('## Failed measurements');
    p();
    for (const fl of res.failures) p(`- round ${fl.round}, ${fl.what}: \`${fl.error.split('\n')[0]}\``);
    p();
  }

  if (meta.rounds > 1 && opts.groups.includes('small')) {
    p('## Per round');
    p();
    table(
      [
        'variant',
        ...Array.from({ length: meta.rounds }, (_, i) => `r${i + 1} req/s @64`),
        ...Array.from({ length: meta.rounds }, (_, i) => `r${i + 1} p50 µs @1 cross`),
        ...Array.from({ length: meta.rounds }, (_, i) => `r${i + 1} 1 MiB MiB/s`),
      ],
      variants.map((id) => [
        variantLabel(id, meta.baseline?.ref),
        ...Array.from({ length: meta.rounds }, (_, i) => fmt(res.small[id]?.[i]?.c64.load.rps ?? NaN)),
        ...Array.from({ length: meta.rounds }, (_, i) => fmt(res.small[id]?.[i]?.c1.load.latencyUs.p50 ?? NaN)),
        ...Array.from({ length: meta.rounds }, (_, i) => fmt(res.echo[1 << 20]?.[id]?.[i]?.mibps ?? NaN, 1)),
      ]),
    );
  }
  return L.join('\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
