// The stream benchmarks (issue 11): big bodies through the gateways and the pipe, against the
// floor of a plain TLS socket between two Node processes, measured in the same round.
//   floor        tls-floor.ts: 1 GiB client→server and server→client over one mutual-TLS socket
//   relay        tls-relay.ts: the same download and upload through a bare node:http → TLS relay
//                (no restpipe), with the same HTTP client: the ceiling of a gateway of that shape
//   down / up    one GET of a streamed N-byte reply / one POST of an N-byte request body
//   16 streams   16 GETs at once, N bytes in all
//   small p99    GET of the small event, one after another on one connection: idle, then while a
//                bulk download runs on the same pipe (a second client process)
//   peak RSS     fresh processes, one download of the RSS size (10 GiB), then one upload: the
//                peak RSS (VmHWM) of each process under test
import { Child } from './lib/proc.js';
import type { SmallSeries, TransferResult } from './stream-client.js';
import { probeVariant, startVariant, type RunningVariant, type StartContext, type VariantId } from './variants.js';

export interface StreamSizes {
  /** Bytes of each single-stream transfer (and of the 16 streams together). */
  bytes: number;
  /** Bytes of the peak-RSS transfer (each way). */
  rssBytes: number;
  /** How long each small-event series runs, ms. */
  smallMs: number;
}

export interface Transfer {
  result: TransferResult;
  mibps: number;
}

export interface FloorResult {
  c2s: { mibps: number };
  s2c: { mibps: number };
}

/** The bare relay's transfers (tls-relay.ts), through the same HTTP client as the variants. */
export interface RelayResult {
  down: Transfer;
  up: Transfer;
}

export interface StreamResult {
  variant: VariantId;
  down: Transfer;
  up: Transfer;
  down16: Transfer;
  smallIdle: SmallSeries;
  smallDuringBulk: SmallSeries;
  /** The bulk download that ran under the small events. */
  bulk: Transfer;
  /** Peak RSS (VmHWM) per process under test, KiB, after the RSS-size download and after the upload. */
  rss: { label: string; afterDownKiB: number; afterUpKiB: number }[];
  rssTransfers: { down: Transfer; up: Transfer };
}

const MiB = 2 ** 20;

function mibps(bytes: number, ms: number): number {
  return bytes / MiB / (ms / 1000);
}

/** The floor: a plain TLS socket between two processes, one direction after the other. */
export async function runFloor(ctx: StartContext, bytes: number): Promise<FloorResult> {
  const server = await Child.start(`${ctx.benchDir}/variants/tls-floor.js`, ['--role', 'server', '--pki', ctx.pkiPath], { label: 'tls server' });
  let client: Child | undefined;
  try {
    const connected = server.waitFor((m) => m.type === 'connected', 20_000);
    client = await Child.start(`${ctx.benchDir}/variants/tls-floor.js`, ['--role', 'client', '--pki', ctx.pkiPath, '--port', String(server.info.port)], { label: 'tls client' });
    await connected;
    const one = async (from: Child, to: Child): Promise<number> => {
      const t0 = performance.timeOrigin + performance.now();
      const [got] = await Promise.all([to.request<{ lastAt: number }>({ type: 'expect', bytes }, 600_000), from.request({ type: 'send', bytes }, 600_000)]);
      return mibps(bytes, got.lastAt - t0);
    };
    const c2s = await one(client, server);
    const s2c = await one(server, client);
    return { c2s: { mibps: c2s }, s2c: { mibps: s2c } };
  } finally {
    await client?.stop();
    await server.stop();
  }
}

/** The bare relay's two processes (tls-relay.ts), addressed like a variant. */
export interface RunningRelay {
  procs: Child[];
  baseUrl: string;
  blobPath: string;
  sinkPath: string;
  stop(): Promise<void>;
}

/** Starts the bare relay (the stream group's ceiling; the profile group profiles it too). */
export async function startRelay(ctx: StartContext): Promise<RunningRelay> {
  const end = await Child.start(`${ctx.benchDir}/variants/tls-relay.js`, ['--role', 'end', '--pki', ctx.pkiPath], { label: 'relay end' });
  try {
    const relay = await Child.start(`${ctx.benchDir}/variants/tls-relay.js`, ['--role', 'relay', '--pki', ctx.pkiPath, '--port', String(end.info.port)], { label: 'relay' });
    return {
      // The process in front (the gateway's place) first, as in a variant.
      procs: [relay, end],
      baseUrl: `http://127.0.0.1:${String(relay.info.port)}`,
      blobPath: '/blob',
      sinkPath: '/sink',
      stop: async () => {
        await relay.stop();
        await end.stop();
      },
    };
  } catch (err) {
    await end.stop();
    throw err;
  }
}

/** The ceiling: one download and one upload of `bytes` through the bare relay (tls-relay.ts). */
export async function runRelay(ctx: StartContext, bytes: number): Promise<RelayResult> {
  const relay = await startRelay(ctx);
  let lg: Child | undefined;
  try {
    lg = await Child.start(`${ctx.benchDir}/stream-client.js`, [], { label: 'stream client' });
    const down = await transfer(lg, 'download', relay.baseUrl + relay.blobPath, bytes, 1);
    const up = await transfer(lg, 'upload', relay.baseUrl + relay.sinkPath, bytes, 1);
    return { down, up };
  } finally {
    await lg?.stop();
    await relay.stop();
  }
}

export async function transfer(lg: Child, kind: 'download' | 'upload', url: string, bytes: number, streams: number): Promise<Transfer> {
  const result = await lg.request<TransferResult>({ type: kind, url, bytes, streams }, 900_000);
  if (result.failed > 0) throw new Error(`${kind} ${url}: ${result.failed} of ${streams} failed: ${result.errors.join('; ')}`);
  return { result, mibps: mibps(result.bytes, result.ms) };
}

async function withVariant<T>(id: VariantId, ctx: StartContext, fn: (v: RunningVariant, lg: Child, lg2: Child) => Promise<T>): Promise<T> {
  const v = await startVariant(id, ctx);
  let lg: Child | undefined;
  let lg2: Child | undefined;
  try {
    await probeVariant(v);
    lg = await Child.start(`${ctx.benchDir}/stream-client.js`, [], { label: 'stream client' });
    lg2 = await Child.start(`${ctx.benchDir}/stream-client.js`, [], { label: 'small-event client' });
    return await fn(v, lg, lg2);
  } finally {
    await lg?.stop();
    await lg2?.stop();
    await v.stop();
  }
}

/** Every stream measurement of one variant (two sets of fresh processes: the transfers, then peak RSS). */
export async function runStreams(id: VariantId, ctx: StartContext, sizes: StreamSizes): Promise<StreamResult> {
  const part = await withVariant(id, ctx, async (v, lg, lg2) => {
    const blob = v.baseUrl + v.blobPath;
    const down = await transfer(lg, 'download', blob, sizes.bytes, 1);
    const up = await transfer(lg, 'upload', v.baseUrl + v.sinkPath, sizes.bytes, 1);
    const down16 = await transfer(lg, 'download', blob, sizes.bytes, 16);
    const small = v.baseUrl + v.smallPath;
    const smallIdle = await lg2.request<SmallSeries>({ type: 'small', url: small, ms: sizes.smallMs }, sizes.smallMs + 60_000);
    // The bulk download must outlast the small series: it is sized from the single download's speed.
    const bulkBytes = Math.max(sizes.bytes, Math.ceil(((down.mibps * MiB) / 1000) * (sizes.smallMs + 2_000)));
    const bulkRun = transfer(lg, 'download', blob, bulkBytes, 1);
    await new Promise((r) => setTimeout(r, 500));
    const smallDuringBulk = await lg2.request<SmallSeries>({ type: 'small', url: small, ms: sizes.smallMs }, sizes.smallMs + 60_000);
    const bulk = await bulkRun;
    return { down, up, down16, smallIdle, smallDuringBulk, bulk };
  });
  const rss = await withVariant(id, ctx, async (v, lg) => {
    const down = await transfer(lg, 'download', v.baseUrl + v.blobPath, sizes.rssBytes, 1);
    const afterDown = v.procs.map((p) => p.memKiB().hwm);
    const up = await transfer(lg, 'upload', v.baseUrl + v.sinkPath, sizes.rssBytes, 1);
    return {
      rss: v.procs.map((p, i) => ({ label: p.label, afterDownKiB: afterDown[i]!, afterUpKiB: p.memKiB().hwm })),
      rssTransfers: { down, up },
    };
  });
  return { variant: id, ...part, ...rss };
}
