import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough, type Readable } from 'node:stream';
import { coalesceWrites } from '../stream/coalesce.js';
import { ErrorCode, RestpipeError } from '../errors.js';
import type { ParsedEvent, Reply } from '../event.js';
import type { GatewayCall } from './gateway-call.js';
import type { EventRoute } from './routes.js';
import { replyStatus } from './http-errors.js';
import { partsLength, setDataPieces } from '../body-pieces.js';

/**
 * The gateway's side of streamed bodies (SPEC §9): which request bodies are read whole before
 * their event goes and which enter the pipe as they arrive, and how a reply body reaches the
 * caller as it arrives.
 */

/**
 * A request body of at most this many bytes, with a Content-Length, is read whole before its
 * event is sent: the pipe then sends it inline, in the event's one frame (its MAX_INLINE_BYTES).
 * Any other body (longer, or chunked) streams.
 */
export const INLINE_REQUEST_BYTES = 64 * 1024;

/** Whether the request's body is small and of known length: read it whole, send it inline. */
export function isInlineBody(req: IncomingMessage): boolean {
  const declared = req.headers['content-length'];
  if (declared === undefined) return req.headers['transfer-encoding'] === undefined;
  return Number(declared) <= INLINE_REQUEST_BYTES;
}

const EMPTY = Buffer.alloc(0);

/**
 * The event of a gateway request, as its route parsed it: with its body in `data` (read whole,
 * kept as the chunks it came in: body-pieces.ts), or, with `data` undefined, streaming from the
 * request ({@link requestBodyStream}, kept on the call) with the declared length when there is one.
 */
export function gatewayEvent(call: GatewayCall, route: EventRoute, data: Buffer | readonly Buffer[] | undefined): ParsedEvent {
  const event = routeEvent(route, call.req.headers['content-type'] ?? '', data === undefined || Array.isArray(data) ? EMPTY : (data as Buffer));
  if (Array.isArray(data)) setDataPieces(event, data, partsLength(data));
  if (call.headers !== undefined && call.headers.length > 0) event.headers = call.headers;
  if (data === undefined) {
    event.body = call.bodyStream = requestBodyStream(call.req);
    const declared = call.req.headers['content-length'];
    if (declared !== undefined) event.length = Number(declared);
  }
  return event;
}

/** The event of a gateway route, with a body in memory (empty when one will stream). */
export function routeEvent(route: EventRoute, mimetype: string, data: Uint8Array): ParsedEvent {
  return { verb: route.verb, noun: route.noun, path: route.path, params: route.params, method: route.method, query: route.query, mimetype, data };
}

/**
 * The request body as the stream the pipe reads. Not the request itself: the pipe destroys its
 * source when the event ends first (its reply came before the whole body, or the caller gave
 * up), and destroying a request destroys its socket, with the answer still to be written. So
 * the request is piped into a stream of our own, and only that one is destroyed: the request
 * is then unpiped and the connection is closed after the answer (with a lingering close).
 *
 * A request that breaks off (the caller left, or sent a bad chunk) destroys the stream with
 * `aborted`: for the pipe an abnormal end, never a clean one.
 */
export function requestBodyStream(req: IncomingMessage): Readable {
  const body = new PassThrough({ highWaterMark: INLINE_REQUEST_BYTES });
  req.pipe(body);
  const onBroken = (err?: Error): void => {
    if (req.complete || body.destroyed) return;
    body.destroy(new RestpipeError(ErrorCode.ABORTED, 'the HTTP request body broke off', err === undefined ? undefined : { cause: err }));
  };
  req.on('error', onBroken);
  req.on('close', onBroken);
  body.on('close', () => {
    req.off('error', onBroken);
    req.off('close', onBroken);
    if (!req.complete) req.unpipe(body);
  });
  return body;
}

// Node's own rule for header values (`checkInvalidHeaderChar`): a reply's mimetype comes from
// the far side and must not be able to make writeHead throw or split the response.
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * A reply's status and headers (`X-Event-Return-Code`, `Content-Type`, the handler's headers,
 * which the pipe checked: none hop-by-hop, bounded), and whether the status has no body (204,
 * 304: RFC 9110 §15.3.5, §15.4.5); a `protocol_error` for a mimetype HTTP cannot carry.
 */
export function replyHead(reply: Reply): { status: number; headers: string[]; bodyless: boolean } | RestpipeError {
  const { mimetype } = reply;
  if (typeof mimetype !== 'string' || INVALID_HEADER_VALUE.test(mimetype)) {
    return new RestpipeError(ErrorCode.PROTOCOL_ERROR, 'the reply carries a mimetype that is not a valid HTTP header value');
  }
  const status = replyStatus(reply);
  const headers: string[] = ['X-Event-Return-Code', String(reply.code)];
  if (mimetype !== '') headers.push('Content-Type', mimetype);
  if (reply.headers !== undefined) for (const h of reply.headers) headers.push(h);
  return { status, headers, bodyless: status === 204 || status === 304 };
}

/**
 * Writes a reply whose body streams: status and headers at once (`Content-Length` when the far
 * side declared the length, else chunked), then the body as it arrives, holding the far side
 * back while the caller reads slowly (credit returns as the response takes bytes). An abnormal
 * end (a reset, a cut pipe, a short body) destroys the response: the caller sees a connection
 * closed before the final chunk or short of Content-Length, never a complete-looking body.
 * `onDone(err)` runs once the body is written or failed.
 */
export function writeStreamedReply(res: ServerResponse, status: number, headers: string[], reply: Reply & { body: Readable }, onDone: (err: Error | undefined) => void): void {
  const { body } = reply;
  if (reply.length !== undefined) headers.push('Content-Length', String(reply.length));
  res.writeHead(status, headers);
  let done = false;
  const finish = (err: Error | undefined): void => {
    if (done) return;
    done = true;
    body.off('error', onError);
    body.off('end', onEnd);
    res.off('close', onClose);
    if (err !== undefined) {
      body.unpipe(res);
      body.destroy(err);
      res.destroy(err);
    }
    onDone(err);
  };
  const onError = (err: Error): void => finish(err);
  const onEnd = (): void => finish(undefined);
  // The caller left before the end: the reply's reader is gone (the pipe cancels the event).
  const onClose = (): void => {
    if (!res.writableFinished) finish(new RestpipeError(ErrorCode.ABORTED, 'the HTTP caller left during the reply body'));
  };
  body.on('error', onError);
  body.on('end', onEnd);
  res.on('close', onClose);
  coalesceWrites(body, res);
  body.pipe(res);
}
