import { setMaxListeners } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { ErrorCode, RestpipeError } from '../errors.js';
import type { GatewayEventMessage } from '../diagnostics.js';
import type { BodySink } from './body.js';
import type { EventRoute } from './routes.js';

/** What a call needs from its gateway (gateway.ts implements it). */
export interface CallOwner {
  /** The body of an event request has arrived: whole, or as the chunks it came in. */
  onEventBody(call: GatewayCall, body: Buffer | readonly Buffer[]): void;
  /** Answers `err` as SPEC §4's JSON error, unless the caller is gone or already answered. */
  fail(call: GatewayCall, err: unknown): void;
  /** Writes one complete response; a body may be given as pieces (written in order, never joined). */
  respond(call: GatewayCall, status: number, headers: string[], body: Uint8Array | readonly Uint8Array[] | undefined): void;
  /** The response closed; `hungUp` when it had not finished. */
  onCallClosed(call: GatewayCall, hungUp: boolean): void;
}

const kCall = Symbol('restpipe.gatewayCall');
const kCalls = Symbol('restpipe.gatewayCalls');
const kAbort = Symbol('restpipe.gatewayAbort');

type ResponseWithCall = ServerResponse & { [kCall]?: GatewayCall };
type SocketWithCalls = Socket & { [kCalls]?: Set<GatewayCall>; [kAbort]?: AbortController };

/**
 * One request: the only per-request object besides what node:http and the AbortController
 * make. It knows when its response closed (finished, or the caller hung up) and, for a
 * pipelined request that never got a response, when its connection did.
 */
export class GatewayCall implements BodySink {
  route: EventRoute | undefined;
  controller: AbortController | undefined;
  timeoutMs = 0;
  /** A response has been started. */
  responded = false;
  /** The response closed (finished, or the connection went away). */
  closed = false;
  /** Answer with `Connection: close`: the request's body was not (fully) read. */
  closeConnection = false;
  /** The request's headers that travel with its event (http-headers.ts). */
  headers: string[] | undefined;
  /** The request body streaming into the pipe (not read whole first). */
  bodyStream: Readable | undefined;
  /** The body read whole (inline) has arrived, or failed. */
  bodyRead = false;
  #bodyTimer: NodeJS.Timeout | undefined;
  /** What observers are told of this event request (observe.ts), while someone listens. */
  observed: GatewayEventMessage | undefined;
  /** When observation started (performance.now()). */
  observedAt = 0;

  constructor(
    readonly owner: CallOwner,
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    /** The client sent `Expect: 100-continue`; it gets `100 Continue` only when its body is wanted. */
    readonly expectsContinue: boolean,
  ) {
    (res as ResponseWithCall)[kCall] = this;
    res.on('close', onResponseClose);
    const socket = req.socket as SocketWithCalls;
    (socket[kCalls] ??= new Set()).add(this);
  }

  onBody(body: Buffer): void {
    this.#bodyDone();
    this.owner.onEventBody(this, body);
  }

  /** The body came in several chunks: they go on as they are, into the event's frame. */
  onBodyPieces(pieces: readonly Buffer[]): void {
    this.#bodyDone();
    this.owner.onEventBody(this, pieces);
  }

  onBodyError(err: RestpipeError): void {
    this.#bodyDone();
    this.closeConnection = true;
    this.owner.fail(this, err);
  }

  /**
   * Bounds the arrival of a body read whole: after `ms` from now the caller is answered 408 and
   * the connection closed.
   */
  armBodyTimer(ms: number): void {
    this.#bodyTimer = setTimeout(onBodyTimeout, ms, this, ms);
  }

  #bodyDone(): void {
    this.bodyRead = true;
    if (this.#bodyTimer !== undefined) clearTimeout(this.#bodyTimer);
    this.#bodyTimer = undefined;
  }

  /** Whether a response may still be written: none yet, and the connection is alive. */
  get canRespond(): boolean {
    return !this.responded && !this.closed && !this.req.socket.destroyed;
  }

  /** Writes one complete response (the info routes use it). */
  respond(status: number, headers: string[], body: Uint8Array | undefined): void {
    this.owner.respond(this, status, headers, body);
  }

  /** Answers `err` as a JSON error. */
  fail(err: unknown): void {
    this.owner.fail(this, err);
  }

  /**
   * A streamed request body not read to its end when its answer goes (the far side answered
   * first, or an error): it stops entering the pipe, and the connection is to close after the
   * answer. True when that is so.
   */
  stopUnreadBody(): boolean {
    const stream = this.bodyStream;
    if (stream === undefined) return false;
    this.closeConnection = !this.req.complete;
    if (this.closeConnection) stream.destroy();
    return this.closeConnection;
  }

  /**
   * Starts a response whose body the caller writes over time (server-sent events): the head
   * goes out now; the caller writes to and ends the returned response.
   */
  startStream(status: number, headers: string[]): ServerResponse {
    this.responded = true;
    this.res.writeHead(status, headers);
    this.res.flushHeaders();
    return this.res;
  }

  /** The call is over: its connection stops tracking it. Returns false when it already was. */
  end(): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.#bodyDone();
    (this.req.socket as SocketWithCalls)[kCalls]?.delete(this);
    return true;
  }

  /**
   * The AbortController of this call's event, shared by the events of its connection. A caller
   * hangs up by closing the connection (a response closes unfinished only when its socket
   * goes), which ends every request on it: so one controller per connection instead of one per
   * request.
   */
  connectionController(): AbortController {
    const socket = this.req.socket as SocketWithCalls;
    let controller = socket[kAbort];
    if (controller === undefined || controller.signal.aborted) {
      controller = new AbortController();
      // Pipelined requests each listen while in flight; that is no leak.
      setMaxListeners(0, controller.signal);
      socket[kAbort] = controller;
    }
    return (this.controller = controller);
  }
}

function onBodyTimeout(call: GatewayCall, ms: number): void {
  if (call.bodyRead) return;
  call.onBodyError(new RestpipeError(ErrorCode.REQUEST_TIMEOUT, `the request did not arrive in time: its body is allowed ${ms / 1000} s`));
}

/** res 'close': the request is over; if the response had not finished, the caller hung up. */
function onResponseClose(this: ResponseWithCall): void {
  const call = this[kCall];
  if (call !== undefined) call.owner.onCallClosed(call, !this.writableFinished);
}

/** For the http server's 'connection': a connection that closes ends the calls queued on it. */
export function trackConnection(socket: Socket): void {
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
  for (const call of calls) call.owner.onCallClosed(call, true);
}
