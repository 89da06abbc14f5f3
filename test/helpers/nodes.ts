// A server and clients on 127.0.0.1:0 over real TLS, with short heartbeats and backoff, for the
// pipe integration tests. Everything started through a TestBed is closed by `testBed.close()`
// (call it in an `after` hook), in reverse order of creation.
import {
  createClient,
  createServer,
  type ClientOptions,
  type EventRequest,
  type Logger,
  type Reply,
  type SendOptions,
  type RestpipeClient,
  type RestpipeServer,
  type ServerOptions,
} from 'restpipe';
import { makePki, type Pki, type PkiIdentity } from './pki.js';
import { onceEvent } from './wait.js';

/** Which way an event goes between a test bed's server and its client 'client1'. */
export type Direction = 'client→server' | 'server→client';
export const DIRECTIONS: readonly Direction[] = ['client→server', 'server→client'];

/** Sends `event` from client1 to the server, or from the server to client1. */
export function sendWay(
  ends: { server: RestpipeServer; client: RestpipeClient },
  dir: Direction,
  event: EventRequest,
  options: SendOptions = {},
): Promise<Reply> {
  return dir === 'client→server' ? ends.client.send(event, options) : ends.server.send('client1', event, options);
}

/** The node that handles an event sent `dir`. */
export const farSide = (dir: Direction): string => (dir === 'client→server' ? 'server' : 'client1');

/** Heartbeats for tests: dead after 400 ms of silence, checked every 100 ms. */
export const HEARTBEAT = { heartbeatIntervalMs: 100, heartbeatTimeoutMs: 400 } as const;
/** Backoff for tests: fast, but never a tight loop. */
export const BACKOFF = { reconnectMinMs: 50, reconnectMaxMs: 400 } as const;

/** One captured log line. */
export interface LogLine {
  level: 'error' | 'warn' | 'info' | 'debug';
  msg: string;
  /** The bindings of the child loggers and the line's own fields, merged. */
  fields: Record<string, unknown>;
}

/**
 * A Logger (src/log.ts) that keeps every line in an array, for tests that assert what was
 * logged. `text()` gives each line as `LEVEL msg {fields}` for regex matching.
 */
export class MemoryLogger implements Logger {
  readonly lines: LogLine[];
  readonly #bindings: Record<string, unknown>;

  constructor(lines: LogLine[] = [], bindings: Record<string, unknown> = {}) {
    this.lines = lines;
    this.#bindings = bindings;
  }

  error(obj: object, msg = ''): void {
    this.#push('error', obj, msg);
  }
  warn(obj: object, msg = ''): void {
    this.#push('warn', obj, msg);
  }
  info(obj: object, msg = ''): void {
    this.#push('info', obj, msg);
  }
  debug(obj: object, msg = ''): void {
    this.#push('debug', obj, msg);
  }
  child(bindings: Record<string, unknown>): Logger {
    return new MemoryLogger(this.lines, { ...this.#bindings, ...bindings });
  }
  isLevelEnabled(): boolean {
    return true;
  }

  /** Every line as text, one string each. */
  text(): string[] {
    return this.lines.map((l) => `${l.level.toUpperCase()} ${l.msg} ${safeJson(l.fields)}`);
  }

  /** Lines whose text matches `re`. */
  matching(re: RegExp): LogLine[] {
    return this.lines.filter((l, i) => re.test(this.text()[i]!));
  }

  #push(level: LogLine['level'], obj: object, msg: string): void {
    this.lines.push({ level, msg, fields: { ...this.#bindings, ...(obj as Record<string, unknown>) } });
  }
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, val: unknown) => (val instanceof Error ? `${val.name}: ${val.message}` : val));
  } catch {
    return String(v);
  }
}

/** What a test bed starts and closes. */
export interface TestBed {
  pki: Pki;
  /** Starts a server on 127.0.0.1:0 (test heartbeats unless overridden); closed by close(). */
  server(over?: Partial<ServerOptions>): Promise<{ server: RestpipeServer; port: number }>;
  /** Creates and starts a client of `port` with `id`'s identity; closed by close(). Does not wait. */
  client(port: number, id: PkiIdentity, over?: Partial<ClientOptions>): RestpipeClient;
  /**
   * Starts a client and waits until both ends see its pipe (client 'connect_success', server
   * 'connection_added').
   */
  connectedClient(server: RestpipeServer, port: number, id: PkiIdentity, over?: Partial<ClientOptions>): Promise<RestpipeClient>;
  /** A server and client1 connected to it, both with `over` (handlers, timers). */
  pair(over?: Partial<ServerOptions> & Partial<ClientOptions>): Promise<{ server: RestpipeServer; client: RestpipeClient }>;
  /** Registers anything else to close, e.g. a fault proxy; closed in reverse order. */
  defer(close: () => Promise<unknown> | void): void;
  /** Closes everything (clients before servers), then removes the PKI's files. */
  close(): Promise<void>;
}

export async function startTestBed(): Promise<TestBed> {
  const pki = await makePki();
  const closers: (() => Promise<unknown> | void)[] = [];
  const bed: TestBed = {
    pki,
    async server(over = {}) {
      const server = createServer({ tls: pki.server.tls, ...HEARTBEAT, connectWaitMs: 2_000, ...over });
      closers.push(() => server.close({ graceMs: 200 }));
      const { port } = await server.listen({ host: '127.0.0.1', port: 0 });
      return { server, port };
    },
    client(port, id, over = {}) {
      const client = createClient({
        host: '127.0.0.1',
        port,
        tls: id.tls,
        ...HEARTBEAT,
        ...BACKOFF,
        connectTimeoutMs: 1_000,
        handshakeTimeoutMs: 1_000,
        helloTimeoutMs: 1_000,
        connectWaitMs: 2_000,
        ...over,
      });
      closers.push(() => client.close({ graceMs: 200 }));
      client.start();
      return client;
    },
    async connectedClient(server, port, id, over = {}) {
      const added = onceEvent(server, 'connection_added', { filter: (name: string) => name === id.name });
      const client = bed.client(port, id, over);
      const ready = onceEvent(client, 'connect_success');
      await Promise.all([added, ready]);
      return client;
    },
    async pair(over = {}) {
      const { server, port } = await bed.server(over);
      const client = await bed.connectedClient(server, port, pki.client1, over);
      return { server, client };
    },
    defer(close) {
      closers.push(close);
    },
    async close() {
      for (const close of closers.reverse()) {
        try {
          await close();
        } catch (err) {
          console.error('test bed: a close failed:', err);
        }
      }
      closers.length = 0;
      await pki.cleanup();
    },
  };
  return bed;
}
