// A server and a client node on 127.0.0.1:0 over real TLS, each with test handlers and a REST
// gateway, for the gateway integration tests. Timings are short so failures show fast.
import { EventEmitter } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import {
  createClient,
  createServer,
  GoAwayCode,
  reply,
  type HandlerContext,
  type PostData,
  type RestpipeClient,
  type RestpipeServer,
} from '../../src/index.js';
import { createGateway, type Gateway, type GatewayOptions } from '../../src/gateway/gateway.js';
import { createPrometheusMetrics, type PrometheusMetrics } from '../../src/metrics/prometheus.js';
import { makePki, type Pki, type PkiIdentity } from './pki.js';
import { onceMatching } from './gateway-http.js';

export const HEARTBEAT = { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 400 } as const;
export const CONNECT_WAIT_MS = 300;
export const GATEWAY_EVENT_TIMEOUT_MS = 600;
/** The nodes' --max-body: what a buffered handler takes, or a buffered send() reply. */
export const PIPE_MAX_BODY = 256 * 1024;

/**
 * What test handlers report: `started` (node, method) when a handler begins, `aborted`
 * (node, method, reason) when its ctx.signal fires, `calls` for every call.
 */
export type Probe = EventEmitter;

/** Handlers for tests, the same on both sides; `node` is the node's own name, reported back. */
export function testHandlers(node: string, probe: Probe, breakPipe: (ctx: HandlerContext) => void): Record<string, unknown> {
  const info = (ctx: HandlerContext, postData: PostData, ...params: string[]): unknown => {
    probe.emit('calls', node, `${ctx.verb}_info`);
    return { node, verb: ctx.verb, noun: ctx.noun, params, query: [...ctx.query], peer: ctx.peer.name, postData: postData[0] };
  };
  const echo = (ctx: HandlerContext, [mimetype, data]: PostData): unknown => {
    probe.emit('calls', node, `${ctx.verb}_echo`);
    return reply({ mimetype, data: Buffer.isBuffer(data) || typeof data === 'string' ? data : JSON.stringify(data) });
  };
  const untilAborted = (ctx: HandlerContext, method: string, value: unknown = 'too late'): Promise<unknown> =>
    new Promise((resolve) => {
      const onAbort = (): void => {
        probe.emit('aborted', node, method, ctx.signal.reason);
        resolve(value);
      };
      if (ctx.signal.aborted) onAbort();
      else ctx.signal.addEventListener('abort', onAbort, { once: true });
      probe.emit('started', node, method);
    });
  return {
    get_time: () => ({ [`time_from_${node}`]: Date.now() / 1000 }),
    get_info: info,
    post_info: info,
    put_info: info,
    delete_info: info,
    patch_info: info,
    post_echo: echo,
    put_echo: echo,
    get_created: () => reply({ status: 201, data: { created: node } }),
    get_code7: () => ['text/plain; charset=utf-8', 7, 'seven'],
    get_typed: () => reply({ mimetype: 'text/csv; charset=utf-8', data: 'a,b\n1,2\n' }),
    get_bytes: () => reply({ mimetype: 'application/x-test-bytes', data: Buffer.from(Array.from({ length: 256 }, (_, i) => 255 - i)) }),
    get_big: (_ctx: HandlerContext, _pd: PostData, n: string) => reply({ mimetype: 'application/octet-stream', data: Buffer.alloc(Number(n), 0x61) }),
    get_boom: () => {
      throw new TypeError(`boom from ${node}`);
    },
    get_wait: (ctx: HandlerContext) => untilAborted(ctx, 'get_wait'),
    get_sleep: async (ctx: HandlerContext, _pd: PostData, ms: string) => {
      ctx.signal.addEventListener('abort', () => probe.emit('aborted', node, 'get_sleep', ctx.signal.reason), { once: true });
      probe.emit('started', node, 'get_sleep');
      await sleep(Number(ms), undefined, { signal: ctx.signal }).catch(() => {});
      return { slept: Number(ms) };
    },
    get_break: (ctx: HandlerContext) => {
      const p = untilAborted(ctx, 'get_break');
      // Not from inside the dispatch call: the session is in the middle of handing us the event.
      setImmediate(() => breakPipe(ctx));
      return p;
    },
  };
}

export interface TestNodes {
  pki: Pki;
  server: RestpipeServer;
  client: RestpipeClient;
  serverGw: Gateway;
  clientGw: Gateway;
  serverMetrics: PrometheusMetrics;
  clientMetrics: PrometheusMetrics;
  probe: Probe;
  /** Starts another client with `id`'s identity (its own handlers, no gateway); closed by close(). */
  addClient(id: PkiIdentity): Promise<RestpipeClient>;
  /** Resolves when client1 is connected again on both ends (arm it before breaking the pipe). */
  reconnected(): Promise<void>;
  /** Starts another gateway on one of the nodes; closed by close(). */
  addGateway(node: 'server' | 'client', over: Partial<GatewayOptions>): Promise<Gateway>;
  close(): Promise<void>;
}

export async function startNodes(): Promise<TestNodes> {
  const pki = await makePki();
  const probe: Probe = new EventEmitter();
  probe.setMaxListeners(100);
  const closers: (() => Promise<unknown> | void)[] = [];
  let client!: RestpipeClient;
  let server!: RestpipeServer;

  try {
    server = createServer({
      tls: pki.server.tls,
      handlers: testHandlers('server', probe, (ctx) => server.disconnect(ctx.peer.name, 'test: the server cut the pipe')),
      ...HEARTBEAT,
      connectWaitMs: CONNECT_WAIT_MS,
      maxBodyBytes: PIPE_MAX_BODY,
    });
    closers.push(() => server.close({ graceMs: 200 }));
    const { port } = await server.listen({ host: '127.0.0.1', port: 0 });

    const makeClient = (id: PkiIdentity): RestpipeClient => {
      const c: RestpipeClient = createClient({
        host: '127.0.0.1',
        port,
        tls: id.tls,
        handlers: testHandlers(id.name, probe, () => c.disconnect('test: the client cut the pipe', GoAwayCode.UNSPECIFIED)),
        ...HEARTBEAT,
        connectWaitMs: CONNECT_WAIT_MS,
        maxBodyBytes: PIPE_MAX_BODY,
        reconnectMinMs: 20,
        reconnectMaxMs: 200,
      });
      closers.push(() => c.close({ graceMs: 200 }));
      return c;
    };
    const connected = (name: string): Promise<unknown> =>
      server.client(name) !== undefined ? Promise.resolve() : onceMatching(server, 'connection_added', (n: string) => n === name, 5_000);

    client = makeClient(pki.client1);
    const client1Up = connected('client1');
    await client.waitReady(5_000);
    await client1Up;

    const serverMetrics = createPrometheusMetrics({ role: 'server', sender: server.sender });
    const clientMetrics = createPrometheusMetrics({ role: 'client', sender: client.sender, defaultMetrics: false });
    closers.push(() => serverMetrics.close(), () => clientMetrics.close());

    const gatewayOptions = (node: 'server' | 'client'): GatewayOptions => ({
      sender: node === 'server' ? server.sender : client.sender,
      listen: { host: '127.0.0.1', port: 0 },
      eventTimeoutMs: GATEWAY_EVENT_TIMEOUT_MS,
      metricsText: () => (node === 'server' ? serverMetrics : clientMetrics).text(),
    });
    const addGateway = async (node: 'server' | 'client', over: Partial<GatewayOptions>): Promise<Gateway> => {
      const gw = await createGateway({ ...gatewayOptions(node), ...over });
      closers.push(() => gw.close({ graceMs: 200 }));
      return gw;
    };
    const serverGw = await addGateway('server', {});
    const clientGw = await addGateway('client', {});

    return {
      pki,
      server,
      client,
      serverGw,
      clientGw,
      serverMetrics,
      clientMetrics,
      probe,
      async addClient(id) {
        const c = makeClient(id);
        const up = connected(id.name);
        await c.waitReady(5_000);
        await up;
        return c;
      },
      reconnected() {
        const clientSide = onceMatching(client, 'connect_success', () => true, 5_000);
        const serverSide = onceMatching(server, 'connection_added', (n: string) => n === 'client1', 5_000);
        return Promise.all([clientSide, serverSide]).then(() => {});
      },
      addGateway,
      close: () => closeAll(closers, pki),
    };
  } catch (err) {
    await closeAll(closers, pki);
    throw err;
  }
}

async function closeAll(closers: (() => Promise<unknown> | void)[], pki: Pki): Promise<void> {
  // Gateways first (they were added last), then clients, then the server.
  for (const close of closers.reverse()) await close();
  closers.length = 0;
  await pki.cleanup();
}

/** A TCP port on 127.0.0.1 where nothing listens (bound, then released). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
