// The orchestrator side of the process plumbing: start a child with an IPC channel, wait for
// its `ready`, read its CPU time and memory from /proc, ask it things, stop it.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Message } from './child.js';

/** Linux USER_HZ: /proc/<pid>/stat counts CPU time in ticks of 10 ms. */
const TICK_US = 10_000;

export interface SpawnOptions {
  /** Flags for node itself (`--cpu-prof`, `--expose-gc`, …). */
  nodeFlags?: string[];
  /** Raise the soft open-files limit to this before exec'ing node (via `sh -c 'ulimit -n N'`). */
  nofile?: number;
  env?: NodeJS.ProcessEnv;
  /** How long to wait for `ready`. @default 60000 */
  readyTimeoutMs?: number;
  /** A short label for logs and errors. */
  label: string;
}

export class Child {
  readonly label: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  info: Record<string, unknown> = {};
  #nextId = 1;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  readonly #listeners = new Set<(msg: Message) => void>();
  #output = '';
  #exited = false;
  readonly exited: Promise<number | null>;

  private constructor(label: string, proc: ChildProcess) {
    this.label = label;
    this.proc = proc;
    this.pid = proc.pid!;
    const keep = (chunk: Buffer): void => {
      this.#output += chunk.toString();
      if (this.#output.length > 64_000) this.#output = this.#output.slice(-32_000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.exited = new Promise((resolve) =>
      proc.once('exit', (code, signal) => {
        this.#exited = true;
        for (const p of this.#pending.values()) p.reject(new Error(`${label} exited (${code ?? signal}) ${this.output()}`));
        this.#pending.clear();
        resolve(code);
      }),
    );
    proc.on('message', (raw) => {
      const msg = raw as Message;
      if (msg.type === 'reply' && msg.id !== undefined) {
        const p = this.#pending.get(msg.id);
        this.#pending.delete(msg.id);
        if (msg.error !== undefined) p?.reject(new Error(`${label}: ${String(msg.error)}`));
        else p?.resolve(msg.value);
        return;
      }
      for (const l of this.#listeners) l(msg);
    });
    proc.on('error', () => {});
  }

  static async start(script: string, args: string[], o: SpawnOptions): Promise<Child> {
    const nodeArgs = [...(o.nodeFlags ?? []), script, ...args];
    const stdio: ['ignore', 'pipe', 'pipe', 'ipc'] = ['ignore', 'pipe', 'pipe', 'ipc'];
    const env = { ...process.env, ...o.env };
    const proc =
      o.nofile === undefined
        ? spawn(process.execPath, nodeArgs, { stdio, env })
        : // `exec` keeps the pid, so /proc readings and signals reach node itself.
          spawn('/bin/sh', ['-c', `ulimit -n ${o.nofile} && exec "$0" "$@"`, process.execPath, ...nodeArgs], { stdio, env });
    const child = new Child(o.label, proc);
    const ready = await Promise.race([
      child.waitFor((m) => m.type === 'ready', o.readyTimeoutMs ?? 60_000),
      child.exited.then((code) => {
        throw new Error(`${o.label} exited (${code}) before it was ready:\n${child.output()}`);
      }),
    ]);
    child.info = ready;
    return child;
  }

  output(): string {
    return this.#output.trim();
  }

  get alive(): boolean {
    return !this.#exited;
  }

  send(msg: Message): void {
    if (!this.#exited && this.proc.connected) this.proc.send(msg);
  }

  /** Sends a message with an id and resolves with the child's answer. */
  request<T = unknown>(msg: Message, timeoutMs = 120_000): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.#exited) {
        reject(new Error(`${this.label} has exited`));
        return;
      }
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`${this.label}: no answer to ${msg.type} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.proc.send({ ...msg, id });
    });
  }

  on(listener: (msg: Message) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  waitFor(pred: (msg: Message) => boolean, timeoutMs: number): Promise<Message> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for a message\n${this.output()}`));
      }, timeoutMs);
      const off = this.on((m) => {
        if (!pred(m)) return;
        clearTimeout(timer);
        off();
        resolve(m);
      });
    });
  }

  /** CPU time (user + system, all threads) so far, µs, from /proc (10 ms ticks). */
  cpuUs(): number {
    return readCpuUs(this.pid);
  }

  /** Resident set and its peak (VmHWM), KiB, from /proc. */
  memKiB(): { rss: number; hwm: number } {
    return readMemKiB(this.pid);
  }

  /** Asks the child to exit (so profiles get written); SIGKILL after `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.#exited) return;
    this.send({ type: 'exit' });
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.#exited) this.proc.kill(signal);
  }
}

export function readCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime is field 14, stime field 15.
  return (Number(rest[11]) + Number(rest[12])) * TICK_US;
}

export function readMemKiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** The soft and hard open-files limits of this process. */
export function openFilesLimit(): { soft: number; hard: number } {
  const limits = readFileSync('/proc/self/limits', 'utf8');
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limits);
  const n = (s: string | undefined): number => (s === undefined || s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/** Machine-wide CPU time so far, µs: busy (user + nice + system) and steal, from /proc/stat. */
export function readSystemCpuUs(): { busyUs: number; stealUs: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  return { busyUs: (v[0]! + v[1]! + v[2]!) * TICK_US, stealUs: (v[7] ?? 0) * TICK_US };
}

/**
 * Waits until the machine is quiet: no more than `maxCores` busy over a `sampleMs` window
 * (this orchestrator's own CPU excluded), for at most `maxWaitMs`. Other people's builds and
 * tests share this machine. Resolves with how long it waited and the last busy reading.
 */
export async function waitForQuiet(maxCores = 0.15, sampleMs = 500, maxWaitMs = 60_000): Promise<{ waitedMs: number; busyCores: number }> {
  const started = performance.now();
  for (;;) {
    const s0 = readSystemCpuUs().busyUs;
    const me0 = process.cpuUsage();
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, sampleMs));
    const me = process.cpuUsage(me0);
    const busyCores = (readSystemCpuUs().busyUs - s0 - me.user - me.system) / ((performance.now() - t0) * 1000);
    const waitedMs = performance.now() - started;
    if (busyCores <= maxCores || waitedMs >= maxWaitMs) return { waitedMs, busyCores };
  }
}

/**
 * The kernel's TCP counters of SYNs dropped because a listening socket's accept queue was full
 * (`ListenOverflows`) and of SYNs the dialing side had to send again (`TCPSynRetrans`), from
 * /proc/net/netstat. They count for the whole network namespace, so other programs on the
 * machine add to them: read them around a short window.
 */
export function readListenCounters(): { listenOverflows: number; synRetrans: number } {
  const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n').filter((l) => l.startsWith('TcpExt:'));
  const names = lines[0]?.split(/\s+/) ?? [];
  const values = lines[1]?.split(/\s+/) ?? [];
  const get = (name: string): number => Number(values[names.indexOf(name)] ?? NaN);
  return { listenOverflows: get('ListenOverflows'), synRetrans: get('TCPSynRetrans') };
}
