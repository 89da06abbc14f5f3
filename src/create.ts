import { buildHandlerTable, createDispatcher, exampleHandlers, type HandlerTable, type HookName } from './dispatch/index.js';
import { PipeClient, type PipeClientOptions, type RestpipeClient } from './client/pipe-client.js';
import { silentLogger, type Logger } from './log.js';
import { PipeServer, type PipeServerOptions, type RestpipeServer } from './server/pipe-server.js';

export type { RestpipeClient } from './client/pipe-client.js';
export type { RestpipeServer } from './server/pipe-server.js';

/** The handler option both roles take. */
export interface HandlerOption {
  /**
   * The handler: an object, or a class constructed with no arguments, whose `VERB_NOUN`
   * methods answer events (SPEC §5) and whose optional hook methods are called on lifecycle
   * events. @default the built-in examples (`get_time`, `get_cat`)
   */
  handlers?: unknown;
}

/** Options of {@link createServer}: the server's pipe options and its handler. */
export interface ServerOptions extends PipeServerOptions, HandlerOption {}
/** Options of {@link createClient}: the client's pipe options and its handler. */
export interface ClientOptions extends PipeClientOptions, HandlerOption {}

/**
 * Creates a server node's pipe end. Call `listen()` to accept clients, `send(name, event)` to
 * call one, `close()` to drain and stop.
 * @throws RestpipeError invalid_option or handler_invalid.
 */
export function createServer(options: ServerOptions): RestpipeServer {
  const logger = options.logger ?? silentLogger;
  const table = buildHandlerTable(options.handlers ?? exampleHandlers('server'), { logger });
  const server = new PipeServer(options, createDispatcher(table, { logger, role: 'server', maxBodyBytes: options.maxBodyBytes }));
  forwardHooks(server, table, ['connection_added', 'connection_removed', 'idle'], logger);
  return server;
}

/**
 * Creates a client node's pipe end. Call `start()` to dial (it then reconnects forever),
 * `send(event)` to call the server, `close()` to drain and stop.
 * @throws RestpipeError invalid_option or handler_invalid.
 */
export function createClient(options: ClientOptions): RestpipeClient {
  const logger = options.logger ?? silentLogger;
  const table = buildHandlerTable(options.handlers ?? exampleHandlers('client'), { logger });
  const client = new PipeClient(options, createDispatcher(table, { logger, role: 'client', maxBodyBytes: options.maxBodyBytes }));
  forwardHooks(client, table, ['connect_success', 'connect_fail'], logger);
  return client;
}

/** The handler's hook methods follow the library object's events; a failing hook is logged, never fatal. */
function forwardHooks(
  emitter: { on(event: string, listener: (...args: unknown[]) => void): unknown },
  table: HandlerTable,
  names: HookName[],
  logger: Logger,
): void {
  for (const name of names) {
    if (table.hooks[name] === undefined) continue;
    emitter.on(name, (...args: unknown[]) => {
      void table.callHook(name, ...args).then((err) => {
        if (err !== undefined) logger.warn({ hook: name, err: err.message }, `handler hook ${name} failed`);
      });
    });
  }
}
