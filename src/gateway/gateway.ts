import { unlink } from 'node:fs/promises';
import { setMaxListeners } from 'node:events';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { ErrorCode, RestpipeError } from '../errors.js';
import type { ParsedEvent, Reply } from '../event.js';
import { truncate } from '../text.js';
import { silentLogger, type Logger } from '../log.js';
import {
  DEFAULT_GATEWAY_HEADERS_TIMEOUT_MS,
  DEFAULT_GATEWAY_KEEP_ALIVE_TIMEOUT_MS,
  DEFAULT_GATEWAY_REQUEST_TIMEOUT_MS,
  DEFAULT_GRACE_MS,
} from '../options/defaults.js';
import { clampTimerMs, countOption, durationOption, invalidOption, stringListOption } from '../options/validate.js';
import { contentLengthError, readBody, type BodySink } from './body.js';
import type { EventSender } from '../sender.js';
import { errorBody, httpStatusOf, isErrorCode, replyStatus } from './http-errors.js';
import { HostPolicy, isLoopbackListenHost } from './host-check.js';
import { lingerBeforeClose } from './linger.js';
import { answerClientError } from './client-error.js';
import { GatewayRouteError, parseGatewayRequest, type EventRoute } from './routes.js';
import { ignoreNotFound, privateSocketPath, removeStaleSocket } from './unix-socket.js';

/** Where a gateway listens: a TCP address, or a unix socket (for nginx). */
export type GatewayListen = { host: string; port: number } | { path: string };

/** Options of {@link createGateway}. */
export interface GatewayOptions {
  /** The node the gateway sends events through (its role decides the routes). */
  sender: EventSender;
  /**
   * A TCP address (port 0 picks a free one) or a unix socket path. A TCP host that is not
   * loopback is refused unless {@link allowNonLoopback}: the gateway has no authentication.
   */
  listen: GatewayListen;
  /** Largest request body; larger ones get 413 without being read. */
  maxBodyBytes: number;
  /** How long a request waits for its reply unless it sends `X-Event-Timeout: S`. */
  eventTimeoutMs: number;
  /**
   * Host header values accepted besides loopback names and addresses (DNS-rebinding
   * protection, TCP only). An entry without a port matches any port; `'*'` accepts any Host.
   * @default []
   */
  allowedHosts?: string[];
  /**
   * Origin header values accepted (cross-site protection, TCP only), e.g.
   * `http://localhost:3000`; `'*'` accepts any. A request carrying any other Origin is refused.
   * @default []
   */
  allowedOrigins?: string[];
  /** Allows a TCP listen address that is not loopback (a warning is logged). @default false */
  allowNonLoopback?: boolean;
  /** Produces `GET /metrics` (Prometheus text); without it `/metrics` is 404. */
  metricsText?: () => Promise<{ contentType: string; body: string }>;
  /** @default silent */
  logger?: Logger;
  /** Time to receive a request's headers (Node's `headersTimeout`). @default 10000 */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, body included (Node's `requestTimeout`); covers slow bodies. @default 120000 */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection is kept. @default 5000 */
  keepAliveTimeoutMs?: number;
}

/** Where a started gateway listens. */
export type GatewayAddress = { host: string; port: number } | { path: string };

/** A running gateway. */
export interface Gateway {
  /** The bound address (the real port when 0 was asked for) or the socket path. */
  readonly address: GatewayAddress;
  /** Requests being handled now, of any route. */
  readonly inFlight: number;
  /** Event requests being handled now (reading a body, waiting for a reply). */
  readonly eventsInFlight: number;
  /** Requests received since start. */
  readonly requests: number;
  /**
   * Stops accepting connections and closes idle keep-alive ones; requests in flight get up to
   * `graceMs` to finish, then those left are answered 503 `closed` (their events cancelled)
   * and every connection is closed. A unix socket file is removed. Idempotent.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/**
 * Starts the local REST gateway of SPEC §4 on node:http: `/server/NOUN` (client node) or
 * `/client/NAME/NOUN` (server node) become events through `options.sender`, replies become
 * responses; `GET /healthz`, `/status`, `/metrics`. Every request gets exactly one response
 * (status per `http-errors.ts`), or none when the caller has gone.
 *
 * @throws RestpipeError `invalid_option` for a bad option, a non-loopback TCP address without
 *   `allowNonLoopback`, or a unix socket path that is in use or is not a socket; the listen
 *   error (EADDRINUSE, EACCES, …) as Node reports it.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const gateway = new HttpGateway(options);
  await gateway.start();
  return gateway;
}

// ---------------------------------------------------------------------------------------------

const JSON_TYPE = 'application/json';
const HEALTH_OK = Buffer.from('{"status":"ok"}');
// Node's own rule for header values (`checkInvalidHeaderChar`): a reply's mimetype comes from
// the far side and must not be able to make writeHead throw or split the response.
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
// X-Event-Timeout: plain decimal seconds. `Number()` alone would take '0x10', '1e3', ' '.
const TIMEOUT_SYNTAX = /^\s*(?:\d+(?:\.\d*)?|\.\d+)\s*$/;
// How long a connection whose body we refused is drained before it is closed anyway.
const LINGER_MS = 2_000;
const kCall = Symbol('restpipe.gatewayCall');
const kCalls = Symbol('restpipe.gatewayCalls');
const kAbort = Symbol('restpipe.gatewayAbort');

/** One request: the only per-request object besides what node:http and the AbortController make. */
class GatewayCall implements BodySink {
  route: EventRoute | undefined;
  controller: AbortController | undefined;
  timeoutMs = 0;
  /** A response has been started. */
  responded = false;
  /** The response closed (finished, or the connection went away). */
  closed = false;
  /** Answer with `Connection: close`: the request's body was not (fully) read. */
  closeConnection = false;
  /** The client sent `Expect: 100-continue`; it gets `100 Continue` only when its body is wanted. */
  expectsContinue = false;

  constructor(
    readonly gateway: HttpGateway,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
  ) {}

  onBody(body: Buffer): void {
    this.gateway.onEventBody(this, body);
  }

  onBodyError(err: RestpipeError): void {
    this.closeConnection = true;
    this.gateway.fail(this, err);
  }

  /** Whether a response may still be written: none yet, and the connection is alive. */
  get canRespond(): boolean {
    return !this.responded && !this.closed && !this.req.socket.destroyed;
  }
}

type ResponseWithCall = ServerResponse & { [kCall]?: GatewayCall };
type SocketWithCalls = Socket & { [kCalls]?: Set<GatewayCall>; [kAbort]?: AbortController };

/**
 * The AbortController of a connection's events. A caller hangs up by closing the connection
 * (a response closes unfinished only when its socket goes), which ends every request on it: so
 * the events of one connection share one controller instead of paying for one per request.
 */
function connectionController(socket: SocketWithCalls): AbortController {
  let controller = socket[kAbort];
  if (controller === undefined || controller.signal.aborted) {
    controller = new AbortController();
    // Pipelined requests each listen while in flight; that is no leak.
    setMaxListeners(0, controller.signal);
    socket[kAbort] = controller;
  }
  return controller;
}

/** res 'close': the request is over; if the response had not finished, the caller hung up. */
function onResponseClose(this: ResponseWithCall): void {
  const call = this[kCall];
  if (call !== undefined) call.gateway.onCallClosed(call, !this.writableFinished);
}

function onConnection(socket: SocketWithCalls): void {
  socket.once('close', onSocketClose);
}

/**
 * A connection closed. Its current response got 'close' from Node, but a pipelined request
 * queued behind it never does (its response has no socket yet): end those calls here, so
 * they are cancelled and counted out like any caller who hung up.
 */
function onSocketClose(this: SocketWithCalls): void {
  const calls = this[kCalls];
  if (calls === undefined) return;
  this[kCalls] = undefined;
  for (const call of calls) call.gateway.onCallClosed(call, true);
}

class HttpGateway implements Gateway {
  readonly #sender: EventSender;
  readonly #role: 'server' | 'client';
  readonly #listen: GatewayListen;
  readonly #maxBodyBytes: number;
  readonly #eventTimeoutMs: number;
  readonly #hostPolicy: HostPolicy;
  readonly #isUnix: boolean;
  readonly #metricsText: GatewayOptions['metricsText'];
  readonly #log: Logger;
  readonly #server: http.Server;
  readonly #calls = new Set<GatewayCall>();
  #eventsInFlight = 0;
  #requests = 0;
  #address: GatewayAddress | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  #onDrained: (() => void) | undefined;

  constructor(options: GatewayOptions) {
    if (typeof options !== 'object' || options === null) throw invalidOption('gateway options must be an object');
    const { sender, listen } = options;
    if (typeof sender?.send !== 'function' || typeof sender.isReady !== 'function' || typeof sender.status !== 'function') {
      throw invalidOption('gateway option sender must implement EventSender (send, isReady, status)');
    }
    this.#sender = sender;
    this.#role = sender.role;
    if (this.#role !== 'server' && this.#role !== 'client') throw invalidOption(`sender.role must be 'server' or 'client'`);
    this.#log = (options.logger ?? silentLogger).child({ component: 'gateway' });
    this.#maxBodyBytes = countOption('maxBodyBytes', options.maxBodyBytes, NaN, { max: Number.MAX_SAFE_INTEGER });
    if (Number.isNaN(this.#maxBodyBytes)) throw invalidOption('gateway option maxBodyBytes is required');
    if (options.eventTimeoutMs === undefined) throw invalidOption('gateway option eventTimeoutMs is required');
    this.#eventTimeoutMs = durationOption('eventTimeoutMs', options.eventTimeoutMs, 0);
    const headersTimeout = durationOption('headersTimeoutMs', options.headersTimeoutMs, DEFAULT_GATEWAY_HEADERS_TIMEOUT_MS);
    const requestTimeout = durationOption('requestTimeoutMs', options.requestTimeoutMs, DEFAULT_GATEWAY_REQUEST_TIMEOUT_MS);
    const keepAliveTimeout = durationOption('keepAliveTimeoutMs', options.keepAliveTimeoutMs, DEFAULT_GATEWAY_KEEP_ALIVE_TIMEOUT_MS);
    if (headersTimeout > requestTimeout) {
      throw invalidOption(`headersTimeoutMs (${headersTimeout}) must not exceed requestTimeoutMs (${requestTimeout})`);
    }
    const hosts = stringListOption('allowedHosts', options.allowedHosts);
    const origins = stringListOption('allowedOrigins', options.allowedOrigins);
    this.#hostPolicy = new HostPolicy(hosts, origins);
    this.#metricsText = options.metricsText;

    if (typeof listen !== 'object' || listen === null) throw invalidOption('gateway option listen must be { host, port } or { path }');
    if ('path' in listen) {
      if (typeof listen.path !== 'string' || listen.path === '') throw invalidOption('gateway listen.path must be a non-empty string');
      this.#isUnix = true;
      this.#listen = { path: listen.path };
    } else {
      const { host } = listen;
      if (typeof host !== 'string' || host === '') throw invalidOption('gateway listen.host must be a non-empty string');
      const port = countOption('gateway listen.port', listen.port, NaN, { max: 65_535 });
      if (Number.isNaN(port)) throw invalidOption('gateway listen.port is required');
      if (!isLoopbackListenHost(host)) {
        if (options.allowNonLoopback !== true) {
          throw invalidOption(
            `gateway address ${host} is not loopback: the gateway has no authentication, so anyone who can reach it can send events; ` +
              'listen on 127.0.0.1, ::1 or a unix socket, or allow it explicitly',
          );
        }
        this.#log.warn(
          { host, port },
          `the REST gateway listens on ${host}, which is not loopback: it has no authentication; anyone who can reach it can send events`,
        );
      }
      this.#isUnix = false;
      this.#listen = { host, port };
    }

    this.#server = http.createServer({
      headersTimeout: headersTimeout,
      requestTimeout: requestTimeout,
      keepAliveTimeout: keepAliveTimeout,
      // Node checks both timeouts on this interval (default 30 s, which would let a 10 s
      // headers timeout take 40 s). A sweep over the connection list is cheap.
      connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(headersTimeout / 4))),
    });
    this.#server.headersTimeout = headersTimeout;
    this.#server.requestTimeout = requestTimeout;
    this.#server.keepAliveTimeout = keepAliveTimeout;
    this.#server.on('connection', onConnection);
    this.#server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res, false));
    // With a listener here Node no longer answers `100 Continue` by itself: the client is
    // invited to send its body only once the gateway wants it (right route, Host, size).
    this.#server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res, true));
    // Node's own answers to unparsable or too slow requests carry no JSON error (client-error.ts).
    const limits = { headersTimeoutMs: headersTimeout, requestTimeoutMs: requestTimeout, maxHeaderBytes: http.maxHeaderSize };
    this.#server.on('clientError', (err: Error, socket: Socket) => answerClientError(err, socket, limits, LINGER_MS));
  }

  get address(): GatewayAddress {
    if (this.#address === undefined) throw new RestpipeError(ErrorCode.CLOSED, 'the gateway is not listening');
    return this.#address;
  }

  get inFlight(): number {
    return this.#calls.size;
  }

  get eventsInFlight(): number {
    return this.#eventsInFlight;
  }

  get requests(): number {
    return this.#requests;
  }

  async start(): Promise<void> {
    const listen = this.#listen;
    if ('path' in listen) await removeStaleSocket(listen.path);
    const unix = 'path' in listen ? await privateSocketPath(listen.path) : undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        this.#server.once('error', onError);
        const onListening = (): void => {
          this.#server.removeListener('error', onError);
          resolve();
        };
        if (unix !== undefined) this.#server.listen(unix.bindPath, onListening);
        else if ('port' in listen) this.#server.listen(listen.port, listen.host, onListening);
      });
    } catch (err) {
      await unix?.discard();
      throw err;
    }
    // Errors after listen (EMFILE on accept, …) must not take the node down.
    this.#server.on('error', (err) => this.#log.error({ err: err.message }, 'gateway server error'));
    if ('path' in listen) {
      // nginx typically runs as another user in the socket owner's group; the socket appears
      // at its path with this mode already (privateSocketPath).
      await unix!.publish(0o660);
      this.#address = { path: listen.path };
    } else {
      const a = this.#server.address() as AddressInfo;
      this.#address = { host: a.address, port: a.port };
    }
    this.#log.info({ ...this.#address, role: this.#role }, 'REST gateway listening');
  }

  close({ graceMs = DEFAULT_GRACE_MS }: { graceMs?: number } = {}): Promise<void> {
    this.#closed ??= this.#close(durationOption('graceMs', graceMs, DEFAULT_GRACE_MS, { allowZero: true }));
    return this.#closed;
  }

  async #close(graceMs: number): Promise<void> {
    this.#closing = true;
    const stopped = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    await this.#drain(graceMs);
    if (this.#calls.size > 0) {
      const closed = new RestpipeError(ErrorCode.CLOSED, 'the gateway is shutting down');
      for (const call of [...this.#calls]) {
        // Answer first, then cancel: the cancelled send must not be what the caller reads.
        this.fail(call, closed);
        call.controller?.abort(closed);
      }
      // Those answers carry `Connection: close`; give them a moment to leave before the sockets go.
      await this.#drain(1_000);
    }
    this.#server.closeAllConnections();
    await stopped;
    if ('path' in this.#listen) await unlink(this.#listen.path).catch(ignoreNotFound);
    this.#log.info({}, 'REST gateway closed');
  }

  /** Resolves when no request is in flight, or after `ms`. */
  async #drain(ms: number): Promise<void> {
    if (this.#calls.size === 0 || ms <= 0) return;
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.#onDrained = resolve;
      timer = setTimeout(resolve, ms);
    });
    clearTimeout(timer);
    this.#onDrained = undefined;
  }

  // --- the request path ------------------------------------------------------------------------

  #onRequest(req: IncomingMessage, res: ServerResponse, expectsContinue: boolean): void {
    this.#requests++;
    const call = new GatewayCall(this, req, res);
    call.expectsContinue = expectsContinue;
    (res as ResponseWithCall)[kCall] = call;
    res.on('close', onResponseClose);
    this.#calls.add(call);
    const socket = req.socket as SocketWithCalls;
    (socket[kCalls] ??= new Set()).add(call);
    // A body we are not going to read must not be read by Node either (it would drain it to
    // keep the connection alive): such answers close the connection instead.
    if (hasBody(req)) call.closeConnection = true;

    if (this.#closing) {
      this.fail(call, new RestpipeError(ErrorCode.CLOSED, 'the gateway is shutting down'));
      return;
    }
    if (!this.#isUnix) {
      const refused = this.#hostPolicy.check(req.headers);
      if (refused !== undefined) {
        this.fail(call, refused);
        return;
      }
    }
    const route = parseGatewayRequest(req.method, req.url, this.#role);
    if (route instanceof GatewayRouteError) {
      this.fail(call, route);
      return;
    }
    switch (route.kind) {
      case 'event':
        this.#startEvent(call, route);
        return;
      case 'healthz':
        this.#serveHealth(call);
        return;
      case 'status':
        this.#serveStatus(call);
        return;
      case 'metrics':
        void this.#serveMetrics(call);
        return;
    }
  }

  #startEvent(call: GatewayCall, route: EventRoute): void {
    const timeoutMs = parseEventTimeout(call.req.headers['x-event-timeout'], this.#eventTimeoutMs);
    if (typeof timeoutMs !== 'number') {
      this.fail(call, timeoutMs);
      return;
    }
    call.route = route;
    call.timeoutMs = timeoutMs;
    this.#eventsInFlight++;
    if (call.expectsContinue && contentLengthError(call.req.headers, this.#maxBodyBytes) === undefined) {
      call.res.writeContinue();
    }
    call.closeConnection = false; // readBody either reads the body or says to close
    readBody(call.req, this.#maxBodyBytes, call);
  }

  /**
   * @internal the body of an event request has arrived: the event goes to the sender as it
   * is. Its head was parsed by the route; its body is parsed (JSON) once, by the node whose
   * handler receives it.
   */
  onEventBody(call: GatewayCall, data: Buffer): void {
    if (!call.canRespond) return;
    const route = call.route!;
    call.controller = connectionController(call.req.socket as SocketWithCalls);
    const event: ParsedEvent = {
      verb: route.verb,
      noun: route.noun,
      path: route.path,
      params: route.params,
      method: route.method,
      query: route.query,
      mimetype: call.req.headers['content-type'] ?? '',
      data,
    };
    let reply: Promise<Reply>;
    try {
      reply = this.#sender.send(route.target, event, { signal: call.controller.signal, timeoutMs: call.timeoutMs });
    } catch (err) {
      this.fail(call, err);
      return;
    }
    reply.then(
      (r) => this.#writeReply(call, r),
      (err: unknown) => this.fail(call, err),
    );
  }

  #writeReply(call: GatewayCall, reply: Reply): void {
    if (!call.canRespond) {
      if (this.#log.isLevelEnabled('debug')) this.#log.debug({ code: reply.code }, 'reply arrived after the HTTP caller left; dropped');
      return;
    }
    const mimetype = reply.mimetype;
    if (typeof mimetype !== 'string' || INVALID_HEADER_VALUE.test(mimetype)) {
      this.fail(call, new RestpipeError(ErrorCode.PROTOCOL_ERROR, 'the reply carries a mimetype that is not a valid HTTP header value'));
      return;
    }
    const status = replyStatus(reply);
    const data = reply.data;
    const headers: string[] = ['X-Event-Return-Code', String(reply.code)];
    if (mimetype !== '') headers.push('Content-Type', mimetype);
    // 204 and 304 have no body by definition (RFC 9110 §15.3.5, §15.4.5).
    const bodyless = status === 204 || status === 304;
    if (!bodyless) headers.push('Content-Length', String(data.byteLength));
    this.#respond(call, status, headers, bodyless ? undefined : data);
  }

  /** @internal answers `err` as SPEC §4's JSON error, unless the caller is gone or already answered. */
  fail(call: GatewayCall, err: unknown): void {
    if (!call.canRespond) {
      if (this.#log.isLevelEnabled('debug') && !call.responded) {
        this.#log.debug({ err: (err as Error)?.message }, 'request ended without a response: the HTTP caller left');
      }
      return;
    }
    let code: string;
    let message: string;
    // Match on the code, not the class: a handler module or sender may use its own copy of
    // restpipe. A system error's code (ECONNRESET, …) is not one of ours: internal_error.
    if (err instanceof Error && isErrorCode((err as RestpipeError).code)) {
      code = (err as RestpipeError).code;
      message = (err as Error).message;
      if (code === ErrorCode.ABORTED && !this.#closing) {
        // The body broke off but the socket lives (or the sender gave up on its own): the
        // request is unusable; do not leave the caller without an answer.
        code = ErrorCode.BAD_REQUEST;
      }
    } else {
      code = ErrorCode.INTERNAL_ERROR;
      message = `internal error: ${err instanceof Error ? err.message : String(err)}`;
      this.#log.error({ err: message }, 'gateway request failed unexpectedly');
    }
    const status = httpStatusOf(code);
    const body = Buffer.from(errorBody(code, message));
    const headers: string[] = ['Content-Type', JSON_TYPE, 'Content-Length', String(body.byteLength)];
    if (err instanceof GatewayRouteError && err.allow !== undefined) headers.push('Allow', err.allow);
    this.#respond(call, status, headers, body);
  }

  #respond(call: GatewayCall, status: number, headers: string[], body: Uint8Array | undefined): void {
    call.responded = true;
    // Node turns `Connection: close` into closing the socket once the response is out.
    if (call.closeConnection || this.#closing) headers.push('Connection', 'close');
    // The caller may still be sending the body we refused: a plain close would reset the
    // connection and could take this answer with it (see linger.ts).
    if (call.closeConnection) lingerBeforeClose(call.req, LINGER_MS);
    try {
      call.res.writeHead(status, headers);
      call.res.end(body);
    } catch (err) {
      // Only a bug can get here (headers are checked above); never leave the socket half-answered.
      this.#log.error({ err: (err as Error).message, status }, 'could not write a gateway response');
      call.res.destroy();
    }
  }

  /** @internal the response closed; `hungUp` when it had not finished. */
  onCallClosed(call: GatewayCall, hungUp: boolean): void {
    if (call.closed) return;
    call.closed = true;
    this.#calls.delete(call);
    (call.req.socket as SocketWithCalls)[kCalls]?.delete(call);
    if (call.route !== undefined) this.#eventsInFlight--;
    if (hungUp && call.controller !== undefined && !call.controller.signal.aborted) {
      if (this.#log.isLevelEnabled('debug')) {
        this.#log.debug({ verb: call.route?.verb, noun: truncate(call.route?.noun ?? '') }, 'the HTTP caller hung up; cancelling its event');
      }
      call.controller.abort(new RestpipeError(ErrorCode.ABORTED, 'the HTTP caller hung up'));
    }
    if (this.#calls.size === 0) this.#onDrained?.();
  }

  // --- the gateway's own routes ----------------------------------------------------------------

  #serveHealth(call: GatewayCall): void {
    if (this.#sender.isReady()) {
      this.#respond(call, 200, ['Content-Type', JSON_TYPE, 'Content-Length', String(HEALTH_OK.byteLength), 'Cache-Control', 'no-store'], HEALTH_OK);
      return;
    }
    let state: unknown;
    try {
      state = this.#sender.status().state;
    } catch {
      state = undefined;
    }
    const body = Buffer.from(JSON.stringify({ status: 'unavailable', ...(state === undefined ? {} : { state }) }));
    this.#respond(call, 503, ['Content-Type', JSON_TYPE, 'Content-Length', String(body.byteLength), 'Cache-Control', 'no-store'], body);
  }

  #serveStatus(call: GatewayCall): void {
    let body: Buffer;
    try {
      body = Buffer.from(
        JSON.stringify({
          ...this.#sender.status(),
          gateway: { address: this.#address, requestsInFlight: this.#calls.size - 1, eventsInFlight: this.#eventsInFlight, requests: this.#requests },
        }),
      );
    } catch (err) {
      this.fail(call, err);
      return;
    }
    this.#respond(call, 200, ['Content-Type', JSON_TYPE, 'Content-Length', String(body.byteLength), 'Cache-Control', 'no-store'], body);
  }

  async #serveMetrics(call: GatewayCall): Promise<void> {
    if (this.#metricsText === undefined) {
      this.fail(call, new RestpipeError(ErrorCode.NOT_FOUND, 'metrics are not enabled on this node'));
      return;
    }
    try {
      const { contentType, body } = await this.#metricsText();
      if (!call.canRespond) return;
      const bytes = Buffer.from(body);
      this.#respond(call, 200, ['Content-Type', contentType, 'Content-Length', String(bytes.byteLength), 'Cache-Control', 'no-store'], bytes);
    } catch (err) {
      this.fail(call, err);
    }
  }

}

// --- helpers -------------------------------------------------------------------------------------

/**
 * X-Event-Timeout: S → milliseconds (positive, finite, clamped to a timer's range), the
 * default when absent, a `bad_request` error otherwise.
 */
export function parseEventTimeout(value: string | string[] | undefined, fallbackMs: number): number | RestpipeError {
  if (value === undefined) return fallbackMs;
  if (typeof value === 'string' && TIMEOUT_SYNTAX.test(value)) {
    const ms = Number(value) * 1000;
    if (ms > 0 && Number.isFinite(ms)) return clampTimerMs(ms);
  }
  return new RestpipeError(
    ErrorCode.BAD_REQUEST,
    `X-Event-Timeout ${JSON.stringify(truncate(String(value)))} is not a positive number of seconds`,
  );
}

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

