// The variants compared, as the orchestrator starts them. Each is an HTTP request to a local
// gateway process that gets its answer from another process (except `direct`, the lower
// bound, which answers itself). Every process is started fresh for each measurement, so a
// process's peak RSS belongs to that measurement alone.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Child } from './lib/proc.js';

export const VARIANT_IDS = [
  'direct', 'http-proxy', 'socket.io', 'restpipe-s2c', 'restpipe-c2s', 'restpipe-s2c-base', 'restpipe-c2s-base', 'restpipe-c2s-rules',
  'restpipe-fwd-s2c', 'restpipe-fwd-c2s',
] as const;
export type VariantId = (typeof VARIANT_IDS)[number];
/** The variants that run another build of restpipe (`--baseline REF`); not in a run without it. */
export const BASELINE_VARIANT_IDS: readonly VariantId[] = ['restpipe-s2c-base', 'restpipe-c2s-base'];
/**
 * The forwarding variants (issue 12): the same node:http service as `direct`, reached through
 * the gateway, the pipe and a `--forward` on the far node. Measured by the forward group; the
 * other groups run them only when `--variants` names them.
 */
export const FORWARD_VARIANT_IDS: readonly VariantId[] = ['restpipe-fwd-s2c', 'restpipe-fwd-c2s'];

export const VARIANT_LABELS: Record<VariantId, string> = {
  direct: 'direct (node:http answers itself)',
  'http-proxy': 'http-proxy (keep-alive reverse proxy → node:http)',
  'socket.io': 'socket.io (wss, client certs, ack)',
  'restpipe-s2c': 'restpipe server→client',
  'restpipe-c2s': 'restpipe client→server',
  'restpipe-s2c-base': 'restpipe server→client, baseline build',
  'restpipe-c2s-base': 'restpipe client→server, baseline build',
  'restpipe-c2s-rules': 'restpipe client→server, the README example rules on the server',
  'restpipe-fwd-s2c': 'restpipe forward server→client (--forward on the client → node:http)',
  'restpipe-fwd-c2s': 'restpipe forward client→server (--forward on the server → node:http)',
};

/**
 * The README's example rules file (examples/rules.json) as the server of `restpipe-c2s-rules`
 * enforces it: the same rules, with the sensors' glob `sensor-*` written `bench-*` so that the
 * bench client (CN bench-client) is the sensor whose `get time` is allowed, and `post echo`
 * added to what sensors may call (the bench checks each variant's echo before measuring).
 */
function writeBenchRules(ctx: StartContext): string {
  if (ctx.rulesExample === undefined) throw new Error('restpipe-c2s-rules needs the path of examples/rules.json');
  const example = JSON.parse(readFileSync(ctx.rulesExample, 'utf8')) as { rules: Array<{ from: string; allow?: string[] }> };
  const sensors = example.rules.find((r) => r.from === 'sensor-*');
  if (sensors === undefined) throw new Error('examples/rules.json no longer has the sensor-* rule the bench relies on');
  sensors.from = 'bench-*';
  sensors.allow = [...(sensors.allow ?? []), 'post echo'];
  const path = join(dirname(ctx.pkiPath), 'bench-rules.json');
  writeFileSync(path, JSON.stringify(example, null, 2));
  return path;
}

/** Labels with the baseline's ref filled in (the report says which build "baseline" was). */
export function variantLabel(id: VariantId, baselineRef: string | undefined): string {
  return baselineRef !== undefined && BASELINE_VARIANT_IDS.includes(id) ? `${VARIANT_LABELS[id]} (${baselineRef})` : VARIANT_LABELS[id];
}

export interface RunningVariant {
  id: VariantId;
  baseUrl: string;
  /** GET: the small event (restpipe's built-in get_time, or its equivalent). */
  smallPath: string;
  /** POST: echo the body. */
  echoPath: string;
  /** GET with ?bytes=N: a streamed body of N bytes (the stream benchmarks). */
  blobPath: string;
  /** POST: a body read to its end and dropped (the stream benchmarks). */
  sinkPath: string;
  /** The processes under test, the gateway first; all count for CPU per request. */
  procs: Child[];
  stop(): Promise<void>;
}

export interface StartContext {
  /** Directory holding the (snapshot of the) compiled bench scripts. */
  benchDir: string;
  /** dist/bench of the baseline build (`--baseline REF`), for the `restpipe-*-base` variants. */
  baselineBenchDir?: string;
  pkiPath: string;
  /** examples/rules.json of the repository (the README's example rules). */
  rulesExample?: string;
  /** Extra node flags for a process, by its label (profiling). */
  nodeFlags?: (label: string) => string[];
}

function script(ctx: StartContext, rel: string): string {
  return `${ctx.benchDir}/${rel}`;
}

async function startChild(ctx: StartContext, label: string, rel: string, args: string[]): Promise<Child> {
  return Child.start(script(ctx, rel), args, { label, nodeFlags: ctx.nodeFlags?.(label) ?? [] });
}

/** The same variant from the baseline build's bench directory. */
function baselineContext(ctx: StartContext): StartContext {
  if (ctx.baselineBenchDir === undefined) throw new Error('the restpipe-*-base variants need --baseline REF');
  return { ...ctx, benchDir: ctx.baselineBenchDir };
}

async function stopAll(children: Child[]): Promise<void> {
  await Promise.all(children.map((c) => c.stop()));
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startVariant(id: VariantId, ctx: StartContext): Promise<RunningVariant> {
  if (id === 'restpipe-s2c-base' || id === 'restpipe-c2s-base') {
    const v = await startVariant(id === 'restpipe-s2c-base' ? 'restpipe-s2c' : 'restpipe-c2s', baselineContext(ctx));
    return { ...v, id };
  }
  const started: Child[] = [];
  try {
    switch (id) {
      case 'direct': {
        const server = await startChild(ctx, 'server', 'variants/http-server.js', []);
        started.push(server);
        return made(id, server.info.port, '', [server]);
      }
      case 'http-proxy': {
        const backend = await startChild(ctx, 'backend', 'variants/http-server.js', []);
        started.push(backend);
        const proxy = await startChild(ctx, 'proxy', 'variants/http-proxy.js', ['--target-port', String(backend.info.port)]);
        started.push(proxy);
        return made(id, proxy.info.port, '', [proxy, backend]);
      }
      case 'socket.io': {
        const gateway = await startChild(ctx, 'gateway', 'variants/socketio-gateway.js', ['--pki', ctx.pkiPath]);
        started.push(gateway);
        const handler = await startChild(ctx, 'handler', 'variants/socketio-handler.js', [
          '--pki',
          ctx.pkiPath,
          '--port',
          String(gateway.info.wssPort),
        ]);
        started.push(handler);
        await until('the socket.io handler', () => gateway.request<boolean>({ type: 'has-handler' }));
        return made(id, gateway.info.port, '', [gateway, handler]);
      }
      case 'restpipe-s2c': {
        const server = await startChild(ctx, 'server+gateway', 'variants/restpipe-node.js', [
          '--role', 'server', '--gateway', 'yes', '--pki', ctx.pkiPath,
        ]);
        started.push(server);
        const client = await startChild(ctx, 'client (handler)', 'variants/restpipe-node.js', [
          '--role', 'client', '--gateway', 'no', '--pki', ctx.pkiPath, '--server-port', String(server.info.pipePort),
        ]);
        started.push(client);
        const name = String(client.info.name);
        await until('the client pipe on the server', () => server.request<boolean>({ type: 'has-client', name }));
        return made(id, server.info.port, `/client/${name}`, [server, client]);
      }
      case 'restpipe-c2s':
      case 'restpipe-c2s-rules': {
        const rules = id === 'restpipe-c2s-rules' ? ['--rules', writeBenchRules(ctx)] : [];
        const server = await startChild(ctx, 'server (handler)', 'variants/restpipe-node.js', [
          '--role', 'server', '--gateway', 'no', '--pki', ctx.pkiPath, ...rules,
        ]);
        started.push(server);
        const client = await startChild(ctx, 'client+gateway', 'variants/restpipe-node.js', [
          '--role', 'client', '--gateway', 'yes', '--pki', ctx.pkiPath, '--server-port', String(server.info.pipePort),
        ]);
        started.push(client);
        return made(id, client.info.port, '/server', [client, server]);
      }
      case 'restpipe-fwd-s2c':
      case 'restpipe-fwd-c2s': {
        // The service is http-server.ts (what `direct` measures); the far node forwards `up` to it.
        const upstream = await startChild(ctx, 'upstream', 'variants/http-server.js', []);
        started.push(upstream);
        const forward = ['--forward', `up=http://127.0.0.1:${String(upstream.info.port)}/`];
        const s2c = id === 'restpipe-fwd-s2c';
        const server = await startChild(ctx, s2c ? 'server+gateway' : 'server (forward)', 'variants/restpipe-node.js', [
          '--role', 'server', '--gateway', s2c ? 'yes' : 'no', '--pki', ctx.pkiPath, ...(s2c ? [] : forward),
        ]);
        started.push(server);
        const client = await startChild(ctx, s2c ? 'client (forward)' : 'client+gateway', 'variants/restpipe-node.js', [
          '--role', 'client', '--gateway', s2c ? 'no' : 'yes', '--pki', ctx.pkiPath, '--server-port', String(server.info.pipePort), ...(s2c ? forward : []),
        ]);
        started.push(client);
        if (!s2c) return made(id, client.info.port, '/server/up', [client, server, upstream]);
        const name = String(client.info.name);
        await until('the client pipe on the server', () => server.request<boolean>({ type: 'has-client', name }));
        return made(id, server.info.port, `/client/${name}/up`, [server, client, upstream]);
      }
    }
  } catch (err) {
    await stopAll(started);
    throw err;
  }

  /** Every variant serves the same nouns under a prefix: /time, /echo, /blob, /sink. */
  function made(vid: VariantId, port: unknown, prefix: string, procs: Child[]): RunningVariant {
    if (typeof port !== 'number') throw new Error(`${vid}: no gateway port`);
    return {
      id: vid,
      baseUrl: `http://127.0.0.1:${port}`,
      smallPath: `${prefix}/time`,
      echoPath: `${prefix}/echo`,
      blobPath: `${prefix}/blob`,
      sinkPath: `${prefix}/sink`,
      procs,
      stop: () => stopAll(procs),
    };
  }
}

/**
 * Checks that a variant answers correctly before it is measured: the small event is a 200 with
 * JSON, and a binary body comes back byte for byte.
 */
export async function probeVariant(v: RunningVariant): Promise<void> {
  const small = await fetch(v.baseUrl + v.smallPath);
  const text = await small.text();
  if (small.status !== 200) throw new Error(`${v.id}: GET ${v.smallPath} → ${small.status} ${text}`);
  JSON.parse(text);
  const body = new Uint8Array(100_000);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7919) & 0xff;
  const echo = await fetch(v.baseUrl + v.echoPath, { method: 'POST', body, headers: { 'content-type': 'application/octet-stream' } });
  const back = new Uint8Array(await echo.arrayBuffer());
  if (echo.status !== 200 || back.length !== body.length || !back.every((b, i) => b === body[i])) {
    throw new Error(`${v.id}: POST ${v.echoPath} did not echo the body (status ${echo.status}, ${back.length} bytes)`);
  }
}
