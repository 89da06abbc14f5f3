// Real CLI processes for the end-to-end tests: spawn `node bin/restpipe.js …` (or a bin alias)
// exactly as a user would, read its JSON log lines (stderr is not a TTY, so pino writes JSON),
// wait on a line with a bound, and always kill and reap what was started (by pid, never by name).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (tests run from dist/test/…). */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = {
  restpipe: join(REPO_ROOT, 'bin', 'restpipe.js'),
  rp_server_set_identity: join(REPO_ROOT, 'bin', 'rp_server_set_identity.js'),
  rp_client_set_identity: join(REPO_ROOT, 'bin', 'rp_client_set_identity.js'),
} as const;
/** The e2e handler module, as a path relative to the repository root (processes run there by default). */
export const E2E_HANDLERS = 'test/fixtures/e2e-handlers.js';

/** A log line: pino's JSON object, or `{ text }` for anything else the process wrote. */
export type LogLine = Record<string, unknown> & { text: string };

export interface SpawnOptions {
  cwd?: string;
  /** Added to a minimal environment (PATH, HOME, …); restpipe's own RP_* variables are never inherited. */
  env?: NodeJS.ProcessEnv;
  /** A label for error messages. */
  name?: string;
}

/** A running (or finished) CLI process. */
export interface CliProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly name: string;
  /** stdout lines so far. */
  readonly stdout: string[];
  /** stderr lines so far, parsed. */
  readonly log: LogLine[];
  /** Resolves with the exit code (or the signal's name) once the process has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Waits for a stderr line that matches, within the bound (also looks at lines already seen). */
  waitForLog(match: (line: LogLine) => boolean, what: string, timeoutMs?: number): Promise<LogLine>;
  /** Waits for a stdout line that matches, within the bound (also looks at lines already seen). */
  waitForStdout(match: (line: string) => boolean, what: string, timeoutMs?: number): Promise<string>;
  /** Waits for the process to exit within the bound. */
  waitForExit(timeoutMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends a signal (if still running). */
  signal(sig: NodeJS.Signals): void;
  /** SIGKILL if still running, then waits for the exit. Safe to call twice. */
  kill(): Promise<void>;
  /** All output, for assertion messages. */
  dump(): string;
}

const running = new Set<CliProcess>();

/** A minimal environment: no RP_* or DEBUG variables leak in from the developer's shell. */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'SYSTEMROOT']) if (process.env[key] !== undefined) env[key] = process.env[key];
  return { ...env, ...extra };
}

/**
 * Spawns `node SCRIPT ARGS…` (SCRIPT defaults to bin/restpipe.js), or with `executable` that file
 * itself, its `#!` line choosing the interpreter as when systemd or a shell runs it.
 */
export function spawnCli(args: string[], options: SpawnOptions & { script?: string; executable?: string } = {}): CliProcess {
  const script = options.executable ?? options.script ?? BIN.restpipe;
  const [file, argv] = options.executable === undefined ? [process.execPath, [script, ...args]] : [options.executable, args];
  const child = spawn(file, argv, {
    cwd: options.cwd ?? REPO_ROOT,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`could not spawn ${script}`);
  const name = options.name ?? `${script.split('/').pop()} ${args.slice(0, 2).join(' ')}`;
  const stdout: string[] = [];
  const log: LogLine[] = [];
  const waiters = new Set<() => void>();
  const notify = (): void => {
    for (const w of [...waiters]) w();
  };
  const lines = (stream: NodeJS.ReadableStream, onLine: (line: string) => void): void => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let i: number;
      while ((i = buf.indexOf('\n')) !== -1) {
        onLine(buf.slice(0, i));
        buf = buf.slice(i + 1);
      }
    });
    stream.on('end', () => {
      if (buf !== '') onLine(buf);
      buf = '';
    });
  };
  lines(child.stdout!, (line) => {
    stdout.push(line);
    notify();
  });
  lines(child.stderr!, (line) => {
    let parsed: LogLine = { text: line };
    if (line.startsWith('{')) {
      try {
        parsed = { ...(JSON.parse(line) as Record<string, unknown>), text: line };
      } catch {
        // not JSON after all
      }
    }
    log.push(parsed);
    notify();
  });
  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    // 'close' comes after the streams have ended, so every line has been seen.
    child.once('close', (code, signal) => {
      exitInfo = { code, signal };
      running.delete(proc);
      resolve(exitInfo);
      notify();
    });
  });

  function waitForLine<T>(lines: T[], match: (line: T) => boolean, what: string, timeoutMs: number): Promise<T> {
    const found = lines.find(match);
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      let seen = lines.length;
      const check = (): void => {
        for (; seen < lines.length; seen++) {
          if (match(lines[seen]!)) {
            finish();
            resolve(lines[seen]!);
            return;
          }
        }
        if (exitInfo !== undefined) {
          finish();
          reject(new Error(`${name} exited (${exitInfo.code ?? exitInfo.signal}) before ${what}\n${dump()}`));
        }
      };
      const finish = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`${name}: no ${what} within ${timeoutMs} ms\n${dump()}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  }

  const dump = (): string =>
    `--- ${name} (pid ${child.pid}) stdout ---\n${stdout.join('\n')}\n--- stderr ---\n${log.map((l) => l.text).join('\n')}\n---`;

  const proc: CliProcess = {
    child,
    pid: child.pid,
    name,
    stdout,
    log,
    exited,
    waitForLog(match, what, timeoutMs = 10_000) {
      return waitForLine(log, match, what, timeoutMs);
    },
    waitForStdout(match, what, timeoutMs = 10_000) {
      return waitForLine(stdout, match, what, timeoutMs);
    },
    waitForExit(timeoutMs = 10_000) {
      let timer: NodeJS.Timeout | undefined;
      return Promise.race([
        exited,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`${name} did not exit within ${timeoutMs} ms\n${dump()}`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
    },
    signal(sig) {
      if (exitInfo === undefined && child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    async kill() {
      proc.signal('SIGKILL');
      await exited;
    },
    dump,
  };
  running.add(proc);
  return proc;
}

/** Runs a CLI command to completion (bounded) and returns its exit code and output. */
export async function runCli(
  args: string[],
  options: SpawnOptions & { script?: string; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; stderrLines: string[] }> {
  const p = spawnCli(args, options);
  try {
    const { code } = await p.waitForExit(options.timeoutMs ?? 20_000);
    const stderrLines = p.log.map((l) => l.text);
    return { code, stdout: p.stdout.join('\n'), stderr: stderrLines.join('\n'), stderrLines };
  } finally {
    await p.kill();
  }
}

/** The outcome of a bounded command. */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `command args…` (any program) to completion within `timeoutMs`, then SIGKILL and a rejection; env defaults to {@link cleanEnv}. */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number },
): Promise<CommandResult> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Kills and reaps every process spawned here that is still running (for `after` hooks). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((p) => p.kill()));
}

/** `{ host, port }` of a "REST gateway listening" log line (TCP), or the socket path. */
export async function gatewayAddress(p: CliProcess, timeoutMs = 10_000): Promise<{ host: string; port: number }> {
  const line = await p.waitForLog((l) => l['msg'] === 'REST gateway listening', 'REST gateway listening', timeoutMs);
  return { host: String(line['host']), port: Number(line['port']) };
}

/** The pipe port of a server, from its "accepting pipes" log line. */
export async function pipePort(p: CliProcess, timeoutMs = 10_000): Promise<number> {
  const line = await p.waitForLog((l) => l['msg'] === 'accepting pipes', 'accepting pipes', timeoutMs);
  return Number(line['port']);
}

/** Resolves once a client has logged its pipe open. */
export function clientReady(p: CliProcess, timeoutMs = 10_000): Promise<LogLine> {
  return p.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('pipe open to server'), 'pipe open to server', timeoutMs);
}

/** Resolves once a server has logged that client `name` connected. */
export function clientConnected(p: CliProcess, name: string, timeoutMs = 10_000): Promise<LogLine> {
  return p.waitForLog((l) => l['msg'] === `client '${name}' connected`, `client '${name}' connected`, timeoutMs);
}

/** How many times the e2e handler `method` has started in process `p` (see test/fixtures/e2e-handlers.js). */
export function startedCount(p: CliProcess, method: string): number {
  return p.log.filter((l) => l['e2e'] === 'started' && l['method'] === method).length;
}

/** Resolves once the e2e handler `method` has started `count` times in all in process `p`. */
export function handlerStarted(p: CliProcess, method: string, count = 1, timeoutMs = 10_000): Promise<void> {
  return p
    .waitForLog(() => startedCount(p, method) >= count, `${count} × ${method} started`, timeoutMs)
    .then(() => undefined);
}

/** A fresh temporary directory and its remover. */
export async function tempDir(prefix = 'restpipe-e2e-'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Flags that make failures show fast in e2e tests (SPEC §3 names; seconds). */
export const FAST_FLAGS = [
  '--heartbeat-interval', '0.2',
  '--heartbeat-timeout', '1',
  '--connect-wait', '0.5',
  '--event-timeout', '1.5',
  '--grace', '5',
] as const;

export interface StartedServer {
  proc: CliProcess;
  pipePort: number;
  /** The gateway's TCP address, or undefined for a unix-socket or no gateway. */
  gateway: { host: string; port: number } | undefined;
}

/** `restpipe server --cert-dir DIR --listen 127.0.0.1:0 --http 127.0.0.1:0 ARGS…`, ready to accept pipes. */
export async function startServer(certDir: string, args: string[] = [], options: SpawnOptions = {}): Promise<StartedServer> {
  const http = args.includes('--http') || args.includes('--no-http') ? [] : ['--http', '127.0.0.1:0'];
  const proc = spawnCli(['server', '--cert-dir', certDir, '--listen', '127.0.0.1:0', ...http, ...args], { name: 'server', ...options });
  const port = await pipePort(proc);
  const tcpGateway = !args.includes('--no-http') && !args.some((a) => a.startsWith('unix:'));
  const gateway = tcpGateway ? await gatewayAddress(proc) : undefined;
  await startedUp(proc);
  return { proc, pipePort: port, gateway };
}

/** Resolves once the node has started completely (its last start-up line, "using cert dir …"). */
export function startedUp(p: CliProcess, timeoutMs = 10_000): Promise<LogLine> {
  return p.waitForLog((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('using cert dir'), 'start-up done', timeoutMs);
}

export interface StartedClient {
  proc: CliProcess;
  gateway: { host: string; port: number } | undefined;
}

/**
 * `restpipe client --cert-dir DIR --server localhost:PORT --http 127.0.0.1:0 ARGS…`; with
 * `ready` (default) it resolves once the pipe is open.
 */
export async function startClient(
  certDir: string,
  serverPort: number,
  args: string[] = [],
  options: SpawnOptions & { ready?: boolean } = {},
): Promise<StartedClient> {
  const http = args.includes('--http') || args.includes('--no-http') ? [] : ['--http', '127.0.0.1:0'];
  const proc = spawnCli(['client', '--cert-dir', certDir, '--server', `localhost:${serverPort}`, ...http, ...args], { name: 'client', ...options });
  let gateway: StartedClient['gateway'];
  if (!args.includes('--no-http') && !args.some((a) => a.startsWith('unix:'))) gateway = await gatewayAddress(proc);
  if (options.ready !== false) await clientReady(proc);
  return { proc, gateway };
}
