// The forward group (issue 12): the same node:http service (variants/http-server.ts) asked for
// a small answer and for a 1 MiB body, straight (`direct`), through a keep-alive reverse proxy
// (`http-proxy`), and through restpipe's gateway, the pipe and `--forward` on the far node
// (`restpipe-fwd-s2c`: the server's gateway, the client forwards; `restpipe-fwd-c2s`: the other
// way), each measured in the same round. Fresh processes per variant.
//   small   GET /time at 64 connections, cross-core layout (as the small group)
//   1 MiB   GET /blob?bytes=1048576 at 8 connections, cross-core layout (as the echo group)
import type { Durations, LoadMeasurement } from './measure.js';
import { measureLoad, startLoadGenerator } from './measure.js';
import type { Child } from './lib/proc.js';
import { probeVariant, startVariant, type StartContext, type VariantId } from './variants.js';

/** What the forward group compares, in this order. */
export const FORWARD_GROUP_VARIANTS: readonly VariantId[] = ['direct', 'http-proxy', 'restpipe-fwd-s2c', 'restpipe-fwd-c2s'];

/** The download's size. */
export const FORWARD_DOWNLOAD_BYTES = 2 ** 20;

export interface ForwardResult {
  variant: VariantId;
  /** GET of the small answer at 64 connections. */
  small: LoadMeasurement;
  /** GET of a 1 MiB body at 8 connections. */
  download: LoadMeasurement;
  /** Body bytes of the downloads per second, MiB/s. */
  downloadMibps: number;
}

/** One variant's forward measurements. */
export async function runForward(id: VariantId, ctx: StartContext, d: Durations): Promise<ForwardResult> {
  const v = await startVariant(id, ctx);
  let lg: Child | undefined;
  try {
    // The small answer is JSON and a 100 kB body comes back byte for byte (the forward's upstream serves /echo too).
    await probeVariant(v);
    lg = await startLoadGenerator(ctx.benchDir);
    const small = await measureLoad(
      lg,
      v.procs,
      { url: v.baseUrl + v.smallPath, method: 'GET', bodyBytes: 0, connections: 64, warmupMs: d.smallWarmupMs, measureMs: d.smallMeasureMs },
      'cross-core',
    );
    const download = await measureLoad(
      lg,
      v.procs,
      { url: `${v.baseUrl}${v.blobPath}?bytes=${FORWARD_DOWNLOAD_BYTES}`, method: 'GET', bodyBytes: 0, connections: 8, warmupMs: d.echoWarmupMs, measureMs: d.echoMeasureMs },
      'cross-core',
    );
    const downloadMibps = (download.load.ok * FORWARD_DOWNLOAD_BYTES) / (download.load.windowMs / 1000) / 2 ** 20;
    return { variant: id, small, download, downloadMibps };
  } finally {
    await lg?.stop();
    await v.stop();
  }
}
