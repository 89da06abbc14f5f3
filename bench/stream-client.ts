// The HTTP client of the stream benchmarks: its own process, driven over IPC.
//   { type: 'download', url, bytes, streams }  `streams` GETs at once of `url` with
//       ?bytes=N (N = bytes / streams each), bodies counted and dropped
//   { type: 'upload', url, bytes, streams }    `streams` POSTs at once of N bytes each (a 64 KiB
//       buffer again and again, with backpressure), replies read
//   { type: 'small', url, ms }                 GETs one after another on one keep-alive
//       connection for `ms`, latency of each in µs
// Transfers answer { ok, failed, bytes, ms, statuses, rssKiB } (ms: first request to last byte).
import http from 'node:http';
import { Readable } from 'node:stream';
import { startChildAgent, type Message } from './lib/child.js';

const CHUNK = Buffer.alloc(64 * 1024, 0xa5);

export interface TransferResult {
  ok: number;
  failed: number;
  bytes: number;
  ms: number;
  statuses: Record<string, number>;
  errors: string[];
}

export interface SmallSeries {
  n: number;
  failed: number;
  latencyUs: { p50: number; p90: number; p99: number; max: number };
}

function generated(bytes: number): Readable {
  let left = bytes;
  return new Readable({
    highWaterMark: CHUNK.length,
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, CHUNK.length);
      left -= n;
      this.push(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n));
    },
  });
}

function transfer(kind: 'download' | 'upload', url: string, bytes: number, streams: number): Promise<TransferResult> {
  const agent = new http.Agent({ keepAlive: false, maxSockets: streams });
  const each = Math.floor(bytes / streams);
  const result: TransferResult = { ok: 0, failed: 0, bytes: 0, ms: 0, statuses: {}, errors: [] };
  const started = performance.now();
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const n = i === streams - 1 ? bytes - each * (streams - 1) : each;
      const target = kind === 'download' ? `${url}${url.includes('?') ? '&' : '?'}bytes=${n}` : url;
      const req = http.request(target, {
        method: kind === 'download' ? 'GET' : 'POST',
        agent,
        headers: kind === 'upload' ? { 'content-type': 'application/octet-stream', 'content-length': String(n), 'x-event-timeout': '600' } : { 'x-event-timeout': '600' },
      });
      const fail = (why: string): void => {
        result.failed++;
        if (result.errors.length < 5) result.errors.push(why);
        resolve();
      };
      req.on('error', (err) => fail(err.message));
      req.on('response', (res) => {
        const code = String(res.statusCode);
        result.statuses[code] = (result.statuses[code] ?? 0) + 1;
        let got = 0;
        res.on('data', (c: Buffer) => {
          got += c.length;
        });
        res.on('error', (err) => fail(`response: ${err.message}`));
        res.on('end', () => {
          if (kind === 'download') result.bytes += got;
          else result.bytes += n;
          if (res.statusCode === 200 && (kind === 'upload' || got === n)) result.ok++;
          else {
            fail(`status ${res.statusCode}, ${got} of ${n} bytes`);
            return;
          }
          resolve();
        });
      });
      if (kind === 'upload') generated(n).pipe(req);
      else req.end();
    });
  return Promise.all(Array.from({ length: streams }, (_, i) => one(i))).then(() => {
    result.ms = performance.now() - started;
    agent.destroy();
    return result;
  });
}

async function small(url: string, ms: number): Promise<SmallSeries> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const lat: number[] = [];
  let failed = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    const t0 = performance.now();
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode === 200));
        res.on('error', () => resolve(false));
      });
      req.on('error', () => resolve(false));
    });
    if (ok) lat.push((performance.now() - t0) * 1000);
    else failed++;
  }
  agent.destroy();
  lat.sort((a, b) => a - b);
  const q = (p: number): number => (lat.length === 0 ? NaN : lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!);
  return { n: lat.length, failed, latencyUs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1) } };
}

const agent = startChildAgent((msg: Message) => {
  if (msg.type === 'download' || msg.type === 'upload') return transfer(msg.type, String(msg.url), Number(msg.bytes), Number(msg.streams ?? 1));
  if (msg.type === 'small') return small(String(msg.url), Number(msg.ms));
  throw new Error(`unknown message ${msg.type}`);
});
agent.ready();
