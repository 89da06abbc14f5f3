// Groups 3 and 4: one restpipe server node holding N client pipes opened by the library from a
// separate load-generator process (bench/scale-clients), then a reconnect storm: the server is
// SIGKILLed and restarted on the same port, and every client must be back AND serving (one
// get_time answered through its new pipe). With resumption on (the library's default), the
// server has a ticket key file, so the restarted server can resume the sessions its clients got
// from the first one (SPEC §6, issue 14); off, every reconnect is a full handshake.
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Child, openFilesLimit, readListenCounters, readSystemCpuUs } from './lib/proc.js';
import { waitForQuietBudgeted } from './measure.js';
import type { StartContext } from './variants.js';

export interface ScaleDurations {
  settleMs: number;
  idleMs: number;
  stormTimeoutMs: number;
}

/** TLS session resumption in a scale run: on (tickets from a key file the restarted server reads too) or off. */
export type ResumptionMode = 'on' | 'off';

export interface ScaleResult {
  n: number;
  /** Absent in runs made before issue 14, which had no resumption. */
  resumption?: ResumptionMode;
  nofile: number;
  connect: { ms: number; connectFails: number };
  server: {
    rssBeforeKiB: number;
    rssAfterKiB: number;
    rssPerPipeKiB: number;
    rssBeforeGcKiB: number;
    rssAfterGcKiB: number;
    rssPerPipeGcKiB: number;
    heapPerPipeGcB: number;
    externalPerPipeGcB: number;
    clientCount: number;
  };
  lgRssPerPipeKiB: number;
  idle: { windowMs: number; serverCpuPct: number; serverUsPerPipePerS: number; lgCpuPct: number };
  probe: { ok: number; failed: number; ms: number };
  storm: StormResult;
}

export interface StormResult {
  complete: boolean;
  serving: number;
  ready: number;
  /** Seconds from SIGKILL to every client serving again. */
  killToServingS: number;
  /** Seconds from the restart (the new server process spawned) to every client serving. */
  restartToServingS: number;
  /** Seconds from the new server listening to every pipe open / every client serving. */
  listenToReadyS: number;
  listenToServingS: number;
  /** Seconds the new process took to listen (node start + startNode). */
  restartToListenS: number;
  /** Median client: seconds from listening to serving. */
  medianListenToServingS: number;
  /** Pipes opened per second, from listening to the last one. */
  handshakesPerS: number;
  /** The busiest whole second. */
  peakHandshakesPerS: number;
  /** Failed dials and hellos during the storm (refused before listening, timeouts, …). */
  connectFails: number;
  clientsAfter: number;
  /** Pipes open again, counted per 500 ms after the kill. */
  readyPer500ms: number[];
  /** CPU used by processes outside the benchmark during the storm, in cores (others share this machine). */
  foreignCores: number;
  /** CPU seconds the restarted server used from its start until all were serving (its start-up included). */
  serverCpuS: number;
  /** CPU seconds the load generator (the N clients' side) used over the same time. */
  lgCpuS: number;
  /** Pipes of the storm opened by resuming a TLS session (absent before issue 14). */
  resumed?: number;
  /** SYNs dropped by a full accept queue, and SYNs sent again, during the storm (whole machine; absent before issue 14). */
  listenOverflows?: number;
  synRetrans?: number;
  /** When clients first entered each state after the kill (ms after the storm was armed, just before the kill). */
  stages: Record<string, { n: number; p50Ms: number; p90Ms: number; maxMs: number }>;
  /**
   * The restarted server's RSS per pipe once all are back (after 1 s, then after a full GC),
   * against its own RSS when it began to listen: the pipes opened by the storm's handshakes
   * (resumed ones, with resumption on), plus what the storm's peak left allocated. Absent before
   * issue 14.
   */
  rssPerPipeAfterKiB?: number;
  rssPerPipeAfterGcKiB?: number;
  /** The machine's 1-minute load average when the storm ended (others share this machine). */
  loadAvg1?: number;
}

const now = (): number => performance.timeOrigin + performance.now();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Usage {
  cpuUs: number;
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
}

/**
 * @param profileDir when set, the restarted server runs under `node --cpu-prof` and writes
 *   `storm-server.cpuprofile` there; the load generator profiles the storm alone into
 *   `storm-clients.cpuprofile`.
 */
export async function runScale(
  n: number,
  ctx: StartContext,
  d: ScaleDurations,
  log: (m: string) => void,
  profileDir?: string,
  resumption: ResumptionMode = 'on',
): Promise<ScaleResult> {
  const prof = (name: string): string[] =>
    profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${name}.cpuprofile`, '--cpu-prof-interval=500'];
  const limit = openFilesLimit();
  const needed = n + 2_048;
  if (limit.hard < needed) throw new Error(`open-files hard limit ${limit.hard} is below the ${needed} needed for ${n} pipes`);
  const nofile = Math.max(Math.min(limit.hard, Math.max(needed, 65_536)), limit.soft === Infinity ? needed : limit.soft);
  const nofileOpt = limit.soft < needed ? { nofile } : {};
  const effectiveNofile = limit.soft < needed ? nofile : limit.soft;

  const keyDir = mkdtempSync(join(tmpdir(), 'restpipe-bench-keys-'));
  const resumptionArgs = resumption === 'on' ? ['--resumption', 'on', '--ticket-keys', join(keyDir, 'ticket-keys.hex')] : ['--resumption', 'off'];
  const startServer = (port: number, profiled = false): Promise<Child> =>
    Child.start(
      `${ctx.benchDir}/variants/restpipe-node.js`,
      ['--role', 'server', '--gateway', 'yes', '--pki', ctx.pkiPath, '--port', String(port), ...resumptionArgs],
      { label: 'server', nodeFlags: ['--expose-gc', ...(profiled ? prof('storm-server') : [])], ...nofileOpt },
    );

  await waitForQuietBudgeted();
  let server = await startServer(0);
  let lg: Child | undefined;
  try {
    const port = Number(server.info.pipePort);
    await sleep(1_000);
    const rssBeforeKiB = server.memKiB().rss;
    await server.request({ type: 'gc' });
    const rssBeforeGcKiB = server.memKiB().rss;
    const before = await server.request<Usage>({ type: 'usage' });

    // The load generator profiles the storm alone (node:inspector), not the first connect too.
    const lgProfile = profileDir === undefined ? [] : ['--storm-profile', join(profileDir, 'storm-clients.cpuprofile')];
    lg = await Child.start(`${ctx.benchDir}/scale-clients.js`, ['--pki', ctx.pkiPath, '--port', String(port), '--count', String(n), '--resumption', resumption, ...lgProfile], {
      label: `${n} clients`,
      ...nofileOpt,
    });
    const lgRssBefore = lg.memKiB().rss;
    log(`  ${n} clients (resumption ${resumption}): connecting`);
    const connect = await lg.request<{ ms: number; connectFails: number }>({ type: 'connect', waveSize: 250 }, 300_000);
    const clientCount = await server.request<number>({ type: 'clients' });
    log(`  ${n} clients: connected in ${(connect.ms / 1000).toFixed(1)} s (server sees ${clientCount}); idle ${d.idleMs / 1000} s`);

    await sleep(d.settleMs);
    const s0 = await server.request<Usage>({ type: 'usage' });
    const l0 = await lg.request<Usage>({ type: 'usage' });
    const t0 = performance.now();
    await sleep(d.idleMs);
    const s1 = await server.request<Usage>({ type: 'usage' });
    const l1 = await lg.request<Usage>({ type: 'usage' });
    const windowMs = performance.now() - t0;
    const rssAfterKiB = server.memKiB().rss;
    await server.request({ type: 'gc' });
    const rssAfterGcKiB = server.memKiB().rss;
    const after = await server.request<Usage>({ type: 'usage' });
    const lgRssAfter = lg.memKiB().rss;

    const probe = await lg.request<{ ok: number; failed: number; ms: number }>({ type: 'probe' }, 120_000);

    // The storm.
    log(`  ${n} clients: reconnect storm`);
    await waitForQuietBudgeted();
    await lg.request({ type: 'arm-storm' });
    const lgCpu0 = lg.cpuUs();
    const sys0 = readSystemCpuUs().busyUs;
    const net0 = readListenCounters();
    const me0 = process.cpuUsage();
    const done = lg.waitFor((m) => m.type === 'storm-done', d.stormTimeoutMs).catch(() => undefined);
    const tKill = now();
    server.kill('SIGKILL');
    await server.exited;
    const tRestart = now();
    server = await startServer(port, true);
    const tListen = Number(server.info.at ?? now());
    // The restarted server's own baseline, read as it starts listening (a few clients may already be in).
    const rssAtListenKiB = server.memKiB().rss;
    const msg = await done;
    const serverCpuS = server.cpuUs() / 1e6;
    const lgCpuS = (lg.cpuUs() - lgCpu0) / 1e6;
    const net1 = readListenCounters();
    const listenOverflows = net1.listenOverflows - net0.listenOverflows;
    const synRetrans = net1.synRetrans - net0.synRetrans;
    const me = process.cpuUsage(me0);
    const stormUs = (now() - tKill) * 1000;
    // The killed server was idle; what it used after the kill is nil.
    const foreignCores = Math.max(0, (readSystemCpuUs().busyUs - sys0 - (serverCpuS + lgCpuS) * 1e6 - me.user - me.system) / stormUs);
    let storm: StormResult;
    if (msg !== undefined) {
      log(
        `  storm: ${String(msg.resumed)} of ${n} pipes resumed; ${listenOverflows} SYNs dropped by a full accept queue, ${synRetrans} sent again; ` +
          `failed dials by reason ${JSON.stringify(msg.failReasons)}; longest backoff ${msg.maxBackoffMs} ms; ` +
          `server CPU ${serverCpuS.toFixed(1)} s, load generator CPU ${lgCpuS.toFixed(1)} s`,
      );
    }
    if (msg !== undefined) {
      const readyAt = (msg.readyAt as number[]).filter((t) => t > 0);
      const servedAt = (msg.servedAt as number[]).filter((t) => t > 0);
      const lastReady = Math.max(...readyAt);
      const lastServed = Math.max(...servedAt);
      const sortedServed = [...servedAt].sort((a, b) => a - b);
      const bins = new Map<number, number>();
      for (const t of readyAt) bins.set(Math.floor((t - tListen) / 1000), (bins.get(Math.floor((t - tListen) / 1000)) ?? 0) + 1);
      await sleep(1_000);
      const rssAfterStormKiB = server.memKiB().rss;
      await server.request({ type: 'gc' });
      const rssAfterStormGcKiB = server.memKiB().rss;
      storm = {
        complete: true,
        serving: servedAt.length,
        ready: readyAt.length,
        killToServingS: (lastServed - tKill) / 1000,
        restartToServingS: (lastServed - tRestart) / 1000,
        listenToReadyS: (lastReady - tListen) / 1000,
        listenToServingS: (lastServed - tListen) / 1000,
        restartToListenS: (tListen - tRestart) / 1000,
        medianListenToServingS: (sortedServed[Math.floor(sortedServed.length / 2)]! - tListen) / 1000,
        handshakesPerS: readyAt.length / Math.max(0.001, (lastReady - tListen) / 1000),
        peakHandshakesPerS: Math.max(...bins.values()),
        connectFails: Number(msg.connectFails),
        clientsAfter: await server.request<number>({ type: 'clients' }),
        readyPer500ms: histogram(readyAt.map((t) => t - tKill), 500),
        serverCpuS,
        lgCpuS,
        resumed: Number(msg.resumed),
        listenOverflows,
        synRetrans,
        foreignCores,
        stages: msg.stages as StormResult['stages'],
        loadAvg1: loadavg()[0]!,
        rssPerPipeAfterKiB: (rssAfterStormKiB - rssAtListenKiB) / n,
        rssPerPipeAfterGcKiB: (rssAfterStormGcKiB - rssAtListenKiB) / n,
      };
    } else {
      const st = await lg.request<{ ready: number; serving: number; connectFails: number; states: Record<string, number> }>({ type: 'storm-status' });
      log(`  storm incomplete after ${d.stormTimeoutMs / 1000} s: ${JSON.stringify(st)}`);
      storm = {
        complete: false,
        serving: st.serving,
        ready: st.ready,
        killToServingS: NaN,
        restartToServingS: NaN,
        listenToReadyS: NaN,
        listenToServingS: NaN,
        restartToListenS: (tListen - tRestart) / 1000,
        medianListenToServingS: NaN,
        handshakesPerS: NaN,
        peakHandshakesPerS: NaN,
        connectFails: st.connectFails,
        clientsAfter: await server.request<number>({ type: 'clients' }),
        readyPer500ms: [],
        serverCpuS,
        lgCpuS,
        foreignCores,
        stages: {},
      };
    }
    log(
      `  ${n} clients: storm ${storm.complete ? `done, all serving ${storm.restartToServingS.toFixed(2)} s after the restart` : 'INCOMPLETE'}` +
        `, ${storm.connectFails} failed dials` +
        (storm.rssPerPipeAfterGcKiB === undefined ? '' : `; server RSS/pipe after the storm ${storm.rssPerPipeAfterKiB?.toFixed(1)} KiB (${storm.rssPerPipeAfterGcKiB.toFixed(1)} after GC)`),
    );

    return {
      n,
      resumption,
      nofile: effectiveNofile,
      connect,
      server: {
        rssBeforeKiB,
        rssAfterKiB,
        rssPerPipeKiB: (rssAfterKiB - rssBeforeKiB) / n,
        rssBeforeGcKiB,
        rssAfterGcKiB,
        rssPerPipeGcKiB: (rssAfterGcKiB - rssBeforeGcKiB) / n,
        heapPerPipeGcB: (after.heapUsed - before.heapUsed) / n,
        externalPerPipeGcB: (after.external + after.arrayBuffers - before.external - before.arrayBuffers) / n,
        clientCount,
      },
      lgRssPerPipeKiB: (lgRssAfter - lgRssBefore) / n,
      idle: {
        windowMs,
        serverCpuPct: ((s1.cpuUs - s0.cpuUs) / (windowMs * 1000)) * 100,
        serverUsPerPipePerS: (s1.cpuUs - s0.cpuUs) / (windowMs / 1000) / n,
        lgCpuPct: ((l1.cpuUs - l0.cpuUs) / (windowMs * 1000)) * 100,
      },
      probe,
      storm,
    };
  } finally {
    // The clients first: a server that goes first would start 5,000 redials.
    await lg?.stop(10_000);
    await server.stop(10_000);
    rmSync(keyDir, { recursive: true, force: true });
  }
}

function histogram(valuesMs: number[], binMs: number): number[] {
  const out: number[] = [];
  for (const v of valuesMs) {
    const b = Math.max(0, Math.floor(v / binMs));
    while (out.length <= b) out.push(0);
    out[b]!++;
  }
  return out;
}
