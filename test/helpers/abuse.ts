// Helpers for the gateway abuse tests (test/faults/gateway-*.test.ts): a process's memory as
// the kernel sees it, the descriptor limit, and raw HTTP exchanges light enough to hold
// thousands at once (node:http's client would also normalise what these tests must send as is).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

/** Resident memory of a process, in MiB: now (VmRSS) and its peak since it started (VmHWM). */
export interface ProcessMemory {
  rssMiB: number;
  peakMiB: number;
}

/** Reads /proc/PID/status; undefined where there is no procfs (the tests then skip the memory bound). */
export function processMemory(pid: number): ProcessMemory | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return undefined;
  }
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024 };
}

/** The soft limit on open files of processes started from here (`ulimit -n`); 1024 if unknown. */
export function openFilesLimit(): number {
  try {
    const out = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return out === 'unlimited' ? 1_048_576 : Number(out) || 1024;
  } catch {
    return 1024;
  }
}

/** What one raw exchange got back. */
export interface RawExchange {
  /** Everything received, latin1. */
  text: string;
  /** HTTP status of the first response, 0 when none arrived. */
  status: number;
  /** How many status lines arrived (a response answered twice would show 2). */
  responses: number;
  /** The body after the first blank line. */
  body: string;
  /** 'end' (the server closed), 'error' (reset), 'timeout' (the bound ran out and we closed). */
  ended: 'end' | 'error' | 'timeout';
}

/**
 * Opens a connection, writes `request` verbatim and collects everything until the server
 * closes (send `Connection: close`), a reset, or the bound. Never rejects.
 */
export function rawExchange(port: number, request: string | Buffer, timeoutMs = 30_000): Promise<RawExchange> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (ended: RawExchange['ended']): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(parseExchange(Buffer.concat(chunks).toString('latin1'), ended));
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => finish('end'));
    socket.on('close', () => finish('end'));
    socket.on('error', () => finish('error'));
    socket.on('connect', () => socket.write(request));
  });
}

export function parseExchange(text: string, ended: RawExchange['ended']): RawExchange {
  const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
  const blank = text.indexOf('\r\n\r\n');
  return {
    text,
    status: m === null ? 0 : Number(m[1]),
    responses: text.match(/(?:^|\r\n)HTTP\/1\.1 \d{3} /g)?.length ?? 0,
    body: blank === -1 ? '' : text.slice(blank + 4),
    ended,
  };
}

/** A GET request for a raw socket, closing the connection after the response. */
export function rawGet(path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${extra}\r\n`;
}

/** Runs `fn` over `items` with at most `limit` at once; results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}
