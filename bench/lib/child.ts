// The child side of the benchmark's process plumbing. Every process the orchestrator starts
// (variants, load generators) runs this: it answers `usage` (CPU and memory, from the process
// itself), `gc`, and `exit` over the IPC channel, and exits when the orchestrator goes away.
// An `exit` message ends the process with process.exit(0), so `node --cpu-prof` writes its profile.
// `profile-start` / `profile-stop` (with a `path`) take a CPU profile of a window through
// node:inspector, for a measurement that should not show the process's start-up.
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';

export type Message = { type: string; id?: number; [key: string]: unknown };

export interface ChildAgent {
  /** Tells the orchestrator the process is ready, with whatever it needs to know (ports, names). */
  ready(info?: Record<string, unknown>): void;
  send(msg: Message): void;
}

/**
 * Starts the agent. `onMessage` gets every message the agent does not handle itself; it may
 * return a value (or a promise of one) to answer a message that carries an `id`.
 */
export function startChildAgent(onMessage?: (msg: Message) => unknown, beforeExit?: () => Promise<void> | void): ChildAgent {
  const send = (msg: Message): void => {
    if (process.connected) process.send!(msg);
  };
  process.on('disconnect', () => process.exit(0));
  let profiler: Session | undefined;
  process.on('message', (raw) => {
    const msg = raw as Message;
    const answer = (value: unknown): void => {
      if (msg.id !== undefined) send({ type: 'reply', id: msg.id, value });
    };
    switch (msg.type) {
      case 'usage': {
        const cpu = process.cpuUsage();
        const mem = process.memoryUsage();
        answer({ cpuUs: cpu.user + cpu.system, rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, arrayBuffers: mem.arrayBuffers });
        return;
      }
      case 'gc': {
        const gc = (globalThis as { gc?: () => void }).gc;
        if (gc !== undefined) {
          gc();
          gc();
        }
        answer(gc !== undefined);
        return;
      }
      case 'profile-start': {
        const session = new Session();
        profiler = session;
        session.connect();
        void session
          .post('Profiler.enable')
          .then(() => session.post('Profiler.setSamplingInterval', { interval: Number(msg.intervalUs ?? 250) }))
          .then(() => session.post('Profiler.start'))
          .then(
            () => answer(true),
            () => answer(false),
          );
        return;
      }
      case 'profile-stop': {
        const session = profiler;
        profiler = undefined;
        if (session === undefined) return answer(false);
        void session
          .post('Profiler.stop')
          .then(({ profile }) => writeFileSync(String(msg.path), JSON.stringify(profile)))
          .then(
            () => answer(true),
            () => answer(false),
          )
          .finally(() => session.disconnect());
        return;
      }
      case 'exit':
        void Promise.resolve(beforeExit?.()).finally(() => process.exit(0));
        return;
      default: {
        if (onMessage === undefined) return;
        Promise.resolve()
          .then(() => onMessage(msg))
          .then(answer, (err: unknown) => {
            if (msg.id !== undefined) send({ type: 'reply', id: msg.id, error: err instanceof Error ? err.stack ?? err.message : String(err) });
          });
      }
    }
  });
  return {
    ready(info = {}) {
      send({ type: 'ready', ...info });
    },
    send,
  };
}

/** `--name value` arguments of a child, as strings. */
export function parseArgs(argv: string[] = process.argv.slice(2)): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) continue;
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) out[a.slice(2)] = 'true';
    else {
      out[a.slice(2)] = next;
      i++;
    }
  }
  return out;
}

export function required(args: Record<string, string>, name: string): string {
  const v = args[name];
  if (v === undefined) throw new Error(`missing --${name}`);
  return v;
}
