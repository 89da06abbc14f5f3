// A server node and a client node (startNode: real TLS pipe, real REST gateways on 127.0.0.1)
// with the fault proxy between the client and the server's pipe port, plus an HTTP load
// generator that records every request's outcome, and handlers that count how often each
// request id was executed. For the fault tests in test/faults/.
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

import { reply, startNode, type HandlerContext, type PostData, type RunningNode } from 'restpipe';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';
import { makePki, type Pki } from './pki.js';
import { onceEvent } from './wait.js';

/** Executions of each request id, per node. */
export type ExecutionTally = Map<string, number>;

/**
 * Handlers for both nodes: `get_work//ID/MS` counts one execution of ID, waits MS ms (or until
 * its event is cancelled) and answers `{id}`; `get_blob//N` answers N bytes (executions counted as id 'blob'); `post_sink` takes a
 * body and answers its size.
 */
export function faultHandlers(tally: ExecutionTally): Record<string, unknown> {
  return {
    async get_work(ctx: HandlerContext, _pd: PostData, id: string, ms: string) {
      tally.set(id, (tally.get(id) ?? 0) + 1);
      const wait = Number(ms);
      if (wait > 0) await sleep(wait, undefined, { signal: ctx.signal }).catch(() => {});
      return { id };
    },
    get_blob(_ctx: HandlerContext, _pd: PostData, n: string) {
      tally.set('blob', (tally.get('blob') ?? 0) + 1);
      return reply({ mimetype: 'application/octet-stream', data: Buffer.alloc(Number(n), 0x62) });
    },
    post_sink(_ctx: HandlerContext, postData: PostData) {
      const data = postData[1];
      return { bytes: data instanceof Uint8Array ? data.byteLength : String(data).length };
    },
  };
}

export interface FaultTiming {
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  connectWaitMs: number;
  eventTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
}

export interface FaultPair {
  pki: Pki;
  server: RunningNode;
  client: RunningNode;
  proxy: FaultProxy;
  serverTally: ExecutionTally;
  clientTally: ExecutionTally;
  /** Port of the server node's gateway (`/client/client1/…`). */
  serverHttp: number;
  /** Port of the client node's gateway (`/server/…`). */
  clientHttp: number;
  /** Resolves once both ends see the client's pipe. */
  connected(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the server node, the proxy, the client node (dialing the proxy); waits for the pipe. */
export async function startFaultPair(
  timing: FaultTiming,
  extra: { maxQueuedBytes?: number; maxBodyBytes?: number } = {},
  /** Handlers instead of {@link faultHandlers}, per node (given that node's tally). */
  handlers?: (tally: ExecutionTally, node: 'server' | 'client') => Record<string, unknown>,
): Promise<FaultPair> {
  const pki = await makePki();
  const serverTally: ExecutionTally = new Map();
  const clientTally: ExecutionTally = new Map();
  const closers: (() => Promise<unknown>)[] = [];
  const closeAll = async (): Promise<void> => {
    for (const close of closers.reverse()) await close().catch((err: unknown) => console.error('fault pair: a close failed:', err));
    closers.length = 0;
    await pki.cleanup();
  };
  try {
    const common = {
      heartbeatIntervalMs: timing.heartbeatIntervalMs,
      heartbeatTimeoutMs: timing.heartbeatTimeoutMs,
      connectWaitMs: timing.connectWaitMs,
      eventTimeoutMs: timing.eventTimeoutMs,
      helloTimeoutMs: 1_000,
      handshakeTimeoutMs: 1_000,
      http: { host: '127.0.0.1', port: 0 },
      ...extra,
    };
    const server = await startNode({
      role: 'server',
      identity: pki.server.tls,
      listen: { host: '127.0.0.1', port: 0 },
      handlers: (handlers ?? faultHandlers)(serverTally, 'server'),
      ...common,
    });
    closers.push(() => server.close({ graceMs: 200 }));
    const proxy = await startFaultProxy(server.server!.address!.port);
    closers.push(() => proxy.close());
    const added = onceEvent(server.server!, 'connection_added', { timeoutMs: 10_000 });
    const client = await startNode({
      role: 'client',
      identity: pki.client1.tls,
      server: { host: '127.0.0.1', port: proxy.port },
      handlers: (handlers ?? faultHandlers)(clientTally, 'client'),
      reconnectMinMs: timing.reconnectMinMs,
      reconnectMaxMs: timing.reconnectMaxMs,
      connectTimeoutMs: 1_000,
      ...common,
    });
    closers.push(() => client.close({ graceMs: 200 }));
    await added;
    await client.client!.waitReady(10_000);
    const port = (n: RunningNode): number => (n.gateway!.address as { port: number }).port;
    return {
      pki,
      server,
      client,
      proxy,
      serverTally,
      clientTally,
      serverHttp: port(server),
      clientHttp: port(client),
      async connected(timeoutMs = 5_000) {
        const deadline = performance.now() + timeoutMs;
        while (!(client.client!.pipe()?.usable === true && server.server!.client('client1') !== undefined)) {
          if (performance.now() > deadline) throw new Error(`the pipe did not come back within ${timeoutMs} ms`);
          await sleep(5);
        }
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** One request's outcome, as the HTTP caller saw it. */
export interface Outcome {
  dir: 'to-server' | 'to-client';
  id: string;
  /** HTTP status, or 0 when the request failed without a response (an error or our own bound). */
  status: number;
  error?: string;
  /** The id the reply body carried (200 only). */
  replyId?: string;
  startedAt: number;
  endedAt: number;
}

/**
 * A steady load of GET requests through both gateways: `workers` callers per direction, each
 * sending its next request as soon as the last one ended, until `stop()`. Every response is
 * recorded once; a request that gets no response within `hardLimitMs` is destroyed and
 * recorded as status 0 (a hang: the tests fail on it).
 */
export function startLoad(
  pair: FaultPair,
  o: { workers: number; handlerMs: () => number; hardLimitMs: number; extraHeaders?: Record<string, string> },
): { outcomes: Outcome[]; stop(): Promise<void>; agentSockets(): number } {
  const outcomes: Outcome[] = [];
  let stopping = false;
  let seq = 0;
  const agents = [new http.Agent({ keepAlive: true, maxSockets: o.workers }), new http.Agent({ keepAlive: true, maxSockets: o.workers })];
  const one = (dir: Outcome['dir'], agent: http.Agent): Promise<void> => {
    const id = `${dir === 'to-server' ? 's' : 'c'}${++seq}`;
    const path = dir === 'to-server' ? `/server/work//${id}/${o.handlerMs()}` : `/client/client1/work//${id}/${o.handlerMs()}`;
    const port = dir === 'to-server' ? pair.clientHttp : pair.serverHttp;
    const startedAt = performance.now();
    const record = (status: number, extra: { error?: string; replyId?: string } = {}): void => {
      outcomes.push({ dir, id, status, startedAt, endedAt: performance.now(), ...extra });
    };
    return boundedRequest({ host: '127.0.0.1', port, path, agent, headers: o.extraHeaders ?? {} }, undefined, o.hardLimitMs, (status, body, error) => {
      if (error !== undefined) return record(status, { error });
      const replyId = status === 200 ? jsonField(body, (j) => (j as { id?: string }).id) : undefined;
      record(status, replyId === undefined ? {} : { replyId });
    });
  };
  const worker = async (dir: Outcome['dir'], agent: http.Agent): Promise<void> => {
    while (!stopping) await one(dir, agent);
  };
  const running = [
    ...Array.from({ length: o.workers }, () => worker('to-server', agents[0]!)),
    ...Array.from({ length: o.workers }, () => worker('to-client', agents[1]!)),
  ];
  return {
    outcomes,
    async stop() {
      stopping = true;
      await Promise.all(running);
      for (const a of agents) a.destroy();
    },
    agentSockets: () => agents.reduce((n, a) => n + Object.values(a.sockets).reduce((m, l) => m + (l?.length ?? 0), 0), 0),
  };
}

/**
 * One request, bounded: `outcome` gets the status and body, or status 0 and an error when no
 * response came (an error, or `hardLimitMs` passed: a hang). Should the request ever end a
 * second time, `outcome` is called again with status -1: a double answer the tests fail on.
 */
function boundedRequest(
  options: http.RequestOptions,
  body: Buffer | undefined,
  hardLimitMs: number,
  outcome: (status: number, body: Buffer | undefined, error?: string) => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let done = false;
    const finish = (status: number, responseBody: Buffer | undefined, error?: string): void => {
      if (done) {
        outcome(-1, undefined, `second outcome: ${status} ${error ?? ''}`);
        return;
      }
      done = true;
      clearTimeout(timer);
      outcome(status, responseBody, error);
      resolve();
    };
    const req = http.request(options);
    const timer = setTimeout(() => {
      req.destroy();
      finish(0, undefined, `no response within ${hardLimitMs} ms`);
    }, hardLimitMs);
    req.on('error', (err) => finish(0, undefined, err.message));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => finish(0, undefined, err.message));
      res.on('end', () => finish(res.statusCode ?? 0, Buffer.concat(chunks)));
    });
    req.end(body);
  });
}

/** A field of a JSON body, or undefined when the body is not JSON. */
function jsonField(body: Buffer | undefined, pick: (json: unknown) => string | undefined): string | undefined {
  try {
    return body === undefined ? undefined : pick(JSON.parse(body.toString('utf8')));
  } catch {
    return undefined;
  }
}

/** Counts outcomes by status, e.g. `{200: 812, 502: 40}`. */
export function countByStatus(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o.status] = (counts[o.status] ?? 0) + 1;
  return counts;
}

/** A stream of requests of one kind: `workers` callers, each sending the next when one ends. */
export interface Flow {
  name: string;
  port: number;
  workers: number;
  method: 'GET' | 'POST';
  path: (id: string) => string;
  body?: Buffer;
}

export interface FlowOutcome {
  flow: string;
  id: string;
  /** HTTP status, or 0 when no response came (an error, or our bound: a hang). */
  status: number;
  /** `error.code` of a JSON error body. */
  code?: string;
  error?: string;
  startedAt: number;
  endedAt: number;
}

/** Runs the flows until `stop()`; every request's single outcome is recorded. */
export function startFlows(flows: readonly Flow[], hardLimitMs: number): { outcomes: FlowOutcome[]; stop(): Promise<void> } {
  const outcomes: FlowOutcome[] = [];
  let stopping = false;
  let seq = 0;
  const agents: http.Agent[] = [];
  const one = (flow: Flow, agent: http.Agent): Promise<void> => {
    const id = `${flow.name}-${++seq}`;
    const startedAt = performance.now();
    const headers: http.OutgoingHttpHeaders = flow.body === undefined ? {} : { 'content-type': 'application/octet-stream', 'content-length': flow.body.byteLength };
    const request = { host: '127.0.0.1', port: flow.port, method: flow.method, path: flow.path(id), agent, headers };
    return boundedRequest(request, flow.body, hardLimitMs, (status, body, error) => {
      const code = error === undefined && status !== 200 ? jsonField(body, (j) => (j as { error?: { code?: string } }).error?.code) : undefined;
      const extra = error !== undefined ? { error } : code !== undefined ? { code } : {};
      outcomes.push({ flow: flow.name, id, status, startedAt, endedAt: performance.now(), ...extra });
    });
  };
  const running: Promise<void>[] = [];
  for (const flow of flows) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: flow.workers });
    agents.push(agent);
    for (let i = 0; i < flow.workers; i++) {
      running.push(
        (async () => {
          while (!stopping) await one(flow, agent);
        })(),
      );
    }
  }
  return {
    outcomes,
    async stop() {
      stopping = true;
      await Promise.all(running);
      for (const a of agents) a.destroy();
    },
  };
}

/** Counts outcomes as `status` or `status code`, e.g. `{"200": 80, "503 too_many_in_flight": 12}`. */
export function countFlowOutcomes(outcomes: readonly FlowOutcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.code === undefined ? String(o.status) : `${o.status} ${o.code}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
