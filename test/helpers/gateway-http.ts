// HTTP helpers for gateway tests: requests with the path sent exactly as written (fetch would
// normalise `..` and re-encode), raw sockets for framing tricks, and every wait bounded.
import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import net from 'node:net';
import { once } from 'node:events';

/** Where a gateway listens, as a test reaches it. */
export type HttpTarget = { port: number; host?: string } | { socketPath: string };

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed as JSON. */
  json(): any;
  elapsedMs: number;
}

export interface RequestInit {
  method?: string;
  /** Sent verbatim as the request target. */
  path: string;
  headers?: OutgoingHttpHeaders;
  body?: Uint8Array | string;
  /** Bound on the whole exchange. @default 10000 */
  timeoutMs?: number;
}

/** One request on a fresh connection; rejects if no complete response comes within the bound. */
export function httpRequest(target: HttpTarget, init: RequestInit): Promise<HttpResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.request({
      ...('socketPath' in target ? { socketPath: target.socketPath } : { host: target.host ?? '127.0.0.1', port: target.port }),
      method: init.method ?? 'GET',
      path: init.path,
      headers: init.headers ?? {},
      agent: false,
    });
    const timer = setTimeout(() => req.destroy(new Error(`no response to ${init.method ?? 'GET'} ${init.path} within ${init.timeoutMs ?? 10_000} ms`)), init.timeoutMs ?? 10_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      res.on('end', () => {
        clearTimeout(timer);
        const body = Buffer.concat(chunks);
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body,
          json: () => JSON.parse(body.toString('utf8')),
          elapsedMs: performance.now() - started,
        });
      });
    });
    req.end(init.body);
  });
}

/** A raw TCP connection that collects what it receives (latin1, so bytes stay bytes). */
export interface RawConnection {
  socket: net.Socket;
  received(): string;
  /** Resolves when the server has closed the connection. */
  closed: Promise<void>;
  /** Waits until the received text matches, within the bound. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export async function rawConnect(port: number): Promise<RawConnection> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let data = '';
  const waiters = new Set<() => void>();
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    data += chunk;
    for (const w of waiters) w();
  });
  socket.on('error', () => {}); // a reset after the server's answer is expected in some tests
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return {
    socket,
    received: () => data,
    closed,
    async waitFor(pattern, timeoutMs = 5_000) {
      if (pattern.test(data)) return;
      await new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(data)) finish();
        };
        const finish = (err?: Error): void => {
          clearTimeout(timer);
          waiters.delete(check);
          if (err) reject(err);
          else resolve();
        };
        const timer = setTimeout(() => finish(new Error(`no ${pattern} within ${timeoutMs} ms; got ${JSON.stringify(data.slice(0, 300))}`)), timeoutMs);
        waiters.add(check);
        void closed.then(() => setImmediate(() => finish(pattern.test(data) ? undefined : new Error(`connection closed without ${pattern}; got ${JSON.stringify(data.slice(0, 300))}`))));
      });
    },
  };
}

/** Resolves with the first `event` whose arguments pass `filter`, or rejects after the bound. */
export function onceMatching<T extends unknown[]>(
  emitter: NodeJS.EventEmitter,
  event: string,
  filter: (...args: T) => boolean,
  timeoutMs = 5_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const listener = (...args: unknown[]): void => {
      if (!filter(...(args as T))) return;
      clearTimeout(timer);
      emitter.removeListener(event, listener);
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      emitter.removeListener(event, listener);
      reject(new Error(`no matching '${event}' within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.on(event, listener);
  });
}
