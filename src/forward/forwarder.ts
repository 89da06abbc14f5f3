import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { PassThrough, pipeline } from 'node:stream';
import { rootCertificates } from 'node:tls';
import { collectBody } from '../bodies.js';
import { ErrorCode, RestpipeError } from '../errors.js';
import { ReturnCode, urlPathProblem, type ParsedEvent, type PeerInfo, type Reply, type SignalSource } from '../event.js';
import { carriedHeaders, isWebSocketHandshake } from '../http-headers.js';
import { silentLogger, type Logger } from '../log.js';
import { errorReply } from '../replies.js';
import { truncate } from '../text.js';
import { coalesceWrites, STREAMED_SOCKET_HIGH_WATER_BYTES } from '../stream/coalesce.js';
import type { ForwardMatch, ForwardTable, ForwardTarget } from './forward-table.js';

/**
 * Forwarding (SPEC §10): an event a forward takes becomes an HTTP request to its upstream, and
 * the upstream's response (status, headers, body streamed as it comes) becomes the reply. The
 * dispatcher's sibling: it runs where a handler would, after the access rules.
 */

/** Options of {@link createForwarder}. */
export interface ForwarderOptions {
  table: ForwardTable;
  /** How long the upstream may take to send its response head, ms (`--forward-timeout`). */
  responseTimeoutMs: number;
  /** Extra trusted CA certificates (PEM) for https upstreams, besides the system's (`--forward-ca`). */
  ca?: string | undefined;
  logger?: Logger;
  role: 'server' | 'client';
}

/** A node's forwards, ready to take events. */
export interface Forwarder {
  readonly table: ForwardTable;
  /** The reply of an event a forward takes; undefined when no forward takes its noun. */
  forward(event: ParsedEvent, peer: PeerInfo, signal: AbortSignal | SignalSource): Promise<Reply> | undefined;
  /** Closes the idle upstream connections kept for reuse. */
  close(): void;
}

const EMPTY = new Uint8Array(0);
/** A response body of at most this many bytes, with a Content-Length, is read whole (the gateway's INLINE_REQUEST_BYTES, the other way). */
const INLINE_REPLY_BYTES = 64 * 1024;
// Methods whose request has a body by definition: an empty one is sent as Content-Length: 0.
const BODY_VERBS: ReadonlySet<string> = new Set(['post', 'put', 'patch']);
// A header the caller may not set: it names the calling node, which only this node knows.
const PEER_HEADER = 'x-restpipe-peer';

/** Makes the forwarder of a node's `--forward` table. */
export function createForwarder(options: ForwarderOptions): Forwarder {
  const { table, responseTimeoutMs } = options;
  const log = (options.logger ?? silentLogger).child({ component: 'forward', role: options.role });
  // Kept-alive connections per upstream, as any reverse proxy keeps them: a forwarded small
  // GET then costs no TCP (or TLS) handshake.
  // Upstream sockets carry streamed bodies both ways: the gateway's high-water mark (coalesce.ts).
  // Node passes an agent's options on to each socket it creates; @types/node does not list this one.
  const sockets = { keepAlive: true, maxFreeSockets: 64, highWaterMark: STREAMED_SOCKET_HIGH_WATER_BYTES };
  const httpAgent = new http.Agent(sockets);
  const httpsAgent = new https.Agent({ ...sockets, ...(options.ca === undefined ? {} : { ca: [...rootCertificates, options.ca] }) });
  const health = new UpstreamHealth(log);
  return {
    table,
    forward(event, peer, signal) {
      const match = table.match(event.noun, event.query);
      if (match === undefined) return undefined;
      // A noun a handler could have (`files//../x`: parameters) or a peer's query may hold what
      // a URL path must not: refused here, so nothing climbs out of the prefix or splits the request.
      const problem = urlPathProblem(event.noun) ?? queryProblem(event.query);
      if (problem !== undefined) return Promise.resolve(errorReply(ReturnCode.BAD_REQUEST, ErrorCode.BAD_REQUEST, `forward ${match.target.prefix}: ${problem}`));
      const agent = match.target.protocol === 'https:' ? httpsAgent : httpAgent;
      return forwardEvent(event, peer, signal instanceof AbortSignal ? signal : signal.signal, match, agent, responseTimeoutMs, health);
    },
    close() {
      httpAgent.destroy();
      httpsAgent.destroy();
    },
  };
}

/** One forwarded event: the upstream request, and its response or failure as the reply. */
function forwardEvent(
  event: ParsedEvent,
  peer: PeerInfo,
  signal: AbortSignal,
  match: ForwardMatch,
  agent: http.Agent,
  responseTimeoutMs: number,
  health: UpstreamHealth,
): Promise<Reply> {
  const { target, path } = match;
  const upgrade = isWebSocketHandshake(event.verb, event.headers);
  return new Promise<Reply>((resolve) => {
    let settled = false;
    const settle = (reply: Reply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(reply);
    };
    let request: http.ClientRequest;
    try {
      request = (target.protocol === 'https:' ? https : http).request({
        protocol: target.protocol,
        hostname: target.hostname,
        port: target.port,
        method: event.verb.toUpperCase(),
        path,
        headers: requestHeaders(event, target, peer, upgrade),
        setHost: false,
        agent,
      });
    } catch (err) {
      // Node refuses a path or header it cannot send (what the checks above let through must not crash the event).
      event.body?.destroy();
      resolve(errorReply(ReturnCode.BAD_REQUEST, ErrorCode.BAD_REQUEST, `forward ${target.prefix}: the request cannot be sent: ${truncate((err as Error).message, 200)}`));
      return;
    }
    const timer = setTimeout(() => {
      request.destroy(new RestpipeError(ErrorCode.UPSTREAM_TIMEOUT, `forward ${target.prefix}: ${target.url} sent no response head within ${responseTimeoutMs / 1000} s (--forward-timeout)`));
    }, responseTimeoutMs);
    // The caller gave up (cancel, deadline, pipe gone): the upstream request goes too.
    const onAbort = (): void => {
      request.destroy(new RestpipeError(ErrorCode.ABORTED, 'the event was given up'));
      settle(errorReply(ReturnCode.UPSTREAM_FAILED, ErrorCode.ABORTED, 'the event was given up'));
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });

    request.on('error', (err: Error) => {
      if (settled) return;
      event.body?.destroy();
      settle(failureReply(target, err, health));
    });
    request.on('response', (res: IncomingMessage) => {
      health.answered(target);
      clearTimeout(timer);
      const reply = responseReply(event, res, target);
      // A small body still arriving: the caller may still give up (onAbort destroys it).
      if (reply instanceof Promise) void reply.then(settle);
      else settle(reply);
    });
    request.on('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      health.answered(target);
      settle(upgradeReply(event, res, socket, head, target));
    });

    if (upgrade) {
      // The WebSocket's bytes follow the 101 (upgradeReply): the handshake request has no body.
      request.end();
    } else if (event.body !== undefined) {
      coalesceWrites(event.body, request);
      pipeline(event.body, request, (err) => {
        if (err !== undefined && err !== null && !request.destroyed) request.destroy(err);
      });
    } else {
      request.end(event.data.byteLength === 0 ? undefined : event.data);
    }
  });
}

/**
 * The upstream request's headers: the event's (hop-by-hop ones never travelled; its
 * `X-Forwarded-Host` is the Host its caller sent the gateway), `Host` the upstream's,
 * `X-Forwarded-Proto` (the gateway speaks plain HTTP) unless a proxy in front set it,
 * `X-Forwarded-For` with the calling node's address appended, `X-Restpipe-Peer` the calling node's CN (a caller's own is dropped: it cannot name
 * itself), the body's `Content-Type` and `Content-Length`, and for a WebSocket handshake the
 * `Connection: Upgrade` / `Upgrade: websocket` pair the pipe does not carry.
 */
function requestHeaders(event: ParsedEvent, target: ForwardTarget, peer: PeerInfo, upgrade: boolean): string[] {
  const out: string[] = ['host', target.host];
  let hasProto = false;
  let forwardedFor: string | undefined;
  const list = event.headers;
  if (list !== undefined) {
    for (let i = 0; i + 1 < list.length; i += 2) {
      const name = list[i]!;
      if (name === PEER_HEADER) continue;
      if (name === 'x-forwarded-for') {
        forwardedFor = forwardedFor === undefined ? list[i + 1]! : `${forwardedFor}, ${list[i + 1]!}`;
        continue;
      }
      if (name === 'x-forwarded-proto') hasProto = true;
      out.push(name, list[i + 1]!);
    }
  }
  if (!hasProto) out.push('x-forwarded-proto', 'http');
  // As Go's ReverseProxy does: this hop's client (the calling node) appended to the chain.
  if (peer.address !== '') out.push('x-forwarded-for', forwardedFor === undefined ? peer.address : `${forwardedFor}, ${peer.address}`);
  else if (forwardedFor !== undefined) out.push('x-forwarded-for', forwardedFor);
  out.push(PEER_HEADER, peer.name);
  if (event.mimetype !== '') out.push('content-type', event.mimetype);
  if (upgrade) {
    out.push('connection', 'Upgrade', 'upgrade', 'websocket');
  } else if (event.body !== undefined) {
    // Without a length Node sends the body chunked.
    if (event.length !== undefined) out.push('content-length', String(event.length));
  } else if (event.data.byteLength > 0 || BODY_VERBS.has(event.verb)) {
    out.push('content-length', String(event.data.byteLength));
  }
  return out;
}

/**
 * The reply of an upstream response: its status, its headers but hop-by-hop ones (and those
 * the pipe carries itself: Content-Type is the mimetype, Content-Length the length), its body
 * streaming as it arrives (or read whole first when it is small and of known length). A response to HEAD, a 204 or a 304 has no body: the reply keeps the
 * length the upstream declared (HEAD's Content-Length), nothing more.
 */
function responseReply(event: ParsedEvent, res: IncomingMessage, target: ForwardTarget): Reply | Promise<Reply> {
  const headers = carriedHeaders(res.rawHeaders);
  if (!Array.isArray(headers)) {
    res.destroy();
    return upstreamError(ErrorCode.UPSTREAM_UNREACHABLE, 502, `forward ${target.prefix}: the response of ${target.url} cannot be passed on: ${headers.problem}`);
  }
  const status = res.statusCode ?? 502;
  const reply: Reply = { code: ReturnCode.OK, mimetype: res.headers['content-type'] ?? '', data: EMPTY, status };
  if (headers.length > 0) reply.headers = headers;
  const declared = contentLength(res.headers['content-length']);
  if (event.verb === 'head' || status === 204 || status === 304) {
    res.resume();
    if (event.verb === 'head' && declared !== undefined) reply.length = declared;
    return reply;
  }
  if (declared !== undefined && declared <= INLINE_REPLY_BYTES) {
    // A small body of known length is read whole: its reply then travels as one frame, as a
    // handler's small reply does, instead of a head and a stream (most forwarded GETs).
    return collectBody(res, declared).then(
      (data) => (data === undefined || data.byteLength !== declared ? brokeOff(target) : { ...reply, data }),
      () => brokeOff(target),
    );
  }
  reply.body = res;
  if (declared !== undefined) reply.length = declared;
  return reply;
}

/** The reply of a small response whose body broke off before its head went on: nothing reached the caller yet. */
function brokeOff(target: ForwardTarget): Reply {
  return upstreamError(ErrorCode.UPSTREAM_UNREACHABLE, 502, `forward ${target.prefix}: the response of ${target.url} broke off before its end`);
}

/**
 * The reply of a WebSocket handshake the upstream accepted: status 101 with its headers
 * (Sec-WebSocket-Accept, -Protocol, -Extensions), then the upstream's bytes as the reply body
 * while the event's body (the caller's bytes) flows into the upstream socket. A clean end on
 * one side half-closes the other; an error on either tears both down.
 */
function upgradeReply(event: ParsedEvent, res: IncomingMessage, socket: Socket, head: Buffer, target: ForwardTarget): Reply {
  const headers = carriedHeaders(res.rawHeaders);
  if (!Array.isArray(headers)) {
    socket.destroy();
    return upstreamError(ErrorCode.UPSTREAM_UNREACHABLE, 502, `forward ${target.prefix}: the WebSocket handshake response of ${target.url} cannot be passed on: ${headers.problem}`);
  }
  socket.setNoDelay(true);
  socket.setKeepAlive(true, 30_000);
  const fromUpstream = new PassThrough();
  if (head.byteLength > 0) fromUpstream.write(head);
  pipeline(socket, fromUpstream, ignore);
  if (event.body !== undefined) {
    coalesceWrites(event.body, socket);
    pipeline(event.body, socket, ignore);
  } else {
    socket.end();
  }
  const reply: Reply = { code: ReturnCode.OK, mimetype: '', data: EMPTY, status: 101, body: fromUpstream };
  if (headers.length > 0) reply.headers = headers;
  return reply;
}

/** The reply of a request that got no response: 504 after the timeout, else 502. */
function failureReply(target: ForwardTarget, err: Error, health: UpstreamHealth): Reply {
  if ((err as RestpipeError).code === ErrorCode.UPSTREAM_TIMEOUT) return upstreamError(ErrorCode.UPSTREAM_TIMEOUT, 504, err.message);
  const why = `${(err as NodeJS.ErrnoException).code ?? 'error'}: ${truncate(err.message, 200)}`;
  health.failed(target, why);
  return upstreamError(ErrorCode.UPSTREAM_UNREACHABLE, 502, `forward ${target.prefix}: ${target.url} is unreachable (${why})`);
}

function upstreamError(code: ErrorCode, status: number, message: string): Reply {
  return { ...errorReply(ReturnCode.UPSTREAM_FAILED, code, message), status };
}

// A query travels as the gateway received it: visible ASCII without `#` (Node's HTTP parser lets
// no control character or space through; a peer's event is not so bound).
const QUERY_CHARS = /^[\x21-\x22\x24-\x7e]*$/;

function queryProblem(query: string): string | undefined {
  return QUERY_CHARS.test(query) ? undefined : `the query ${JSON.stringify(truncate(query))} has characters a URL may not carry`;
}

/** A Content-Length Node accepted (it refuses conflicting ones), as a number. */
function contentLength(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * One warning when an upstream stops answering and one line when it answers again, instead of
 * a line per failed event (an upstream that is down while callers keep asking would flood the
 * log). Each failure's reason reaches its caller in the 502 anyway.
 */
class UpstreamHealth {
  readonly #down = new Set<ForwardTarget>();
  constructor(readonly log: Logger) {}

  failed(target: ForwardTarget, why: string): void {
    if (this.#down.has(target)) {
      if (this.log.isLevelEnabled('debug')) this.log.debug({ prefix: target.prefix, url: target.url, why }, 'upstream still unreachable');
      return;
    }
    this.#down.add(target);
    this.log.warn({ prefix: target.prefix, url: target.url, why }, `forward ${target.prefix}: upstream ${target.url} is unreachable (${why}); callers get 502 until it answers (further failures logged at debug)`);
  }

  answered(target: ForwardTarget): void {
    if (this.#down.delete(target)) this.log.info({ prefix: target.prefix, url: target.url }, `forward ${target.prefix}: upstream ${target.url} answers again`);
  }
}

function ignore(): void {}

