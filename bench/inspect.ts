// `npm run bench:inspect` (= build + `node dist/bench/inspect.js`): what the inspector (SPEC §13)
// costs on small events. restpipe client→server (a GET of the built-in `time` through the
// client's gateway, 64 keep-alive connections), with the inspector off, on (`--inspect` on
// both nodes: the client records the gateway's outbound events, the server its inbound ones)
// and on with bodies (`--inspect-bodies`), side by side in interleaved rounds, fresh processes
// for each measurement. Prints requests per second and CPU per request, median (min–max), and
// each against "off". Not part of `npm test`.
//
//   node dist/bench/inspect.js [--rounds N] [--measure-s S]   (default 3 rounds of 6 s)
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePki } from './lib/pki.js';
import { Child } from './lib/proc.js';
import { fmt, fmtSpread, spread } from './lib/stats.js';
import { measureLoad, setNoiseBudget, startLoadGenerator, type LoadMeasurement } from './measure.js';

const MODES = ['off', 'on', 'bodies'] as const;
type Mode = (typeof MODES)[number];

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const n = i === -1 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} takes a positive number`);
  return n;
};
const ROUNDS = arg('rounds', 3);
const MEASURE_MS = arg('measure-s', 6) * 1000;

const here = dirname(fileURLToPath(import.meta.url)); // dist/bench
const root = resolve(here, '../..');
const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

async function measure(mode: Mode, pkiPath: string): Promise<LoadMeasurement> {
  const procs: Child[] = [];
  let lg: Child | undefined;
  try {
    const node = (label: string, args: string[]): Promise<Child> => Child.start(`${here}/variants/restpipe-node.js`, [...args, '--pki', pkiPath, '--inspect', mode], { label });
    const server = await node('server (handler)', ['--role', 'server', '--gateway', 'no']);
    procs.push(server);
    const client = await node('client+gateway', ['--role', 'client', '--gateway', 'yes', '--server-port', String(server.info.pipePort)]);
    procs.unshift(client);
    const url = `http://127.0.0.1:${String(client.info.port)}/server/time`;
    const probe = await fetch(url);
    if (probe.status !== 200) throw new Error(`${mode}: GET /server/time → ${probe.status}`);
    await probe.text();
    lg = await startLoadGenerator(here);
    return await measureLoad(lg, procs, { url, method: 'GET', bodyBytes: 0, connections: 64, warmupMs: 2_000, measureMs: MEASURE_MS }, 'free');
  } finally {
    await lg?.stop();
    await Promise.all(procs.map((p) => p.stop()));
  }
}

async function main(): Promise<void> {
  const pkiPath = join(root, 'bench', '.cache', 'pki.json');
  await ensurePki(pkiPath, 1, log);
  // Wait a little for a quiet machine, not forever: the figures say how busy it was.
  setNoiseBudget(60_000);
  const results: Record<Mode, LoadMeasurement[]> = { off: [], on: [], bodies: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    // Rotate the order, so no mode always runs first (or last) in a round.
    const order = MODES.map((_, i) => MODES[(i + round - 1) % MODES.length]!);
    for (const mode of order) {
      const m = await measure(mode, pkiPath);
      results[mode].push(m);
      log(`round ${round} ${mode.padEnd(6)} ${fmt(m.load.rps)} req/s, ${fmt(m.cpuPerReqUs)} µs CPU/req, p99 ${fmt(m.load.latencyUs.p99)} µs, other load ${m.foreignCores.toFixed(2)} cores`);
    }
  }
  const median = (xs: number[]): number => spread(xs).median;
  const base = { rps: median(results.off.map((m) => m.load.rps)), cpu: median(results.off.map((m) => m.cpuPerReqUs)) };
  const lines = [
    `restpipe client→server, GET /server/time, 64 connections, ${ROUNDS} rounds × ${MEASURE_MS / 1000} s (median (min–max))`,
    '',
    '| inspector | req/s | vs off | CPU µs/req (both nodes) | vs off | p99 µs | other load (cores) |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const mode of MODES) {
    const rs = results[mode];
    const rps = spread(rs.map((m) => m.load.rps));
    const cpu = spread(rs.map((m) => m.cpuPerReqUs));
    const label = mode === 'off' ? 'off' : mode === 'on' ? '`--inspect`' : '`--inspect --inspect-bodies`';
    lines.push(
      `| ${label} | ${fmtSpread(rps)} | ${(rps.median / base.rps).toFixed(3)} | ${fmtSpread(cpu)} | ${(cpu.median / base.cpu).toFixed(3)} | ${fmt(median(rs.map((m) => m.load.latencyUs.p99)))} | ${median(rs.map((m) => m.foreignCores)).toFixed(2)} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
