// Reads a V8 .cpuprofile (node --cpu-prof) and ranks functions by self time, with compiled
// dist/*.js positions mapped back to src/*.ts through the build's source maps.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionCost {
  functionName: string;
  /** `src/pipe/session.ts:412` (source-mapped), `node:internal/…:line`, a package path, or `(native)`. */
  location: string;
  category: string;
  ms: number;
  /** Share of the process's busy time (everything but `(idle)`). */
  pctBusy: number;
  /** For self-time entries: the nearest restpipe (src/) function up the stack, by share of this entry's time. */
  callers?: { location: string; functionName: string; pct: number }[];
}

export interface ProfileSummary {
  label: string;
  file: string;
  wallMs: number;
  busyMs: number;
  categories: { category: string; ms: number; pctBusy: number }[];
  topSelf: FunctionCost[];
  /** restpipe's own functions by inclusive time (self + what they call). */
  topRestpipeInclusive: FunctionCost[];
}

const maps = new Map<string, SourceMap | null>();

function sourceMapFor(jsPath: string): SourceMap | null {
  let m = maps.get(jsPath);
  if (m === undefined) {
    const mapPath = `${jsPath}.map`;
    m = existsSync(mapPath) ? new SourceMap(JSON.parse(readFileSync(mapPath, 'utf8'))) : null;
    maps.set(jsPath, m);
  }
  return m;
}

function shortPath(p: string): string {
  const nm = p.lastIndexOf('/node_modules/');
  if (nm >= 0) return p.slice(nm + '/node_modules/'.length);
  for (const root of ['/src/', '/bench/', '/test/']) {
    const i = p.lastIndexOf(root);
    if (i >= 0) return p.slice(i + 1);
  }
  return p;
}

function locate(cf: CallFrame): string {
  if (cf.url === '') return '(native)';
  if (cf.url.startsWith('node:')) return `${cf.url}:${cf.lineNumber + 1}`;
  const path = cf.url.startsWith('file:') ? fileURLToPath(cf.url) : cf.url;
  if (path.includes('/dist/') && !path.includes('/node_modules/')) {
    const m = sourceMapFor(path);
    const e = m?.findEntry(cf.lineNumber, cf.columnNumber) as { originalSource?: string; originalLine?: number } | undefined;
    if (e?.originalSource !== undefined && e.originalLine !== undefined) return `${shortPath(e.originalSource)}:${e.originalLine + 1}`;
  }
  return `${shortPath(path)}:${cf.lineNumber + 1}`;
}

function categorize(cf: CallFrame): string {
  const name = cf.functionName;
  if (name === '(garbage collector)' || name === '(program)' || name === '(idle)' || name === '(root)') return name;
  const url = cf.url;
  if (url === '') return 'V8/native builtins';
  if (url.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([a-z_]+)/.exec(url);
    const mod = (m?.[1] ?? 'internal').replace(/^_/, '').replace(/^http_.*/, 'http').replace(/^(stream_.*|streams)$/, 'streams');
    return `node:${mod}`;
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.includes('/dist/src/')) return 'restpipe (src/)';
  if (url.includes('/dist/bench/')) return 'bench harness';
  return 'other';
}

export function analyzeProfile(file: string, label: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  // Sample i lasts until sample i+1 (timeDeltas[i+1]); the last one gets the mean.
  const selfUs = new Map<number, number>();
  const total = p.endTime - p.startTime;
  const mean = total / Math.max(1, p.samples.length);
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i + 1] ?? mean;
    selfUs.set(p.samples[i]!, (selfUs.get(p.samples[i]!) ?? 0) + Math.max(0, dt));
  }
  const keyOf = (cf: CallFrame): string => `${cf.functionName}|${cf.url}|${cf.lineNumber}|${cf.columnNumber}`;
  const self = new Map<string, { cf: CallFrame; us: number; callers: Map<string, { cf: CallFrame; us: number }> }>();
  const nearestSrc = new Map<number, CallFrame | null>();
  const srcAncestor = (id: number): CallFrame | null => {
    let hit = nearestSrc.get(id);
    if (hit !== undefined) return hit;
    hit = null;
    for (let cur = parent.get(id); cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (f.url.includes('/dist/src/')) {
        hit = f;
        break;
      }
    }
    nearestSrc.set(id, hit);
    return hit;
  };
  const inclusive = new Map<string, { cf: CallFrame; us: number }>();
  const categories = new Map<string, number>();
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id)!;
    const cf = node.callFrame;
    if (cf.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const k = keyOf(cf);
    const e = self.get(k) ?? { cf, us: 0, callers: new Map() };
    e.us += us;
    self.set(k, e);
    const caller = cf.url.includes('/dist/src/') ? null : srcAncestor(id);
    if (caller !== null) {
      const ck = keyOf(caller);
      const c = e.callers.get(ck) ?? { cf: caller, us: 0 };
      c.us += us;
      e.callers.set(ck, c);
    }
    const cat = categorize(cf);
    categories.set(cat, (categories.get(cat) ?? 0) + us);
    // Inclusive time of restpipe functions: each distinct function once per stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const f = byId.get(cur)!.callFrame;
      if (!f.url.includes('/dist/src/')) continue;
      const fk = keyOf(f);
      if (seen.has(fk)) continue;
      seen.add(fk);
      const ie = inclusive.get(fk) ?? { cf: f, us: 0 };
      ie.us += us;
      inclusive.set(fk, ie);
    }
  }
  const busyUs = total - idleUs;
  const cost = (e: { cf: CallFrame; us: number }): FunctionCost => ({
    functionName: e.cf.functionName || '(anonymous)',
    location: locate(e.cf),
    category: categorize(e.cf),
    ms: e.us / 1000,
    pctBusy: (e.us / busyUs) * 100,
  });
  return {
    label,
    file,
    wallMs: total / 1000,
    busyMs: busyUs / 1000,
    categories: [...categories.entries()]
      .map(([category, us]) => ({ category, ms: us / 1000, pctBusy: (us / busyUs) * 100 }))
      .sort((a, b) => b.ms - a.ms),
    topSelf: [...self.values()]
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((e) => ({
        ...cost(e),
        callers: [...e.callers.values()]
          .sort((a, b) => b.us - a.us)
          .slice(0, 3)
          .map((c) => ({ location: locate(c.cf), functionName: c.cf.functionName || '(anonymous)', pct: (c.us / e.us) * 100 })),
      })),
    topRestpipeInclusive: [...inclusive.values()].sort((a, b) => b.us - a.us).slice(0, top).map(cost),
  };
}
