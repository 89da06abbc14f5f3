import { ServerResponse, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { ErrorCode, RestpipeError } from '../errors.js';
import type { ParsedEvent, Reply } from '../event.js';
import { gatewayEventHeaders } from '../http-headers.js';
import type { Logger } from '../log.js';
import { MAX_TIMER_MS } from '../options/defaults.js';
import type { EventSender } from '../sender.js';
import { truncate } from '../text.js';
import { coalesceWrites } from '../stream/coalesce.js';
import { hasBody } from './body.js';
import { rawResponseHead } from './client-error.js';
import { replyHead, routeEvent } from './event-streams.js';
import type { HostPolicy } from './host-check.js';
import { errorResponse } from './http-errors.js';
import { GatewayRouteError, parseEventTimeout, parseGatewayRequest } from './routes.js';

/**
 * WebSocket handshakes through the gateway (SPEC §10): `GET /server/NOUN` (or
 * `/client/NAME/NOUN`) with `Upgrade: websocket` becomes an event whose body is the caller's
 * bytes after the handshake; the far side's forward answers 101 and streams the upstream's
 * bytes back as the reply body. Node hands an upgrade request over as a bare socket, so the
 * answers here are written as raw HTTP/1.1.
 */

/** What the tunnels need from their gateway. */
export interface TunnelContext {
  sender: EventSender;
  role: 'server' | 'client';
  hostPolicy: HostPolicy;
  /** A unix-socket gateway: no Host/Origin checks (only local processes with file access reach it). */
  isUnix: boolean;
  isClosing(): boolean;
  log: Logger;
}

const EMPTY = new Uint8Array(0);
/** TCP keepalive on WebSocket sockets: a peer that vanished without a FIN is found within minutes. */
export const KEEPALIVE_MS = 30_000;

/** The gateway's WebSocket connections: the handshakes in progress and the tunnels open. */
export class WebSocketTunnels {
  readonly #ctx: TunnelContext;
  readonly #sockets = new Set<Socket>();

  constructor(ctx: TunnelContext) {
    this.#ctx = ctx;
  }

  /** Connections that are upgrading or upgraded. */
  get size(): number {
    return this.#sockets.size;
  }

  /** The http server's 'upgrade': a request asking to switch protocols, with its socket. */
  onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    // Errors end in 'close', which cancels the event; an unhandled one would crash the node.
    socket.on('error', ignore);
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const event = this.#eventOf(req, socket, head);
    if (event instanceof RestpipeError) {
      writeError(socket, event);
      return;
    }
    const controller = new AbortController();
    socket.once('close', () => {
      event.event.body!.destroy();
      controller.abort(new RestpipeError(ErrorCode.ABORTED, 'the WebSocket caller hung up'));
    });
    let reply: Promise<Reply>;
    try {
      reply = this.#ctx.sender.send(event.target, event.event, { signal: controller.signal, timeoutMs: event.timeoutMs, stream: true });
    } catch (err) {
      writeError(socket, err);
      return;
    }
    reply.then(
      (r) => this.#onReply(socket, r, event.event.body!),
      (err: unknown) => writeError(socket, err, this.#ctx.isClosing()),
    );
  }

  /** Ends every connection (the gateway is closing): open WebSockets end abnormally. */
  closeAll(): void {
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  /** The event of a handshake, or why it is refused (the gateway's checks, in its order). */
  #eventOf(req: IncomingMessage, socket: Socket, head: Buffer): { target: string | undefined; event: ParsedEvent; timeoutMs: number } | RestpipeError {
    const ctx = this.#ctx;
    if (ctx.isClosing()) return new RestpipeError(ErrorCode.CLOSED, 'the gateway is shutting down');
    if (req.headers['sec-websocket-key'] === undefined) return new RestpipeError(ErrorCode.BAD_REQUEST, 'a WebSocket handshake without Sec-WebSocket-Key');
    if (!ctx.isUnix) {
      // A page in a browser may open a WebSocket to any address: the same cross-site rules.
      const refused = ctx.hostPolicy.check(req.headers);
      if (refused !== undefined) return refused;
    }
    const route = parseGatewayRequest(req.method, req.url, ctx.role);
    if (route instanceof GatewayRouteError) return route;
    if (route.kind !== 'event') return new RestpipeError(ErrorCode.BAD_REQUEST, `${route.kind} does not switch protocols`);
    if (route.verb !== 'get') return new GatewayRouteError(ErrorCode.METHOD_NOT_ALLOWED, 'a WebSocket handshake is a GET', 'GET');
    // A WebSocket may be quiet for hours (a browser cannot send X-Event-Timeout): by default its
    // event has no idle deadline. Its handshake still ends: the far node's forward answers 504
    // after --forward-timeout, a handler at once; TCP keepalive finds a vanished caller.
    const timeoutMs = parseEventTimeout(req.headers['x-event-timeout'], MAX_TIMER_MS);
    if (typeof timeoutMs !== 'number') return timeoutMs;
    const headers = gatewayEventHeaders(req.rawHeaders, req.headers.host);
    if (!Array.isArray(headers)) return new RestpipeError(ErrorCode.BAD_REQUEST, `the request's headers cannot travel: ${headers.problem}`);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    // The caller's bytes after the handshake, as they come (flow control: the pipe's credit).
    const body = new PassThrough();
    if (head.byteLength > 0) body.write(head);
    socket.pipe(body);
    const event = routeEvent(route, '', EMPTY);
    event.headers = headers;
    event.body = body;
    return { target: route.target, event, timeoutMs };
  }

  #onReply(socket: Socket, reply: Reply, requestBody: Readable): void {
    const { body } = reply;
    if (socket.destroyed) {
      body?.destroy();
      return;
    }
    if (reply.status === 101 && body !== undefined) {
      const lines = ['HTTP/1.1 101 Switching Protocols', 'Connection: Upgrade', 'Upgrade: websocket'];
      // Names and values were checked where they entered the pipe (http-headers.ts).
      const h = reply.headers ?? [];
      for (let i = 0; i + 1 < h.length; i += 2) lines.push(`${h[i]}: ${h[i + 1]}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      pipeToSocket(body, socket);
      return;
    }
    // Not switched (no forward there, or the upstream refused): an ordinary answer, then close.
    requestBody.destroy();
    const answer = replyHead(reply);
    if (answer instanceof RestpipeError) {
      body?.destroy();
      writeError(socket, answer);
      return;
    }
    const { status, headers, bodyless } = answer;
    if (body !== undefined && !bodyless) {
      if (reply.length !== undefined) headers.push('Content-Length', String(reply.length));
      writeHead(socket, status, headers);
      pipeToSocket(body, socket);
      return;
    }
    body?.destroy();
    if (!bodyless) headers.push('Content-Length', String(reply.data.byteLength));
    writeHead(socket, status, headers);
    if (bodyless) socket.end();
    else socket.end(reply.data);
  }
}

/** A body into the socket: a clean end ends the socket, an abnormal one destroys it. */
function pipeToSocket(body: Readable, socket: Socket): void {
  body.once('error', () => socket.destroy());
  coalesceWrites(body, socket);
  body.pipe(socket);
}

function writeHead(socket: Socket, status: number, headers: string[]): void {
  socket.write(rawResponseHead(status, headers));
}

/**
 * The http server's 'upgrade': a WebSocket handshake goes to the tunnels; another protocol
 * (h2c) is served as a plain request through `serve`, unless it has a body Node left unparsed.
 */
export function routeUpgrade(req: IncomingMessage, socket: Socket, head: Buffer, tunnels: WebSocketTunnels, serve: (res: ServerResponse) => void): void {
  if (isWebSocketUpgrade(req)) {
    tunnels.onUpgrade(req, socket, head);
  } else if (hasBody(req)) {
    socket.on('error', ignore);
    writeError(socket, new RestpipeError(ErrorCode.BAD_REQUEST, `the gateway speaks HTTP/1.1 only and cannot read the body of a request asking to upgrade to ${truncate(String(req.headers.upgrade), 40)}: send it without Upgrade`));
  } else {
    serve(plainResponse(req, socket, head));
  }
}

/** Whether an upgrade request asks for a WebSocket (the only protocol the gateway switches to). */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return String(req.headers.upgrade).toLowerCase() === 'websocket';
}

/**
 * A response object for an upgrade request the gateway answers in HTTP/1.1 instead (RFC 9110
 * §7.8 lets a server ignore Upgrade: `curl --http2` asks for h2c). Node hands such a request
 * over with its bare socket; the response closes the connection when it is done. Its body, if
 * it has one, was not parsed: such a request must be refused, not served.
 */
function plainResponse(req: IncomingMessage, socket: Socket, head: Buffer): ServerResponse {
  socket.on('error', ignore);
  if (head.byteLength > 0) socket.unshift(head);
  const res = new ServerResponse(req);
  res.shouldKeepAlive = false;
  res.assignSocket(socket);
  res.once('finish', () => {
    res.detachSocket(socket);
    socket.destroySoon();
  });
  return res;
}

/** SPEC §4's JSON error, then the connection closes. */
function writeError(socket: Socket, err: unknown, closing = false): void {
  if (socket.destroyed) return;
  const answer = errorResponse(err, closing);
  if (err instanceof GatewayRouteError && err.allow !== undefined) answer.headers.push('Allow', err.allow);
  writeHead(socket, answer.status, answer.headers);
  socket.end(answer.body);
}

function ignore(): void {}
