// The load generator: its own process, driven by the orchestrator over IPC. It runs autocannon
// (programmatic API, one thread) against one URL and records every response's latency itself,
// as a float in ms from process.hrtime (autocannon's own histogram rounds to whole ms).
//
// A run is one autocannon session of warmup + measurement with the same connections kept open;
// at the start and the end of the measurement window it sends a `mark` so the orchestrator can
// read the CPU time of the processes under test at those instants.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import { startChildAgent, type Message } from './lib/child.js';

const require = createRequire(import.meta.url);
// autocannon appends every response body to a JS string (`req.body += data` in
// PipelinedRequestsQueue.addBody): a UTF-8 decode of each chunk that caps binary throughput and
// that nothing here reads (no verifyBody, no expectBody, no onResponse). Turn it off.
(require('autocannon/lib/pipelinedRequestsQueue.js') as { prototype: { addBody: (d: unknown) => void } }).prototype.addBody = function addBody() {};

export interface LoadJob {
  url: string;
  method: 'GET' | 'POST';
  headers?: Record<string, string>;
  /** Random request body of this many bytes (0: none). */
  bodyBytes: number;
  connections: number;
  warmupMs: number;
  measureMs: number;
}

export interface LoadResult {
  /** Measurement window, ms (from the LG's clock). */
  windowMs: number;
  /** 2xx responses in the window. */
  ok: number;
  non2xx: number;
  errors: number;
  /** Response bytes (headers + body) received in the window. */
  responseBytes: number;
  rps: number;
  /** Latency of 2xx responses in the window, µs. */
  latencyUs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number; min: number };
  statusCodes: Record<string, number>;
}

class Samples {
  #a = new Float64Array(1 << 16);
  n = 0;
  push(v: number): void {
    if (this.n === this.#a.length) {
      const b = new Float64Array(this.#a.length * 2);
      b.set(this.#a);
      this.#a = b;
    }
    this.#a[this.n++] = v;
  }
  summary(): LoadResult['latencyUs'] {
    const s = this.#a.subarray(0, this.n).sort();
    const q = (p: number): number => (s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))]! * 1000);
    let sum = 0;
    for (const v of s) sum += v;
    return { p50: q(0.5), p90: q(0.9), p99: q(0.99), p999: q(0.999), max: q(1), min: q(0), mean: (sum / Math.max(1, s.length)) * 1000 };
  }
}

function run(job: LoadJob, agent: ReturnType<typeof startChildAgent>): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const body = job.bodyBytes > 0 ? randomBytes(job.bodyBytes) : undefined;
    const samples = new Samples();
    const statusCodes: Record<string, number> = {};
    let measuring = false;
    let ok = 0;
    let non2xx = 0;
    let errors = 0;
    let responseBytes = 0;
    let t0 = 0;
    let t1 = 0;
    const headers: Record<string, string> = { ...(job.headers ?? {}) };
    if (body !== undefined) headers['content-type'] ??= 'application/octet-stream';
    const instance = autocannon(
      {
        url: job.url,
        method: job.method,
        headers,
        ...(body === undefined ? {} : { body }),
        connections: job.connections,
        pipelining: 1,
        // Stopped by the timers below; the duration is only a backstop.
        duration: (job.warmupMs + job.measureMs) / 1000 + 60,
        timeout: 60,
      },
      (err) => {
        if (err) {
          reject(err);
          return;
        }
        const windowMs = t1 - t0;
        resolve({
          windowMs,
          ok,
          non2xx,
          errors,
          responseBytes,
          rps: (ok / windowMs) * 1000,
          latencyUs: samples.summary(),
          statusCodes,
        });
      },
    );
    instance.on('response', (_client: unknown, statusCode: number, resBytes: number, responseTimeMs: number) => {
      if (!measuring) return;
      statusCodes[statusCode] = (statusCodes[statusCode] ?? 0) + 1;
      responseBytes += resBytes;
      if (statusCode >= 200 && statusCode < 300) {
        ok++;
        samples.push(responseTimeMs);
      } else {
        non2xx++;
      }
    });
    instance.on('reqError', () => {
      if (measuring) errors++;
    });
    setTimeout(() => {
      measuring = true;
      t0 = performance.now();
      agent.send({ type: 'mark', n: 0 });
      setTimeout(() => {
        measuring = false;
        t1 = performance.now();
        agent.send({ type: 'mark', n: 1 });
        instance.stop();
      }, job.measureMs);
    }, job.warmupMs);
  });
}

const agent = startChildAgent((msg: Message) => {
  if (msg.type === 'run') return run(msg.job as LoadJob, agent);
  throw new Error(`unknown message ${msg.type}`);
});
agent.ready();
