// The CPU an event costs with the inspector off, on and on with bodies, in one process
// (`node dist/bench/inspect-cpu.js`, run by `npm run bench:inspect` after the throughput
// comparison). A server and a client node joined by a real TLS pipe, a keep-alive HTTP agent
// sending GET /server/time through the client's gateway, 16 at a time; the process's CPU time
// (user + system) per event is the figure. On a machine shared with other work, CPU time per
// event moves far less than throughput does (which depends on how much of the two cores this
// process gets), so this is the overhead figure to trust there. Modes alternate, round by round.
//
// First, the recorder alone: what recording one gateway event costs it (the message as the
// gateway publishes it for a small GET, through the channel, into a ring of 500), in ns.
//
//   node dist/bench/inspect-cpu.js [--rounds N] [--events N]   (default 7 rounds of 4,000 events)
import http from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { channels, createRecorder, startNode, type GatewayEventMessage, type RunningNode } from '../src/index.js';
import { ensurePki } from './lib/pki.js';
import { readPki } from './lib/pki.js';
import { fmt, fmtSpread, spread } from './lib/stats.js';

const MODES = ['off', 'on', 'bodies'] as const;
type Mode = (typeof MODES)[number];
const CONCURRENCY = 16;

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  const n = i === -1 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} takes a positive whole number`);
  return n;
};
const ROUNDS = arg('rounds', 7);
const EVENTS = arg('events', 4_000);

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

async function send(port: number, n: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  const one = (): Promise<void> =>
    new Promise((ok, fail) => {
      http
        .get({ host: '127.0.0.1', port, path: '/server/time', agent }, (res) => {
          if (res.statusCode !== 200) fail(new Error(`status ${res.statusCode}`));
          res.resume();
          res.on('end', ok);
        })
        .on('error', fail);
    });
  const worker = async (): Promise<void> => {
    while (next++ < n) await one();
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    agent.destroy();
  }
}

async function measure(mode: Mode, pki: ReturnType<typeof readPki>): Promise<{ cpuUs: number; perS: number }> {
  const nodes: RunningNode[] = [];
  try {
    const inspect = { inspect: mode !== 'off', inspectBodies: mode === 'bodies' };
    const server = await startNode({ role: 'server', identity: { key: pki.server.keyPem, cert: pki.server.certPem, ca: pki.ca.certPem }, listen: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, ...inspect });
    nodes.push(server);
    const client = await startNode({ role: 'client', identity: { key: pki.client.keyPem, cert: pki.client.certPem, ca: pki.ca.certPem }, server: { host: '127.0.0.1', port: server.server!.address!.port }, http: { host: '127.0.0.1', port: 0 }, ...inspect });
    nodes.push(client);
    await client.client!.waitReady(30_000);
    const port = (client.gateway!.address as { port: number }).port;
    await send(port, 500); // warm-up
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await send(port, EVENTS);
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { cpuUs: (cpu.user + cpu.system) / EVENTS, perS: (EVENTS / ms) * 1000 };
  } finally {
    await Promise.all(nodes.map((n) => n.close({ graceMs: 0 })));
  }
}

async function main(): Promise<void> {
  const pkiPath = join(root, 'bench', '.cache', 'pki.json');
  await ensurePki(pkiPath, 1, (m) => void process.stderr.write(`${m}\n`));
  const pki = readPki(pkiPath);
  // First, in a process that has run no node yet: afterwards prom-client's default metrics
  // (every node has them) keep observing GC in this process, which slows any allocation loop.
  const alone = recorderAlone();
  process.stderr.write(`${alone}\n`);
  const results: Record<Mode, Array<{ cpuUs: number; perS: number }>> = { off: [], on: [], bodies: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const mode of MODES.map((_, i) => MODES[(i + round - 1) % MODES.length]!)) {
      const r = await measure(mode, pki);
      results[mode].push(r);
      process.stderr.write(`round ${round} ${mode.padEnd(6)} ${fmt(r.cpuUs, 1)} µs CPU/event, ${fmt(r.perS)} events/s\n`);
    }
  }
  const base = spread(results.off.map((r) => r.cpuUs)).median;
  const lines = [
    `one process (server and client nodes, their gateways and the HTTP caller), GET /server/time, ${CONCURRENCY} at a time, ${ROUNDS} rounds × ${EVENTS} events (median (min–max))`,
    '',
    '| inspector | CPU µs per event | vs off (medians) | vs off in the same round (median (min–max)) | events/s |',
    '|---|---|---|---|---|',
  ];
  for (const mode of MODES) {
    const cpu = spread(results[mode].map((r) => r.cpuUs));
    // Rounds pair the modes in time: a ratio within a round cancels what the machine did then.
    const paired = spread(results[mode].map((r, i) => r.cpuUs / results.off[i]!.cpuUs));
    const label = mode === 'off' ? 'off' : mode === 'on' ? '`--inspect` (both nodes)' : '`--inspect --inspect-bodies` (both nodes)';
    lines.push(`| ${label} | ${fmtSpread(cpu, 1)} | ${(cpu.median / base).toFixed(3)} | ${fmtSpread(paired, 2)} | ${fmtSpread(spread(results[mode].map((r) => r.perS)))} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n\n${alone}\n`);
}

/** ns per gateway event recorded: publish on the end channel, record, keep in the ring. */
function recorderAlone(): string {
  const recorder = createRecorder({ role: 'client', pipes: () => [] });
  const requestHeaders = { host: '127.0.0.1:1236', 'user-agent': 'curl/8.5.0', accept: '*/*' };
  const responseHeaders = ['X-Event-Return-Code', '0', 'Content-Type', 'application/json', 'Content-Length', '35'];
  const N = 200_000;
  const perRound: number[] = [];
  try {
    for (let round = 0; round < 6; round++) {
      const t0 = performance.now();
      for (let i = 0; i < N; i++) {
        const m: GatewayEventMessage = {
          role: 'client', startedAt: Date.now(), method: 'GET', url: '/server/time', requestHeaders, target: undefined, verb: 'get', noun: 'time', query: '',
          captureBodyBytes: 0, status: 200, returnCode: 0, errorCode: undefined, responseHeaders, requestBytes: 0, replyBytes: 35, durationMs: 1,
          requestBody: undefined, replyBody: undefined,
        };
        channels.gatewayEventEnd.publish(m);
      }
      if (round > 0) perRound.push(((performance.now() - t0) * 1e6) / N); // round 0 warms up
    }
  } finally {
    recorder.close();
  }
  return `recorder alone: ${fmtSpread(spread(perRound))} ns per gateway event recorded (ring of ${recorder.capacity}, ${perRound.length} rounds of ${N})`;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
