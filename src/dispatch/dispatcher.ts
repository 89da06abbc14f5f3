import { Readable } from 'node:stream';
import { collectBody } from '../bodies.js';
import { ErrorCode } from '../errors.js';
import { headerRecord, isWebSocketHandshake } from '../http-headers.js';
import { DEFAULT_MAX_BODY_BYTES } from '../options/defaults.js';
import {
  ReturnCode,
  handlerMethodName,
  handlerNounProblem,
  isJsonMimetype,
  type EventHandlerFn,
  type HandlerContext,
  type ParsedEvent,
  type PeerInfo,
  type Reply,
  type HeaderList,
  type SignalSource,
  type Verb,
} from '../event.js';
import { type Logger, silentLogger } from '../log.js';
import { describeThrown, errorReply, exceptionReply } from '../replies.js';
import { truncate } from '../text.js';
import type { HandlerTable, PostData } from './handler-table.js';
import { convertReturn } from './reply-forms.js';
import { isStreaming } from './streaming.js';

/** Options of {@link createDispatcher}. */
export interface DispatcherOptions {
  /** Handler exceptions are logged at warn (method name, class and message; never the body). @default silent */
  logger?: Logger;
  /** Which side this node is; bound into the log lines. */
  role: 'server' | 'client';
  /**
   * The largest request body a handler that is not `streaming()` gets, buffered (`--max-body`);
   * a longer one is answered with return code 252 (`body_too_large`, HTTP 413) without running
   * the handler. @default 64 MiB
   */
  maxBodyBytes?: number;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Makes the function a pipe session calls for every event it receives (SPEC §5). The event's
 * head was parsed and checked where it entered this node (the pipe, for a peer's event), so the
 * dispatcher trusts its verb, path, parameters and method name. It never rejects; every outcome
 * is a reply:
 *
 * | case | code | body |
 * |---|---|---|
 * | the handler returned | per its return form (see `toReply`) | |
 * | no method for verb + noun | 255 | `{"error": {"code": "no_handler", "message": "no handler for get 'foo' (method get_foo)"}}` |
 * | JSON mimetype with a body that does not parse (the one place it is parsed) | 250 | `{"error": {"code": "bad_request", …}}` |
 * | the handler threw or rejected, or returned an invalid tuple/reply object or unencodable value | 251 | `{"exception": {"message", "traceback", "class"}}` |
 *
 * The handler is called `(ctx, postData, ...params)` with the percent-decoded parameters after
 * `//` in the noun. `postData` is `[mimetype, data]`: data JSON-decoded when the mimetype is
 * JSON (an empty JSON body decodes as `null`), else a `Buffer` view of the body (no copy),
 * and `['', '']` for an event with neither body nor mimetype. `ctx.signal` is passed as given,
 * so it may already be aborted when the handler starts. Events are independent: the
 * dispatcher keeps no per-event state, so any number run concurrently.
 */
export function createDispatcher(table: HandlerTable, opts: DispatcherOptions): EventHandlerFn {
  const log = (opts.logger ?? silentLogger).child({ component: 'dispatch', role: opts.role });
  const maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;

  return async function dispatch(event: ParsedEvent, peer: PeerInfo, signal: AbortSignal | SignalSource): Promise<Reply> {
    const { method } = event;
    // A noun only a forward could take (SPEC §10), and none did: the caller's mistake.
    if (method === '') return errorReply(ReturnCode.BAD_REQUEST, ErrorCode.BAD_REQUEST, handlerNounProblem(event.noun) ?? 'invalid noun');
    let fn = table.lookup(method);
    // HEAD is GET without the body (RFC 9110 §9.3.2): a get_ handler answers it, and only the
    // body's length goes back (headReply).
    const isHead = event.verb === 'head';
    if (fn === undefined && isHead) fn = table.lookup(handlerMethodName('get', event.path));
    if (fn === undefined) {
      return errorReply(ReturnCode.NO_HANDLER, ErrorCode.NO_HANDLER, `no handler for ${event.verb} '${truncate(event.path)}' (method ${truncate(method)})`);
    }

    let postData: PostData;
    let data = event.data;
    let live: Readable | undefined;
    if (isStreaming(fn)) {
      live = event.body;
      postData = [event.mimetype, undefined];
    } else {
      if (event.body !== undefined) {
        // A WebSocket's body ends only when the socket does: a handler that waits for it whole
        // would hold the caller until the deadline. Only a forward or a streaming handler can take one.
        if (isWebSocketHandshake(event.verb, event.headers)) {
          event.body.destroy();
          return errorReply(ReturnCode.BAD_REQUEST, ErrorCode.BAD_REQUEST, `a WebSocket handshake reached handler ${method}, which takes its body whole: only a forward (--forward) or a streaming handler can take a WebSocket`);
        }
        // A buffered handler gets its body whole (SPEC §9: --max-body is the limit of buffering).
        // A declared length over the limit is refused at once, without reading a byte of it.
        const got = (event.length ?? 0) > maxBodyBytes ? undefined : await collectBody(event.body, maxBodyBytes).catch(() => null);
        if (got === undefined) {
          event.body.destroy();
          return tooLarge(event.length, maxBodyBytes);
        }
        // The body broke off: the event was cancelled or its pipe broke, and no reply will go out.
        if (got === null) return errorReply(ReturnCode.BAD_REQUEST, ErrorCode.ABORTED, 'the request body broke off');
        // Its deadline may have passed while the body arrived: such an event is never started.
        // (An event that arrived whole was checked by the pipe before it came here.)
        if (isAborted(signal)) return errorReply(ReturnCode.BAD_REQUEST, ErrorCode.ABORTED, 'the event was given up before its handler started');
        data = got;
      }
      try {
        postData = decodePostData(event.mimetype, data);
      } catch (err) {
        // JSON.parse quotes the start of the input in its message: the log gets no body bytes.
        log.warn({ method, peer: peer.name, bytes: data.byteLength }, 'request body is not valid JSON');
        return errorReply(
          ReturnCode.BAD_REQUEST,
          ErrorCode.BAD_REQUEST,
          `request body is not valid JSON (${truncate(event.mimetype)}): ${describeThrown(err).message}`,
        );
      }
    }

    const ctx: HandlerContext = new Context(peer, event.verb, event.path, event.params, event.query, signal, event.headers, live, data);
    let returned: unknown;
    try {
      returned = await fn(ctx, postData, ...event.params);
    } catch (err) {
      logException(log, method, peer, err, 'handler threw');
      return exceptionReply(err);
    }
    try {
      const reply = convertReturn(returned);
      return isHead ? headReply(reply) : reply;
    } catch (err) {
      logException(log, method, peer, err, 'handler returned a value that is not a valid reply');
      return exceptionReply(err);
    }
  };
}

/** The reply to HEAD: the same head, the body's length, no body (a stream is not read). */
function headReply(reply: Reply): Reply {
  const { body, data, ...head } = reply;
  body?.destroy();
  const length = body === undefined ? data.byteLength : reply.length;
  return { ...head, data: EMPTY_BODY, ...(length === undefined ? {} : { length }) };
}

const EMPTY_BODY = new Uint8Array(0);

/** The 252 reply for a body over the buffering limit: `bytes` when its length was declared. */
function tooLarge(bytes: number | undefined, maxBytes: number): Reply {
  return errorReply(
    ReturnCode.REPLY_TOO_LARGE,
    ErrorCode.BODY_TOO_LARGE,
    `request body ${bytes === undefined || bytes <= maxBytes ? 'is longer than' : `of ${bytes} bytes exceeds`} the receiving node's limit of ${maxBytes} bytes for a handler that takes its body whole (--max-body; a streaming handler has no limit)`,
  );
}

function isAborted(signal: AbortSignal | SignalSource): boolean {
  return signal instanceof AbortSignal ? signal.aborted : (signal.aborted ?? signal.signal.aborted);
}

/**
 * A handler's `ctx`. `query`, `signal`, `headers` and `body` are made when first read: most
 * handlers read none of them, and an URLSearchParams and an AbortController per event were a
 * good part of the event's cost.
 */
class Context implements HandlerContext {
  #query: URLSearchParams | undefined;
  #headers: Readonly<Record<string, string>> | undefined;
  #body: Readable | undefined;
  readonly #rawQuery: string;
  readonly #signal: AbortSignal | SignalSource;
  readonly #headerList: HeaderList | undefined;
  readonly #data: Uint8Array;

  constructor(
    readonly peer: PeerInfo,
    readonly verb: Verb,
    readonly noun: string,
    readonly params: string[],
    rawQuery: string,
    signal: AbortSignal | SignalSource,
    headers: HeaderList | undefined,
    liveBody: Readable | undefined,
    data: Uint8Array,
  ) {
    this.#rawQuery = rawQuery;
    this.#signal = signal;
    this.#headerList = headers;
    this.#body = liveBody;
    this.#data = data;
  }

  get headers(): Readonly<Record<string, string>> {
    return (this.#headers ??= headerRecord(this.#headerList ?? []));
  }

  get body(): Readable {
    return (this.#body ??= Readable.from(this.#data.byteLength === 0 ? [] : [Buffer.from(this.#data.buffer, this.#data.byteOffset, this.#data.byteLength)], { objectMode: false }));
  }

  get query(): URLSearchParams {
    return (this.#query ??= new URLSearchParams(this.#rawQuery));
  }

  get signal(): AbortSignal {
    const s = this.#signal;
    return s instanceof AbortSignal ? s : s.signal;
  }
}

/**
 * SPEC §5's `postData`. The Buffer shares the event's memory (no copy); the frame decoder never
 * reuses memory it has handed out (STYLE hot path 1), so a handler may keep it.
 * @throws SyntaxError from `JSON.parse` for a JSON mimetype whose body does not parse; TypeError
 *   for one that is not UTF-8.
 */
function decodePostData(mimetype: string, data: Uint8Array): PostData {
  if (data.byteLength === 0 && mimetype === '') return ['', ''];
  const isJson = isJsonMimetype(mimetype);
  // No body under a JSON mimetype is not worth a refusal: the caller sent nothing, and null
  // is JSON's nothing.
  if (isJson && data.byteLength === 0) return [mimetype, null];
  if (isJson) return [mimetype, JSON.parse(UTF8.decode(data)) as unknown];
  return [mimetype, Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength)];
}

function logException(log: Logger, method: string, peer: PeerInfo, err: unknown, msg: string): void {
  const { cls, message } = describeThrown(err);
  log.warn({ method, peer: peer.name, class: cls, message: truncate(message, 500) }, msg);
}
