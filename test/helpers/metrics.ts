// Reading what the metrics say: one series of a Prometheus text, and a real UDP listener that
// collects statsd lines and waits (bounded, on arriving datagrams) for the expected ones.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { once } from 'node:events';

/** The value of `series` (name and labels, exactly as exposed) in a Prometheus text; NaN when absent. */
export function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

/** A statsd server stand-in on 127.0.0.1:0: every line received, in order. */
export class StatsdListener {
  readonly lines: string[] = [];
  readonly #socket = dgram.createSocket('udp4');

  private constructor() {
    this.#socket.on('message', (msg) => this.lines.push(...msg.toString().split('\n').filter(Boolean)));
  }

  static async start(): Promise<StatsdListener> {
    const listener = new StatsdListener();
    listener.#socket.bind(0, '127.0.0.1');
    await once(listener.#socket, 'listening');
    return listener;
  }

  get port(): number {
    return this.#socket.address().port;
  }

  /** Waits until every pattern has matched some line; fails naming the missing ones. */
  async received(patterns: RegExp[], timeoutMs = 5_000): Promise<void> {
    const deadline = AbortSignal.timeout(timeoutMs);
    for (;;) {
      const missing = patterns.filter((p) => !this.lines.some((l) => p.test(l)));
      if (missing.length === 0) return;
      try {
        await once(this.#socket, 'message', { signal: deadline });
      } catch {
        assert.fail(`statsd lines missing: ${missing.join(', ')}; got ${JSON.stringify(this.lines)}`);
      }
    }
  }

  close(): void {
    this.#socket.close();
  }
}
