// `--only profile`: restpipe's small-event path under the 64-connection load, both directions,
// with `node --cpu-prof` on the gateway process and on the handler process. The profiles are
// kept under bench/profiles/<stamp>/ (open them in Chrome DevTools or speedscope); the summary
// ranks functions by self time, mapped back to src/*.ts.
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeProfile, type ProfileSummary } from './lib/cpuprofile.js';
import { measureLoad, startLoadGenerator, type LoadMeasurement } from './measure.js';
import { runScale, type ScaleDurations } from './scale.js';
import { probeVariant, startVariant, type StartContext, type VariantId } from './variants.js';

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
