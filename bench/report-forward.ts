// The forward group's part of the report: its targets (issue 12) and its table.
import { FORWARD_DOWNLOAD_BYTES, FORWARD_GROUP_VARIANTS, type ForwardResult } from './forward.js';
import { fmtSpread, spread, type Spread } from './lib/stats.js';
import type { VariantId } from './variants.js';

export type ForwardResults = Partial<Record<VariantId, (ForwardResult | undefined)[]>>;

/** A target as run.ts lists them. */
export interface ForwardTarget {
  name: string;
  measured: string;
  status: 'met' | 'NOT MET' | 'n/a';
}

const DIRS: [VariantId, string][] = [
  ['restpipe-fwd-s2c', 'server→client'],
  ['restpipe-fwd-c2s', 'client→server'],
];

/** Per-round ratios a/b (both measured in the same round), as a spread. */
function ratios(a: (ForwardResult | undefined)[] | undefined, b: (ForwardResult | undefined)[] | undefined, f: (x: ForwardResult) => number): Spread {
  const out: number[] = [];
  for (let i = 0; i < Math.max(a?.length ?? 0, b?.length ?? 0); i++) {
    const x = a?.[i];
    const y = b?.[i];
    if (x !== undefined && y !== undefined) out.push(f(x) / f(y));
  }
  return spread(out);
}

const rps = (x: ForwardResult): number => x.small.load.rps;
const mibps = (x: ForwardResult): number => x.downloadMibps;

/** The targets: ≥ 0.5× direct for the small GET at 64 connections, ≥ 0.45× for 1 MiB. */
export function forwardTargets(res: ForwardResults): ForwardTarget[] {
  const t: ForwardTarget[] = [];
  const judge = (name: string, s: Spread, ok: (m: number) => boolean): void => {
    if (s.n === 0) t.push({ name, measured: 'not measured', status: 'n/a' });
    else t.push({ name, measured: `${fmtSpread(s, 2)}×`, status: ok(s.median) ? 'met' : 'NOT MET' });
  };
  for (const [id, dir] of DIRS) {
    if (res[id] === undefined) continue;
    judge(`forwarded small GET, 64 conns, ${dir}: req/s ≥ 0.5× direct`, ratios(res[id], res.direct, rps), (m) => m >= 0.5);
    judge(`forwarded 1 MiB GET, 8 conns, ${dir}: MiB/s ≥ 0.45× direct`, ratios(res[id], res.direct, mibps), (m) => m >= 0.45);
  }
  return t;
}

/** The forward group's section of BENCHMARKS.md. */
export function renderForward(res: ForwardResults, label: (id: VariantId) => string): string[] {
  const L: string[] = [];
  const p = (s = ''): void => {
    L.push(s);
  };
  const defined = (xs: (ForwardResult | undefined)[] | undefined): ForwardResult[] => (xs ?? []).filter((x): x is ForwardResult => x !== undefined);
  const f = (vals: number[], digits = 0): string => fmtSpread(spread(vals), digits);
  const vs = (id: VariantId, base: VariantId, g: (x: ForwardResult) => number): string => (id === base ? '1' : fmtSpread(ratios(res[id], res[base], g), 2));
  p('## Forwarding to a local HTTP service (`--forward`)');
  p();
  p('The same node:http service (bench/variants/http-server.ts) answering a small JSON GET and a GET of a ' +
    `${FORWARD_DOWNLOAD_BYTES / 2 ** 20} MiB body: asked directly, through a keep-alive reverse proxy (http-proxy), and through a restpipe ` +
    'gateway, the pipe and `--forward up=http://127.0.0.1:PORT/` on the far node. Cross-core layout (the gateway or proxy alone on CPU 1; ' +
    'the load generator, the far node and the service on CPU 0); small GET at 64 connections, the download at 8; fresh processes per variant. ' +
    'Ratios are per round against direct and http-proxy of the same round.');
  p();
  const head = ['variant', 'small req/s @64', '× direct', '× http-proxy', 'p50 / p99 ms @64', 'CPU µs/req', `${FORWARD_DOWNLOAD_BYTES / 2 ** 20} MiB GET MiB/s @8`, '× direct', '× http-proxy', 'errors / non-2xx'];
  p(`| ${head.join(' | ')} |`);
  p(`|${head.map((_, i) => (i === 0 ? ':--' : '--:')).join('|')}|`);
  for (const id of FORWARD_GROUP_VARIANTS) {
    const xs = defined(res[id]);
    if (xs.length === 0) continue;
    const row = [
      label(id),
      f(xs.map(rps)),
      vs(id, 'direct', rps),
      vs(id, 'http-proxy', rps),
      `${f(xs.map((x) => x.small.load.latencyUs.p50 / 1000), 2)} / ${f(xs.map((x) => x.small.load.latencyUs.p99 / 1000), 2)}`,
      f(xs.map((x) => x.small.cpuPerReqUs), 1),
      f(xs.map(mibps), 1),
      vs(id, 'direct', mibps),
      vs(id, 'http-proxy', mibps),
      f(xs.map((x) => x.small.load.errors + x.small.load.non2xx + x.download.load.errors + x.download.load.non2xx)),
    ];
    p(`| ${row.join(' | ')} |`);
  }
  p();
  return L;
}
