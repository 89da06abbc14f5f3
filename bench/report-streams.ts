// The stream group's part of the report: its targets (issue 11) and its tables.
import { fmt, fmtSpread, spread, type Spread } from './lib/stats.js';
import type { FloorResult, RelayResult, StreamResult, StreamSizes } from './streams.js';
import type { VariantId } from './variants.js';

export interface StreamResults {
  sizes: StreamSizes;
  floor: (FloorResult | undefined)[];
  /** The bare relay, per round (absent from runs made before it existed). */
  relay?: (RelayResult | undefined)[];
  byVariant: Partial<Record<VariantId, (StreamResult | undefined)[]>>;
}

/** A target as run.ts lists them. */
export interface StreamTarget {
  name: string;
  measured: string;
  status: 'met' | 'NOT MET' | 'n/a';
}

/** The variants a stream round measures (socket.io cannot stream; a v1 baseline cannot carry 1 GiB). */
export const STREAM_VARIANTS: readonly VariantId[] = ['direct', 'http-proxy', 'restpipe-s2c', 'restpipe-c2s'];

const DIRS: [VariantId, string, 'c2s' | 's2c', 's2c' | 'c2s'][] = [
  // variant, label, the pipe direction the reply body (download) takes, and the request body (upload)
  ['restpipe-s2c', 'server→client', 'c2s', 's2c'],
  ['restpipe-c2s', 'client→server', 's2c', 'c2s'],
];

/** `f` of each round's `xs` and `others` (the floor, or the relay, of the same round), where both were measured. */
function perRound<T, U>(xs: (T | undefined)[] | undefined, others: (U | undefined)[], f: (x: T, other: U) => number): Spread {
  const out: number[] = [];
  for (let i = 0; i < (xs?.length ?? 0); i++) {
    const x = xs?.[i];
    const other = others[i];
    if (x !== undefined && other !== undefined) out.push(f(x, other));
  }
  return spread(out);
}

function defined<T>(xs: (T | undefined)[] | undefined): T[] {
  return (xs ?? []).filter((x): x is T => x !== undefined);
}

/** The stream targets, judged on the medians over rounds. */
export function streamTargets(res: StreamResults): StreamTarget[] {
  const t: StreamTarget[] = [];
  const judge = (name: string, s: Spread, ok: (m: number) => boolean, unit: string, digits: number): void => {
    if (s.n === 0) t.push({ name, measured: 'not measured', status: 'n/a' });
    else t.push({ name, measured: `${fmtSpread(s, digits)}${unit}`, status: ok(s.median) ? 'met' : 'NOT MET' });
  };
  const size = sizeLabel(res.sizes.bytes);
  for (const [id, label, downDir, upDir] of DIRS) {
    const xs = res.byVariant[id];
    judge(`one ${size} stream down (GET), restpipe ${label}: MiB/s ≥ 0.5× the TLS floor (same direction, same round)`, perRound(xs, res.floor, (x, fl) => x.down.mibps / fl[downDir].mibps), (m) => m >= 0.5, '×', 2);
    judge(`one ${size} stream up (POST), restpipe ${label}: MiB/s ≥ 0.5× the TLS floor (same direction, same round)`, perRound(xs, res.floor, (x, fl) => x.up.mibps / fl[upDir].mibps), (m) => m >= 0.5, '×', 2);
  }
  for (const [id, label] of DIRS) {
    const xs = defined(res.byVariant[id]);
    judge(`small events during a bulk stream, restpipe ${label}: p99 ≤ 20 ms`, spread(xs.map((x) => x.smallDuringBulk.latencyUs.p99 / 1000)), (m) => m <= 20, ' ms', 2);
    judge(`small events during a bulk stream, restpipe ${label}: p99 ≤ 5× the idle p99`, spread(xs.map((x) => x.smallDuringBulk.latencyUs.p99 / x.smallIdle.latencyUs.p99)), (m) => m <= 5, '×', 2);
  }
  const rssSize = sizeLabel(res.sizes.rssBytes);
  for (const [id, label] of DIRS) {
    const xs = defined(res.byVariant[id]);
    const peak = spread(xs.map((x) => Math.max(...x.rss.map((r) => r.afterUpKiB)) / 1024));
    judge(`peak RSS per node for ${rssSize} down and ${rssSize} up, restpipe ${label}: < 200 MiB`, peak, (m) => m < 200, ' MiB', 0);
  }
  return t;
}

/** The stream group's section of BENCHMARKS.md. */
export function renderStreams(res: StreamResults, label: (id: VariantId) => string, variants: readonly VariantId[]): string[] {
  const L: string[] = [];
  const p = (s = ''): void => {
    L.push(s);
  };
  const table = (head: string[], rows: string[][]): void => {
    p(`| ${head.join(' | ')} |`);
    p(`|${head.map((_, i) => (i === 0 ? ':--' : '--:')).join('|')}|`);
    for (const r of rows) p(`| ${r.join(' | ')} |`);
    p();
  };
  const f = (vals: number[], digits = 0): string => fmtSpread(spread(vals), digits);
  const size = sizeLabel(res.sizes.bytes);
  p('## 5. Streams: bodies of any size');
  p();
  p(`One ${size} body each way through the gateway (a GET of a streamed reply, a POST of a streamed request), 16 GETs at once (${size} in all), ` +
    'and the small event one request after another on one connection, idle and then while a bulk download runs on the same pipe. The HTTP ' +
    'client is its own process (bench/stream-client.ts; Node http, bodies counted and dropped). The **floor** is a plain mutual-TLS socket ' +
    `between two Node processes copying ${size} each way (bench/variants/tls-floor.ts), measured in the same round. MiB/s is from the first ` +
    'request to the last byte. Processes are not pinned.');
  p();
  table(
    ['floor (plain TLS socket)', 'client→server MiB/s', 'server→client MiB/s'],
    [['two Node processes, mutual TLS', f(defined(res.floor).map((x) => x.c2s.mibps)), f(defined(res.floor).map((x) => x.s2c.mibps))]],
  );
  const relays = res.relay ?? [];
  const relayRatio = (dir: 'down' | 'up'): Spread =>
    perRound(relays, res.floor, (x, fl) => x[dir].mibps / fl[dir === 'down' ? 's2c' : 'c2s'].mibps);
  const shown = STREAM_VARIANTS.filter((id) => variants.includes(id) && res.byVariant[id] !== undefined);
  if (defined(relays).length > 0) {
    p('The **bare relay** (bench/variants/tls-relay.ts) is the shape of a gateway with nothing of restpipe in it: node:http in front of one ' +
      'mutual-TLS socket per request to another Node process, the same HTTP client and bodies, in the same round. What it reaches is what ' +
      'any Node gateway of that shape can reach here: the ceiling restpipe is read against (the floor has no HTTP hop at all).');
    p();
    table(
      ['bare relay (node:http → TLS → Node)', 'down MiB/s', 'up MiB/s', 'down × floor', 'up × floor'],
      [['same HTTP client as the variants', f(defined(relays).map((x) => x.down.mibps)), f(defined(relays).map((x) => x.up.mibps)), `${fmtSpread(relayRatio('down'), 2)}×`, `${fmtSpread(relayRatio('up'), 2)}×`]],
    );
    const againstRelay = (id: VariantId, dir: 'down' | 'up'): Spread => perRound(res.byVariant[id], relays, (x, rl) => x[dir].mibps / rl[dir].mibps);
    table(
      ['variant', 'down × bare relay (same round)', 'up × bare relay (same round)'],
      shown.map((id) => [label(id), `${fmtSpread(againstRelay(id, 'down'), 2)}×`, `${fmtSpread(againstRelay(id, 'up'), 2)}×`]),
    );
  }
  table(
    ['variant', `down MiB/s (1 × ${size})`, 'up MiB/s', `16 streams down MiB/s`, 'small p50 / p99 ms idle', 'small p50 / p99 ms during bulk', 'small events during bulk (failed)'],
    shown.map((id) => {
      const xs = defined(res.byVariant[id]);
      return [
        label(id),
        f(xs.map((x) => x.down.mibps)),
        f(xs.map((x) => x.up.mibps)),
        f(xs.map((x) => x.down16.mibps)),
        `${f(xs.map((x) => x.smallIdle.latencyUs.p50 / 1000), 2)} / ${f(xs.map((x) => x.smallIdle.latencyUs.p99 / 1000), 2)}`,
        `${f(xs.map((x) => x.smallDuringBulk.latencyUs.p50 / 1000), 2)} / ${f(xs.map((x) => x.smallDuringBulk.latencyUs.p99 / 1000), 2)}`,
        `${f(xs.map((x) => x.smallDuringBulk.n))} (${f(xs.map((x) => x.smallDuringBulk.failed))})`,
      ];
    }),
  );
  const rssSize = sizeLabel(res.sizes.rssBytes);
  p(`Peak RSS (VmHWM) per process, fresh processes: after one ${rssSize} download, and after one ${rssSize} upload on top of it (MiB).`);
  p();
  table(
    ['variant', 'process', `after ${rssSize} down`, `after ${rssSize} up`, 'down MiB/s', 'up MiB/s'],
    shown.flatMap((id) => {
      const xs = defined(res.byVariant[id]);
      const labels = xs[0]?.rss.map((r) => r.label) ?? [];
      return labels.map((l, i) => [
        label(id),
        l,
        f(xs.map((x) => (x.rss[i]?.afterDownKiB ?? NaN) / 1024)),
        f(xs.map((x) => (x.rss[i]?.afterUpKiB ?? NaN) / 1024)),
        f(xs.map((x) => x.rssTransfers.down.mibps)),
        f(xs.map((x) => x.rssTransfers.up.mibps)),
      ]);
    }),
  );
  return L;
}

function sizeLabel(bytes: number): string {
  if (bytes >= 2 ** 30 && bytes % 2 ** 30 === 0) return `${bytes / 2 ** 30} GiB`;
  if (bytes >= 2 ** 20) return `${fmt(bytes / 2 ** 20)} MiB`;
  return `${fmt(bytes / 1024)} KiB`;
}
