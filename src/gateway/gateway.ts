import { unlink } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { channels } from '../diagnostics.js';
import { ErrorCode, RestpipeError } from '../errors.js';
import type { Reply } from '../event.js';
import { silentLogger, type Logger } from '../log.js';
import { DEFAULT_GRACE_MS } from '../options/defaults.js';
import { durationOption, invalidOption } from '../options/validate.js';
import type { EventSender } from '../sender.js';
import { truncate } from '../text.js';
import { gatewayEventHeaders } from '../http-headers.js';
import { hasBody, readBody } from './body.js';
import { answerClientError } from './client-error.js';
import { gatewayEvent, INLINE_REQUEST_BYTES, isInlineBody, replyHead, writeStreamedReply } from './event-streams.js';
import { GatewayCall, trackConnection, type CallOwner } from './gateway-call.js';
import { resolveGatewayOptions, type GatewayListen, type GatewayOptions, type GatewayPages } from './gateway-options.js';
import { HostPolicy } from './host-check.js';
import { errorResponse } from './http-errors.js';
import { serveHealth, serveMetrics, serveStatus } from './info-routes.js';
import { lingerBeforeClose } from './linger.js';
import { observeEnd, observeRequestBody, observeResponse, observeStart, observeStreamedReply, tapReplyBody, tapRequestBody } from './observe.js';
import { GatewayRouteError, isUnder, parseEventTimeout, parseGatewayRequest, type EventRoute } from './routes.js';
import { createHttpServer, listenOn } from './listen.js';
import { ignoreNotFound } from './unix-socket.js';
import { isWebSocketUpgrade, routeUpgrade, WebSocketTunnels } from './upgrade.js';
import { dataLength, dataPieces } from '../body-pieces.js';

export type { GatewayListen, GatewayOptions, GatewayPages, PageCall } from './gateway-options.js';

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

// How long a connection whose body we refused is drained before it is closed anyway.
const LINGER_MS = 2_000;

/**
 * The gateway: its lifecycle (listen, close with a grace period) and the request path (Host
 * checks, route, body, send, reply or JSON error). Its own routes are in info-routes.ts, the
 * per-request object in gateway-call.ts, its options in gateway-options.ts.
 */
class HttpGateway implements Gateway, CallOwner {
  readonly #sender: EventSender;
  readonly #role: 'server' | 'client';
  readonly #listen: GatewayListen;
  readonly #eventTimeoutMs: number;
  readonly #requestTimeoutMs: number;
  readonly #hostPolicy: HostPolicy;
  readonly #isUnix: boolean;
  readonly #metricsText: GatewayOptions['metricsText'];
  readonly #pages: GatewayPages | undefined;
  readonly #log: Logger;
  readonly #server: http.Server;
  readonly #calls = new Set<GatewayCall>();
  readonly #tunnels: WebSocketTunnels;
  #eventsInFlight = 0;
  #requests = 0;
  #address: GatewayAddress | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  #onDrained: (() => void) | undefined;

  constructor(options: GatewayOptions) {
    const o = resolveGatewayOptions(options);
    const { sender } = options;
    if (typeof sender?.send !== 'function' || typeof sender.isReady !== 'function' || typeof sender.status !== 'function') {
      throw invalidOption('gateway option sender must implement EventSender (send, isReady, status)');
    }
    if (sender.role !== 'server' && sender.role !== 'client') throw invalidOption(`sender.role must be 'server' or 'client'`);
    this.#sender = sender;
    this.#role = sender.role;
    this.#log = (options.logger ?? silentLogger).child({ component: 'gateway' });
    this.#listen = o.listen;
    this.#isUnix = 'path' in o.listen;
    this.#eventTimeoutMs = o.eventTimeoutMs;
    this.#requestTimeoutMs = o.requestTimeoutMs;
    this.#hostPolicy = new HostPolicy(o.allowedHosts, o.allowedOrigins);
    this.#metricsText = options.metricsText;
    this.#pages = options.pages;
    if (o.nonLoopback && 'host' in o.listen) {
      const { host, port } = o.listen;
      this.#log.warn({ host, port }, `the REST gateway listens on ${host}, which is not loopback: it has no authentication; anyone who can reach it can send events`);
    }
    const { headersTimeoutMs: headersTimeout, requestTimeoutMs: requestTimeout, keepAliveTimeoutMs: keepAliveTimeout } = o;

    this.#server = createHttpServer(headersTimeout, keepAliveTimeout);
    this.#server.on('connection', trackConnection);
    this.#server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res, false));
    // With a listener here Node no longer answers `100 Continue` by itself: the client is
    // invited to send its body only once the gateway wants it (right route, Host, size).
    this.#server.on('checkContinue', (req: IncomingMessage, res: ServerResponse) => this.#onRequest(req, res, true));
    // Node's own answers to unparsable or too slow requests carry no JSON error (client-error.ts).
    const limits = { headersTimeoutMs: headersTimeout, requestTimeoutMs: requestTimeout, maxHeaderBytes: http.maxHeaderSize };
    this.#server.on('clientError', (err: Error, socket: Socket) => answerClientError(err, socket, limits, LINGER_MS));
    this.#tunnels = new WebSocketTunnels({
      sender,
      role: this.#role,
      hostPolicy: this.#hostPolicy,
      isUnix: this.#isUnix,
      isClosing: () => this.#closing,
      log: this.#log,
    });
    this.#server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      if (isWebSocketUpgrade(req)) this.#requests++;
      routeUpgrade(req, socket, head, this.#tunnels, (res) => this.#onRequest(req, res, false));
    });
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
    this.#address = await listenOn(this.#server, this.#listen);
    // Errors after listen (EMFILE on accept, …) must not take the node down.
    this.#server.on('error', (err) => this.#log.error({ err: err.message }, 'gateway server error'));
    this.#log.info({ ...this.#address, role: this.#role }, 'REST gateway listening');
  }

  close({ graceMs = DEFAULT_GRACE_MS }: { graceMs?: number } = {}): Promise<void> {
    this.#closed ??= this.#close(durationOption('graceMs', graceMs, DEFAULT_GRACE_MS, { allowZero: true }));
    return this.#closed;
  }

  async #close(graceMs: number): Promise<void> {
    this.#closing = true;
    this.#pages?.close();
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
    // WebSockets are long-lived: they end with the gateway (their callers see the close).
    this.#tunnels.closeAll();
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
    const call = new GatewayCall(this, req, res, expectsContinue);
    this.#calls.add(call);
    // A body we are not going to read must not be read by Node either (it would drain it to
    // keep the connection alive): such answers close the connection instead.
    if (hasBody(req)) call.closeConnection = true;

    if (this.#closing) {
      this.fail(call, new RestpipeError(ErrorCode.CLOSED, 'the gateway is shutting down'));
      return;
    }
    const pages = this.#pages !== undefined && isUnder(req.url, this.#pages.prefix) ? this.#pages : undefined;
    if (!this.#isUnix) {
      const refused = this.#hostPolicy.check(req.headers, pages !== undefined);
      if (refused !== undefined) {
        this.fail(call, refused);
        return;
      }
    }
    if (pages !== undefined) {
      const q = req.url!.indexOf('?');
      pages.serve(call, q === -1 ? req.url! : req.url!.slice(0, q), q === -1 ? '' : req.url!.slice(q + 1), this.#address!);
      return;
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
        serveHealth(call, this.#sender);
        return;
      case 'status':
        serveStatus(call, this.#sender, () => ({ address: this.#address, requestsInFlight: this.#calls.size - 1, eventsInFlight: this.#eventsInFlight, requests: this.#requests }));
        return;
      case 'metrics':
        void serveMetrics(call, this.#metricsText);
        return;
    }
  }

  #startEvent(call: GatewayCall, route: EventRoute): void {
    const timeoutMs = parseEventTimeout(call.req.headers['x-event-timeout'], this.#eventTimeoutMs);
    if (typeof timeoutMs !== 'number') {
      this.fail(call, timeoutMs);
      return;
    }
    const headers = gatewayEventHeaders(call.req.rawHeaders, call.req.headers.host);
    if (!Array.isArray(headers)) {
      this.fail(call, new RestpipeError(ErrorCode.BAD_REQUEST, `the request's headers cannot travel: ${headers.problem}`));
      return;
    }
    call.route = route;
    call.timeoutMs = timeoutMs;
    call.headers = headers;
    this.#eventsInFlight++;
    if (channels.gatewayEventEnd.hasSubscribers) observeStart(call, this.#role);
    // No size limit here (SPEC §9): the node whose handler buffers a body refuses one over its
    // --max-body (413 from there), so the body is always wanted.
    if (call.expectsContinue) call.res.writeContinue();
    if (!isInlineBody(call.req)) {
      // The body enters the pipe as it arrives; the connection is kept only if it is read whole.
      this.onEventBody(call, undefined);
      return;
    }
    call.closeConnection = false; // readBody either reads the body or says to close
    readBody(call.req, INLINE_REQUEST_BYTES, call);
    // Node's requestTimeout is off (streamed bodies have no such bound): a small body must
    // still arrive in time, or a trickling caller would hold an event slot for ever.
    if (!call.bodyRead && !call.closed) call.armBodyTimer(this.#requestTimeoutMs);
  }

  /**
   * @internal the body of an event request has arrived: the event goes to the sender as it
   * is. Its head was parsed by the route; its body is parsed (JSON) once, by the node whose
   * handler receives it.
   */
  onEventBody(call: GatewayCall, data: Buffer | readonly Buffer[] | undefined): void {
    if (!call.canRespond) return;
    const route = call.route!;
    const controller = call.connectionController();
    const event = gatewayEvent(call, route, data);
    if (call.observed !== undefined) {
      // A streamed body is tapped where the request is piped into it, which sets the pace.
      if (data === undefined) tapRequestBody(call.observed, call.req);
      else if (Array.isArray(data)) for (const piece of data as readonly Buffer[]) observeRequestBody(call.observed, piece);
      else observeRequestBody(call.observed, data as Buffer);
    }
    let reply: Promise<Reply>;
    try {
      reply = this.#sender.send(route.target, event, { signal: controller.signal, timeoutMs: call.timeoutMs, stream: true });
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
    const head = replyHead(reply);
    if (head instanceof RestpipeError) {
      this.fail(call, head);
      return;
    }
    const { status, headers, bodyless } = head;
    const { body } = reply;
    if (body !== undefined && !bodyless) {
      // The request body may still be streaming (a handler that echoes it): it goes on; the
      // connection is closed after the reply if the request was not read to its end.
      call.responded = true;
      if (this.#closing) headers.push('Connection', 'close');
      const observed = call.observed;
      if (observed !== undefined) observeStreamedReply(observed, status, headers, reply.code);
      writeStreamedReply(call.res, status, headers, reply as Reply & { body: Readable }, (err) => {
        if (err !== undefined) {
          if (this.#log.isLevelEnabled('debug')) this.#log.debug({ err: err.message }, 'reply body ended abnormally; response aborted');
          return;
        }
        if (call.stopUnreadBody()) {
          lingerBeforeClose(call.req, LINGER_MS);
          (call.req.socket as Socket & { destroySoon(): void }).destroySoon();
        }
      });
      // Tapped after the body is piped into the response, which then sets its pace.
      if (observed !== undefined) tapReplyBody(observed, body);
      return;
    }
    // Nobody reads a body a bodyless status cannot carry: the far side is told to stop.
    body?.destroy();
    if (call.observed !== undefined) call.observed.returnCode = reply.code;
    // A reply to HEAD declares the length of the body GET would have, when it is known.
    const length = call.req.method === 'HEAD' ? reply.length : dataLength(reply);
    if (!bodyless && length !== undefined) headers.push('Content-Length', String(length));
    // An inline body that came across network reads is written as those pieces (body-pieces.ts).
    this.respond(call, status, headers, bodyless ? undefined : (dataPieces(reply) ?? reply.data));
  }

  /** @internal answers `err` as SPEC §4's JSON error, unless the caller is gone or already answered. */
  fail(call: GatewayCall, err: unknown): void {
    if (!call.canRespond) {
      if (this.#log.isLevelEnabled('debug') && !call.responded) {
        this.#log.debug({ err: (err as Error)?.message }, 'request ended without a response: the HTTP caller left');
      }
      return;
    }
    const answer = errorResponse(err, this.#closing);
    if (answer.unexpected) this.#log.error({ err: answer.message }, 'gateway request failed unexpectedly');
    if (call.observed !== undefined) call.observed.errorCode = answer.code;
    if (err instanceof GatewayRouteError && err.allow !== undefined) answer.headers.push('Allow', err.allow);
    this.respond(call, answer.status, answer.headers, answer.body);
  }

  /** @internal writes one complete response. */
  respond(call: GatewayCall, status: number, headers: string[], body: Uint8Array | readonly Uint8Array[] | undefined): void {
    call.responded = true;
    call.stopUnreadBody();
    // Node turns `Connection: close` into closing the socket once the response is out.
    if (call.closeConnection || this.#closing) headers.push('Connection', 'close');
    // The caller may still be sending the body we refused: a plain close would reset the
    // connection and could take this answer with it (see linger.ts).
    if (call.closeConnection) lingerBeforeClose(call.req, LINGER_MS);
    if (call.observed !== undefined) observeResponse(call, status, headers, body);
    try {
      const { res } = call;
      res.writeHead(status, headers);
      if (body === undefined || !Array.isArray(body)) {
        res.end(body);
      } else {
        // Corked, the head and every piece leave in one write, as `end(body)` sends them.
        res.cork();
        for (const piece of body as readonly Uint8Array[]) res.write(piece);
        res.end();
        res.uncork();
      }
    } catch (err) {
      // Only a bug can get here (headers are checked above); never leave the socket half-answered.
      this.#log.error({ err: (err as Error).message, status }, 'could not write a gateway response');
      call.res.destroy();
    }
  }

  /** @internal the response closed; `hungUp` when it had not finished. */
  onCallClosed(call: GatewayCall, hungUp: boolean): void {
    if (!call.end()) return;
    observeEnd(call);
    this.#calls.delete(call);
    if (call.route !== undefined) this.#eventsInFlight--;
    if (hungUp && call.controller !== undefined && !call.controller.signal.aborted) {
      if (this.#log.isLevelEnabled('debug')) {
        this.#log.debug({ verb: call.route?.verb, noun: truncate(call.route?.noun ?? '') }, 'the HTTP caller hung up; cancelling its event');
      }
      call.controller.abort(new RestpipeError(ErrorCode.ABORTED, 'the HTTP caller hung up'));
    }
    if (this.#calls.size === 0) this.#onDrained?.();
  }

}
