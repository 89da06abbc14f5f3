// Child processes for the pipe tests: spawn a compiled fixture (or any node program), wait for a
// line it prints, signal it by pid, and always reap it. `stopAll()` in an `after` hook kills
// (SIGCONT first for a stopped one, then SIGKILL) every child still running and waits for its exit.
// (The CLI end-to-end tests have their own helper, cli-processes.ts.)
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The compiled fixture `name` (e.g. 'server-process'): dist/test/fixtures/NAME.js. */
export function fixturePath(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}.js`, import.meta.url));
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Child {
  readonly pid: number;
  readonly process: ChildProcess;
  /** Every stdout line so far. */
  readonly lines: string[];
  /** Every stderr line so far. */
  readonly errLines: string[];
  /** Resolves on exit (never rejects). */
  readonly exited: Promise<ExitInfo>;
  readonly hasExited: boolean;
  /**
   * The first stdout line matching `re` after the lines consumed by earlier waitForLine calls
   * (or from index `from` when given), within `timeoutMs`; rejects early if the process exits.
   */
  waitForLine(re: RegExp, timeoutMs?: number, from?: number): Promise<RegExpMatchArray>;
  /** Sends a signal by pid (nothing once it has exited). */
  signal(sig: NodeJS.Signals): void;
  /** SIGCONT then SIGKILL, and waits for the exit. */
  kill(): Promise<void>;
}

const children = new Set<Child>();

/** Starts `node script ...args`; stdout/stderr are captured line by line. */
export function startNode(script: string, args: string[] = [], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, [script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (proc.pid === undefined) throw new Error(`could not start ${script}`);
  const pid = proc.pid;
  const lines: string[] = [];
  const errLines: string[] = [];
  const lineWaiters = new Set<() => void>();
  let consumed = 0;
  let hasExited = false;
  const split = (stream: NodeJS.ReadableStream, into: string[]): void => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        into.push(buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      for (const w of [...lineWaiters]) w();
    });
  };
  split(proc.stdout!, lines);
  split(proc.stderr!, errLines);
  let child!: Child;
  const exited = new Promise<ExitInfo>((resolve) => {
    proc.once('exit', (code, signal) => {
      hasExited = true;
      children.delete(child);
      resolve({ code, signal });
    });
  });
  // Line waiters judge "exited without printing it" only once stdout is fully read.
  let outputClosed = false;
  proc.once('close', () => {
    outputClosed = true;
    for (const w of [...lineWaiters]) w();
  });
  const describe = (): string => `stdout: ${lines.join(' | ')}; stderr: ${errLines.slice(-20).join(' | ')}`;

  child = {
    pid,
    process: proc,
    lines,
    errLines,
    exited,
    get hasExited() {
      return hasExited;
    },
    waitForLine(re, timeoutMs = 10_000, from) {
      const start = from ?? consumed;
      return new Promise((resolve, reject) => {
        const check = (): void => {
          for (let i = start; i < lines.length; i++) {
            const m = lines[i]!.match(re);
            if (m !== null) {
              if (from === undefined) consumed = i + 1;
              finish();
              resolve(m);
              return;
            }
          }
          if (outputClosed) {
            finish();
            reject(new Error(`process ${pid} exited before printing ${re}; ${describe()}`));
          }
        };
        const timer = setTimeout(() => {
          finish();
          reject(new Error(`no line matching ${re} from process ${pid} within ${timeoutMs} ms; ${describe()}`));
        }, timeoutMs);
        const finish = (): void => {
          clearTimeout(timer);
          lineWaiters.delete(check);
        };
        lineWaiters.add(check);
        check();
      });
    },
    signal(sig) {
      if (!hasExited) process.kill(pid, sig);
    },
    async kill() {
      if (!hasExited) {
        try {
          process.kill(pid, 'SIGCONT');
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      await exited;
    },
  };
  children.add(child);
  return child;
}

/** Kills and reaps every child started by this module that is still running. */
export async function stopAll(): Promise<void> {
  await Promise.all([...children].map((c) => c.kill()));
}
