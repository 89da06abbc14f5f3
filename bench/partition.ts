// `node dist/bench/partition.js [--rounds N] [--connect-timeouts 3,10] [--reconnect-max S]`
// (root, Linux, iptables): how long a client takes to get its pipe back once a network
// partition heals, for each connect timeout (issue 14, SPEC §6). Not part of `npm run bench`.
//
// A server and a client (the real CLI) run in two network namespaces joined by a veth pair, as
// two hosts would (RELIABILITY §5.1; both ends inside namespaces made here, never the root
// namespace). Each round cuts the link with iptables DROP rules in the client's namespace for a
// random 8-16 s (longer than the heartbeat timeout, so the client declares the pipe dead and
// dials into the partition), removes them, and times heal → the client's `pipe open` line. The
// kernel resends an unanswered SYN after 1, 2, 4, … s, so a dial that is still waiting when the
// link heals connects only at its next retransmission or when the connect timeout gives it up.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCa, issueCertificate } from '../src/identity/index.js';
import { fmt } from './lib/stats.js';

const args = process.argv.slice(2);
const opt = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i < 0 ? fallback : (args[i + 1] ?? fallback);
};
const ROUNDS = Number(opt('rounds', '8'));
const CONNECT_TIMEOUTS = opt('connect-timeouts', '3,10').split(',').map(Number);
const RECONNECT_MAX_S = Number(opt('reconnect-max', '5'));
const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const BIN = join(ROOT, 'bin', 'restpipe.js');

const tag = String(process.pid % 10_000);
const NS = { server: `rp14s${tag}`, client: `rp14c${tag}` };
const VETH = { server: `rp14s${tag}v`, client: `rp14c${tag}v` };
const ADDR = { server: '10.213.7.1', client: '10.213.7.2' };
const PORT = 7001;
const hadNetnsDir = existsSync('/run/netns');

function sh(cmd: string, argv: string[]): string {
  return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function setUpNetwork(): void {
  sh('ip', ['netns', 'add', NS.server]);
  sh('ip', ['netns', 'add', NS.client]);
  sh('ip', ['link', 'add', VETH.server, 'type', 'veth', 'peer', 'name', VETH.client]);
  sh('ip', ['link', 'set', VETH.server, 'netns', NS.server]);
  sh('ip', ['link', 'set', VETH.client, 'netns', NS.client]);
  sh('ip', ['-n', NS.server, 'addr', 'add', `${ADDR.server}/30`, 'dev', VETH.server]);
  sh('ip', ['-n', NS.client, 'addr', 'add', `${ADDR.client}/30`, 'dev', VETH.client]);
  for (const [ns, dev] of [[NS.server, VETH.server], [NS.client, VETH.client]] as const) {
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  }
}

function tearDownNetwork(): void {
  for (const ns of [NS.server, NS.client]) {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      // not made, or gone already
    }
  }
  if (!hadNetnsDir) {
    try {
      sh('umount', ['/run/netns']);
      rmSync('/run/netns', { recursive: true, force: true });
    } catch {
      // still in use by someone else's namespaces
    }
  }
}

/** DROP everything between the client and the server, both ways, in the client's namespace. */
function partition(on: boolean): void {
  for (const [chain, dir] of [['INPUT', '-s'], ['OUTPUT', '-d']] as const) {
    sh('ip', ['netns', 'exec', NS.client, 'iptables', on ? '-A' : '-D', chain, dir, ADDR.server, '-j', 'DROP']);
  }
}

interface Proc {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  waitFor(match: (l: Record<string, unknown>) => boolean, timeoutMs: number, what: string): Promise<Record<string, unknown>>;
}

function startInNs(ns: string, argv: string[]): Proc {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, BIN, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '' } });
  const lines: Array<Record<string, unknown>> = [];
  const waiters = new Set<() => void>();
  let buf = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    buf += chunk;
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        lines.push({ msg: line });
      }
      for (const w of [...waiters]) w();
    }
  });
  return {
    child,
    lines,
    waitFor(match, timeoutMs, what) {
      return new Promise((resolvePromise, reject) => {
        let seen = 0;
        const check = (): void => {
          for (; seen < lines.length; seen++) {
            if (match(lines[seen]!)) {
              done();
              resolvePromise(lines[seen]!);
              return;
            }
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`no ${what} within ${timeoutMs} ms`));
        }, timeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

async function makeCertDirs(dir: string): Promise<{ server: string; client: string }> {
  const ca = await createCa({ cn: 'partition-ca' });
  const server = await issueCertificate({ ca, name: 'server' });
  const client = await issueCertificate({ ca, name: 'client1' });
  const dirs = { server: join(dir, 'server'), client: join(dir, 'client') };
  for (const [role, id] of [['server', server], ['client', client]] as const) {
    const files = { key: join(dir, `${role}.key.pem`), cert: join(dir, `${role}.crt.pem`), ca: join(dir, 'ca.crt.pem') };
    writeFileSync(files.key, id.keyPem, { mode: 0o600 });
    writeFileSync(files.cert, id.certPem);
    writeFileSync(files.ca, ca.certPem);
    sh(process.execPath, [BIN, role, 'set-identity', files.key, files.cert, files.ca, '--cert-dir', dirs[role]]);
  }
  return dirs;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const msgOf = (l: Record<string, unknown>): string => String(l['msg'] ?? '');

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root: it makes network namespaces');
  sh('iptables', ['--version']);
  const dir = mkdtempSync(join(tmpdir(), 'restpipe-partition-'));
  const procs: Proc[] = [];
  const onSignal = (): void => {
    for (const p of procs) p.child.kill('SIGKILL');
    tearDownNetwork();
    process.exit(1);
  };
  process.once('SIGINT', onSignal);
  try {
    setUpNetwork();
    const certs = await makeCertDirs(dir);
    const timers = ['--heartbeat-interval', '1', '--heartbeat-timeout', '3', '--no-http', '--log-level', 'info'];
    const server = startInNs(NS.server, ['server', '--cert-dir', certs.server, '--listen', `${ADDR.server}:${PORT}`, ...timers]);
    procs.push(server);
    await server.waitFor((l) => msgOf(l) === 'accepting pipes', 15_000, 'the server listening');
    const results: Record<number, number[]> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const connectTimeoutS of round % 2 === 0 ? CONNECT_TIMEOUTS : [...CONNECT_TIMEOUTS].reverse()) {
        const client = startInNs(NS.client, [
          'client', '--cert-dir', certs.client, '--server', `${ADDR.server}:${PORT}`, '--server-name', 'server',
          '--reconnect-min', '0.5', '--reconnect-max', String(RECONNECT_MAX_S), '--connect-timeout', String(connectTimeoutS), ...timers,
        ]);
        procs.push(client);
        await client.waitFor((l) => msgOf(l).startsWith('pipe open'), 15_000, 'the first pipe');
        const cutMs = 8_000 + Math.random() * 8_000;
        partition(true);
        await sleep(cutMs);
        const healedAt = Date.now();
        partition(false);
        const open = await client.waitFor((l) => msgOf(l).startsWith('pipe open') && Number(l['time']) >= healedAt, 60_000, 'the pipe back');
        const recoveryS = (Number(open['time']) - healedAt) / 1000;
        (results[connectTimeoutS] ??= []).push(recoveryS);
        const dials = client.lines.filter((l) => Number(l['time']) < healedAt && /TCP connect timed out/.test(String(l['reason'] ?? ''))).length;
        process.stderr.write(
          `round ${round + 1}: connect timeout ${connectTimeoutS} s, cut ${fmt(cutMs / 1000, 1)} s → pipe back ${fmt(recoveryS, 2)} s after healing (${dials} dials timed out during the cut)\n`,
        );
        client.child.kill('SIGKILL');
        await new Promise((r) => client.child.once('exit', r));
      }
    }
    process.stdout.write(`\nheal → pipe open (s), reconnect 0.5–${RECONNECT_MAX_S} s, heartbeat 1 s / timeout 3 s, ${ROUNDS} cuts of 8–16 s each:\n`);
    process.stdout.write('| connect timeout | median | p90 | max | all |\n|--:|--:|--:|--:|:--|\n');
    for (const ct of CONNECT_TIMEOUTS) {
      const xs = [...(results[ct] ?? [])].sort((a, b) => a - b);
      const q = (p: number): number => xs[Math.min(xs.length - 1, Math.floor(p * xs.length))] ?? NaN;
      process.stdout.write(`| ${ct} s | ${fmt(q(0.5), 2)} | ${fmt(q(0.9), 2)} | ${fmt(xs.at(-1) ?? NaN, 2)} | ${xs.map((x) => fmt(x, 2)).join(' ')} |\n`);
    }
  } finally {
    for (const p of procs) p.child.kill('SIGKILL');
    tearDownNetwork();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
