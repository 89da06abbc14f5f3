import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { ErrorCode, RestpipeError } from '../errors.js';

/**
 * Reading a request body under a limit (SPEC §4: over `--max-body` → 413), on the gateway's hot
 * path, so:
 * - a declared Content-Length over the limit is refused before a byte of the body is read
 *   (fastify's check; the caller answers at once and closes the connection);
 * - a chunked body is counted while it streams and refused the moment it passes the limit
 *   (reading stops; nothing more is buffered);
 * - chunks are kept as the parser hands them out and joined with one copy at the end, none
 *   when the body came in one chunk, and none for a sink that takes them as they are
 *   (`onBodyPieces`: the gateway, which only moves the body on into a frame);
 * - no closures per request: the listeners are module functions that find their state on the
 *   request object.
 *
 * How long reading may take is not this module's business: the server's `requestTimeout`
 * destroys a request that is not complete in time, which ends up here as `aborted`.
 */

/** Receives the outcome of {@link readBody}: exactly one of the two calls, exactly once. */
export interface BodySink {
  /**
   * The whole body (a shared empty Buffer when there is none). May be called synchronously
   * from `readBody` itself (no body to wait for).
   */
  onBody(body: Buffer): void;
  /**
   * When the sink has it: a body that came in more than one chunk, as those chunks (`bytes` in
   * all), instead of joined for {@link onBody}.
   */
  onBodyPieces?(pieces: readonly Buffer[], bytes: number): void;
  /**
   * Reading failed: `body_too_large` (answer 413 and close the connection: the rest of the
   * body is never read) or `aborted` (the request broke off; there is nobody to answer).
   */
  onBodyError(err: RestpipeError): void;
}

const EMPTY = Buffer.alloc(0);
const kReader = Symbol('restpipe.bodyReader');

interface ReaderState {
  sink: BodySink;
  maxBytes: number;
  /** The first chunk; most bodies are one chunk and are then handed on without a copy. */
  first: Buffer | undefined;
  /** All chunks, once there is more than one. */
  chunks: Buffer[] | undefined;
  bytes: number;
  done: boolean;
}

type ReadableRequest = IncomingMessage & { [kReader]?: ReaderState };

/**
 * Checks the declared length only: a `body_too_large` error when Content-Length is over
 * `maxBytes`, else undefined. Lets a server refuse a body before reading it (also from the
 * `checkContinue` event, before `100 Continue` invites the client to send it).
 */
export function contentLengthError(headers: IncomingHttpHeaders, maxBytes: number): RestpipeError | undefined {
  const declared = headers['content-length'];
  // Node's parser has already refused a Content-Length that is not a number, or that
  // disagrees with a second one, with its own 400.
  if (declared === undefined) return undefined;
  const n = Number(declared);
  return n > maxBytes ? tooLarge(`request body of ${declared} bytes exceeds the limit of ${maxBytes} bytes (maxBodyBytes, --max-body)`) : undefined;
}

/** Whether the request carries a body (RFC 9112 §6.3: a length other than 0, or a transfer coding). */
export function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  return (cl !== undefined && cl !== '0') || req.headers['transfer-encoding'] !== undefined;
}

/**
 * Reads `req`'s body, at most `maxBytes`, and reports to `sink` (see {@link BodySink}).
 * Call it once per request, before anything else consumes the request.
 */
export function readBody(req: IncomingMessage, maxBytes: number, sink: BodySink): void {
  const early = contentLengthError(req.headers, maxBytes);
  if (early !== undefined) {
    sink.onBodyError(early);
    return;
  }
  const declared = req.headers['content-length'];
  // A request with neither Content-Length nor Transfer-Encoding has no body (RFC 9112 §6.3):
  // answer at once instead of waiting a turn for the stream's 'end'.
  if (declared === '0' || (declared === undefined && req.headers['transfer-encoding'] === undefined)) {
    sink.onBody(EMPTY);
    return;
  }
  const r = req as ReadableRequest;
  r[kReader] = { sink, maxBytes, first: undefined, chunks: undefined, bytes: 0, done: false };
  r.on('data', onData);
  r.on('end', onEnd);
  r.on('error', onError);
  r.on('close', onClose);
}

/** {@link readBody} as a promise; rejects with the RestpipeError the sink would get. */
export function readBodyAsync(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => readBody(req, maxBytes, { onBody: resolve, onBodyError: reject }));
}

function onData(this: ReadableRequest, chunk: Buffer): void {
  const s = this[kReader];
  if (s === undefined || s.done) return;
  s.bytes += chunk.length;
  if (s.bytes > s.maxBytes) {
    s.done = true;
    s.first = undefined;
    s.chunks = undefined;
    // Stop here: nothing more is buffered, and the parser stops reading the socket once the
    // stream's buffer is full. The caller answers 413 with `Connection: close`, after which
    // Node closes the socket.
    this.pause();
    s.sink.onBodyError(tooLarge(`request body exceeds the limit of ${s.maxBytes} bytes (maxBodyBytes, --max-body)`));
    return;
  }
  if (s.first === undefined) s.first = chunk;
  else if (s.chunks === undefined) s.chunks = [s.first, chunk];
  else s.chunks.push(chunk);
}

function onEnd(this: ReadableRequest): void {
  const s = this[kReader];
  if (s === undefined || s.done) return;
  s.done = true;
  const { first, chunks, sink } = s;
  s.first = undefined;
  s.chunks = undefined;
  if (chunks === undefined) sink.onBody(first ?? EMPTY);
  else if (sink.onBodyPieces !== undefined) sink.onBodyPieces(chunks, s.bytes);
  else sink.onBody(Buffer.concat(chunks, s.bytes));
}

function onError(this: ReadableRequest, err: Error): void {
  fail(this, err);
}

function onClose(this: ReadableRequest): void {
  fail(this, undefined);
}

function fail(req: ReadableRequest, cause: Error | undefined): void {
  const s = req[kReader];
  if (s === undefined || s.done) return;
  s.done = true;
  s.first = undefined;
  s.chunks = undefined;
  s.sink.onBodyError(
    new RestpipeError(ErrorCode.ABORTED, `the request body broke off after ${s.bytes} bytes`, cause === undefined ? undefined : { cause }),
  );
}

function tooLarge(message: string): RestpipeError {
  return new RestpipeError(ErrorCode.BODY_TOO_LARGE, message);
}
