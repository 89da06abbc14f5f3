import { buildHandlerTable, createDispatcher, exampleHandlers, type HandlerTable, type HookName } from './dispatch/index.js';
import { PipeClient, type PipeClientOptions, type RestpipeClient } from './client/pipe-client.js';
import type { EventHandlerFn, EventHead, Reply } from './event.js';
import { createForwarder, ForwardTable, type Forwarder } from './forward/index.js';
import { silentLogger, type Logger } from './log.js';
import { DEFAULT_FORWARD_TIMEOUT_MS } from './options/defaults.js';
import { durationOption } from './options/validate.js';
import { PipeServer, type PipeServerOptions, type RestpipeServer } from './server/pipe-server.js';

export type { RestpipeClient } from './client/pipe-client.js';
export type { RestpipeServer } from './server/pipe-server.js';

/**
 * What judges each event a peer sends before the dispatcher sees it: the access rules
 * (`RulesGate` in src/rules, made by startNode from `rulesPath`) are one.
 */
export interface AccessCheck {
  /** Undefined to let the event go on; else the reply that refuses it (return code 254, `forbidden`). `caller` is the peer's CN. */
  check(event: EventHead, caller: string): Reply | undefined;
}

/** The handler option both roles take. */
export interface HandlerOption {
  /**
   * The handler: an object, or a class constructed with no arguments, whose `VERB_NOUN`
   * methods answer events (SPEC §5) and whose optional hook methods are called on lifecycle
   * events. @default the built-in examples (`get_time`, `get_cat`)
   */
  handlers?: unknown;
  /**
   * Access rules (SPEC §11) judging every event a peer sends, before the dispatcher chooses its
   * target: an event they refuse is answered with return code 254 (`forbidden`) and never
   * reaches a handler. @default none: every peer may call everything
   */
  accessRules?: AccessCheck | undefined;
  /**
   * Forwards (SPEC §10): `{ PREFIX: URL }`. An event whose noun starts with PREFIX's segments
   * becomes an HTTP request to URL (the rest of the noun appended, the query kept) instead of a
   * handler call, and the upstream's response streams back as the reply. Longest prefix wins.
   * @default none
   */
  forward?: Readonly<Record<string, string>> | undefined;
  /** How long a forward's upstream may take to send its response head, ms; then 504 `upstream_timeout`. @default 60000 */
  forwardTimeoutMs?: number | undefined;
  /** Extra CA certificates (PEM text) trusted for https upstreams, besides the system's. */
  forwardCa?: string | undefined;
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
  const forwarder = makeForwarder(options, 'server', logger);
  const server = new PipeServer(options, gated(routed(createDispatcher(table, { logger, role: 'server', maxBodyBytes: options.maxBodyBytes }), forwarder), options.accessRules));
  if (forwarder !== undefined) closesToo(server, forwarder);
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
  const forwarder = makeForwarder(options, 'client', logger);
  const client = new PipeClient(options, gated(routed(createDispatcher(table, { logger, role: 'client', maxBodyBytes: options.maxBodyBytes }), forwarder), options.accessRules));
  if (forwarder !== undefined) closesToo(client, forwarder);
  forwardHooks(client, table, ['connect_success', 'connect_fail'], logger);
  return client;
}

/**
 * THE seam of the access rules: every event a peer sends passes the gate before the dispatcher
 * chooses where it goes (a handler, or a forward), so nothing they refuse runs. Without rules
 * the dispatcher is used as it is: no check at all on the hot path.
 */
function gated(dispatch: EventHandlerFn, gate: AccessCheck | undefined): EventHandlerFn {
  if (gate === undefined) return dispatch;
  return (event, peer, signal) => {
    const refused = gate.check(event, peer.name);
    return refused === undefined ? dispatch(event, peer, signal) : Promise.resolve(refused);
  };
}

/** The forwarder of the `forward` option, or undefined without forwards (no cost per event then). */
function makeForwarder(options: HandlerOption, role: 'server' | 'client', logger: Logger): Forwarder | undefined {
  const table = ForwardTable.parse(options.forward);
  if (table.size === 0) return undefined;
  const responseTimeoutMs = durationOption('forwardTimeoutMs', options.forwardTimeoutMs, DEFAULT_FORWARD_TIMEOUT_MS);
  return createForwarder({ table, responseTimeoutMs, ca: options.forwardCa, logger, role });
}

/** The pipe end's close() closes the forwarder's kept-alive upstream connections too, once its events are done. */
function closesToo(end: { close(options?: { graceMs?: number }): Promise<void> }, forwarder: Forwarder): void {
  const close = end.close.bind(end);
  end.close = (options) => close(options).finally(() => forwarder.close());
}

/**
 * Where an event goes once the gate let it through: a forward that takes its noun, else the
 * dispatcher (a handler).
 */
function routed(dispatch: EventHandlerFn, forwarder: Forwarder | undefined): EventHandlerFn {
  if (forwarder === undefined) return dispatch;
  return (event, peer, signal) => forwarder.forward(event, peer, signal) ?? dispatch(event, peer, signal);
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
