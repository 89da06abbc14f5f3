import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { PassThrough, type Readable } from 'node:stream';
import { ErrorCode, RestpipeError } from '../errors.js';
import type { ParsedEvent, Reply } from '../event.js';
import { gatewayEventHeaders } from '../http-headers.js';
import type { Logger } from '../log.js';
import type { EventSender } from '../sender.js';
import { replyHead } from './event-streams.js';
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
  eventTimeoutMs: number;
  isClosing(): boolean;
  log: Logger;
}

const EMPTY = new Uint8Array(0);

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
    if (String(req.headers.upgrade).toLowerCase() !== 'websocket' || req.headers['sec-websocket-key'] === undefined) {
      return new RestpipeError(ErrorCode.BAD_REQUEST, `the gateway passes only WebSocket upgrades (Upgrade: websocket with Sec-WebSocket-Key), not ${JSON.stringify(String(req.headers.upgrade).slice(0, 40))}`);
    }
    if (!ctx.isUnix) {
      // A page in a browser may open a WebSocket to any address: the same cross-site rules.
      const refused = ctx.hostPolicy.check(req.headers);
      if (refused !== undefined) return refused;
    }
    const route = parseGatewayRequest(req.method, req.url, ctx.role);
    if (route instanceof GatewayRouteError) return route;
    if (route.kind !== 'event') return new RestpipeError(ErrorCode.BAD_REQUEST, `${route.kind} does not switch protocols`);
    if (route.verb !== 'get') return new GatewayRouteError(ErrorCode.METHOD_NOT_ALLOWED, 'a WebSocket handshake is a GET', 'GET');
    const timeoutMs = parseEventTimeout(req.headers['x-event-timeout'], ctx.eventTimeoutMs);
    if (typeof timeoutMs !== 'number') return timeoutMs;
    const headers = gatewayEventHeaders(req.rawHeaders, req.headers.host);
    if (!Array.isArray(headers)) return new RestpipeError(ErrorCode.BAD_REQUEST, `the request's headers cannot travel: ${headers.problem}`);
    socket.setNoDelay(true);
    // The caller's bytes after the handshake, as they come (flow control: the pipe's credit).
    const body = new PassThrough();
    if (head.byteLength > 0) body.write(head);
    socket.pipe(body);
    const event: ParsedEvent = {
      verb: route.verb,
      noun: route.noun,
      path: route.path,
      params: route.params,
      method: route.method,
      query: route.query,
      mimetype: '',
      data: EMPTY,
      headers,
      body,
    };
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
  body.pipe(socket);
}

function writeHead(socket: Socket, status: number, headers: string[]): void {
  let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  socket.write(`${text}\r\n`);
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
