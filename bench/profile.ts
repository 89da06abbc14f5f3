// `--only profile`: restpipe's small-event path under the 64-connection load, both directions,
// with `node --cpu-prof` on the gateway process and on the handler process. The profiles are
// kept under bench/profiles/<stamp>/ (open them in Chrome DevTools or speedscope); the summary
// ranks functions by self time, mapped back to src/*.ts. Also the 1 MiB echo, the reconnect
// storm, and one streamed download and upload through each direction and through the bare relay
// (the stream targets' "why": where each process's CPU per MiB goes, against the relay's).
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeProfile, type ProfileSummary } from './lib/cpuprofile.js';
import { measureLoad, startLoadGenerator, type LoadMeasurement } from './measure.js';
import { Child } from './lib/proc.js';
import { runScale, type ScaleDurations } from './scale.js';
import { startRelay, transfer, type RunningRelay } from './streams.js';
import { probeVariant, startVariant, type RunningVariant, type StartContext, type VariantId } from './variants.js';

/** What the profiled load is: the small event at 64 connections, or the 1 MiB echo at 8. */
export type ProfileLoad = 'small' | 'echo-1MiB';

export interface ProfileRun {
  variant: VariantId;
  kind: ProfileLoad;
  /** Set when a report shows this run's profiles beside another run's figures. */
  source?: string;
  load: LoadMeasurement;
  dir: string;
  summaries: ProfileSummary[];
}

export const PROFILE_INTERVAL_US = 250;

function slug(label: string): string {
  return label.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();
}

export async function runProfile(
  id: VariantId,
  ctx: StartContext,
  outDir: string,
  d: { warmupMs: number; measureMs: number },
  kind: ProfileLoad = 'small',
): Promise<ProfileRun> {
  const dir = join(outDir, kind === 'small' ? id : `${id}-${kind}`);
  mkdirSync(dir, { recursive: true });
  const v = await startVariant(id, {
    ...ctx,
    nodeFlags: (label) => ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${slug(label)}.cpuprofile`, `--cpu-prof-interval=${PROFILE_INTERVAL_US}`],
  });
  let load: LoadMeasurement;
  const labels = v.procs.map((p) => p.label);
  try {
    await probeVariant(v);
    const lg = await startLoadGenerator(ctx.benchDir);
    try {
      const job =
        kind === 'small'
          ? { url: v.baseUrl + v.smallPath, method: 'GET' as const, bodyBytes: 0, connections: 64, ...d }
          : { url: v.baseUrl + v.echoPath, method: 'POST' as const, bodyBytes: 1 << 20, connections: 8, ...d };
      load = await measureLoad(lg, v.procs, job, 'cross-core');
    } finally {
      await lg.stop();
    }
  } finally {
    // A clean exit (not a signal) is what makes node write the profile.
    await v.stop();
  }
  const files = new Set(readdirSync(dir));
  const summaries = labels
    .filter((l) => files.has(`${slug(l)}.cpuprofile`))
    .map((l) => analyzeProfile(join(dir, `${slug(l)}.cpuprofile`), l));
  return { variant: id, kind, load, dir, summaries };
}

export interface StormProfileRun {
  n: number;
  /** Set when a report shows this run's profiles beside another run's figures. */
  source?: string;
  restartToServingS: number;
  serverCpuS: number;
  lgCpuS: number;
  dir: string;
  summaries: ProfileSummary[];
}

/**
 * The reconnect storm under the profiler: the restarted server runs with `node --cpu-prof` (its
 * whole life: start-up, storm, and the close at the end); the load generator (the N clients'
 * side) profiles the storm alone, from arming it to the last client serving.
 */
export async function runStormProfile(
  n: number,
  ctx: StartContext,
  outDir: string,
  d: ScaleDurations,
  log: (m: string) => void,
): Promise<StormProfileRun> {
  const dir = join(outDir, `storm-${n}`);
  mkdirSync(dir, { recursive: true });
  const r = await runScale(n, ctx, d, log, dir);
  return {
    n,
    restartToServingS: r.storm.restartToServingS,
    serverCpuS: r.storm.serverCpuS,
    lgCpuS: r.storm.lgCpuS,
    dir,
    summaries: [
      analyzeProfile(join(dir, 'storm-server.cpuprofile'), 'restarted server'),
      analyzeProfile(join(dir, 'storm-clients.cpuprofile'), `load generator (${n} clients: the storm alone)`),
    ],
  };
}

/** One streamed transfer under the profiler: through a restpipe direction, or the bare relay. */
export interface StreamProfileRun {
  target: VariantId | 'relay';
  kind: 'download' | 'upload';
  bytes: number;
  mibps: number;
  /** CPU per MiB moved, for each process under test (not the HTTP client), ms. */
  cpuMsPerMiB: { label: string; ms: number }[];
  /** Set when a report shows this run's profiles beside another run's figures. */
  source?: string;
  dir: string;
  summaries: ProfileSummary[];
}

/**
 * One download (GET of a streamed `bytes`-byte reply) or upload (POST of a `bytes`-byte body
 * into a streaming sink), with a CPU profile of every process under test for the transfer alone
 * (node:inspector, started just before and stopped just after it: start-up is not in it).
 */
export async function runStreamProfile(target: VariantId | 'relay', kind: 'download' | 'upload', bytes: number, ctx: StartContext, outDir: string): Promise<StreamProfileRun> {
  const dir = join(outDir, `${target}-${kind}`);
  mkdirSync(dir, { recursive: true });
  const v: RunningVariant | RunningRelay = target === 'relay' ? await startRelay(ctx) : await startVariant(target, ctx);
  const file = (label: string): string => join(dir, `${slug(label)}.cpuprofile`);
  let mibps: number;
  let cpuMsPerMiB: { label: string; ms: number }[];
  try {
    if (target !== 'relay') await probeVariant(v as RunningVariant);
    const lg = await Child.start(`${ctx.benchDir}/stream-client.js`, [], { label: 'stream client' });
    try {
      const started = await Promise.all(v.procs.map((p) => p.request<boolean>({ type: 'profile-start', intervalUs: PROFILE_INTERVAL_US })));
      if (started.includes(false)) throw new Error(`${target} ${kind}: a process did not start its profiler`);
      const cpu0 = v.procs.map((p) => p.cpuUs());
      const moved = await transfer(lg, kind, v.baseUrl + (kind === 'download' ? v.blobPath : v.sinkPath), bytes, 1);
      const cpu1 = v.procs.map((p) => p.cpuUs());
      const written = await Promise.all(v.procs.map((p) => p.request<boolean>({ type: 'profile-stop', path: file(p.label) })));
      if (written.includes(false)) throw new Error(`${target} ${kind}: a process did not write its profile`);
      const mib = moved.result.bytes / 2 ** 20;
      cpuMsPerMiB = v.procs.map((p, i) => ({ label: p.label, ms: (cpu1[i]! - cpu0[i]!) / 1000 / mib }));
      mibps = moved.mibps;
    } finally {
      await lg.stop();
    }
  } finally {
    await v.stop();
  }
  const summaries = v.procs.map((p) => analyzeProfile(file(p.label), p.label));
  return { target, kind, bytes, mibps, cpuMsPerMiB, dir, summaries };
}
