import { pipeline } from 'node:stream';
import { collectBody } from '../bodies.js';
import { channels, replyOutcome } from '../diagnostics.js';
import { ErrorCode, ProtocolError, RestpipeError, callerAborted } from '../errors.js';
import { ReturnCode, type ParsedEvent, type Reply } from '../event.js';
import { headerListProblem } from '../http-headers.js';
import { errorReply } from '../replies.js';
import { FrameFlag, FrameType, MAX_INLINE_BYTES } from '../wire/frame.js';
import { encodeFrame } from '../wire/frame-encoder.js';
import { CancelCode, encodeCancel, encodeEventFrame, type WireEvent, type WireReply } from '../wire/messages.js';
import { dataLength, dataPieces, partsLength, setDataPieces } from '../body-pieces.js';
import type { FrameWriter } from './frame-writer.js';
import { InflightTable, type PendingEvent } from './inflight.js';
import type { PipeStreams } from './pipe-streams.js';
import type { SendStream } from '../stream/send-stream.js';

/** What the session needs with an outbound event: its deadline (checked and clamped at the edge), the caller's signal. */
export interface RequestOptions {
  signal: AbortSignal | undefined;
  timeoutMs: number;
  /**
   * Resolve at the reply's head with its body as a stream (`Reply.body`), instead of with the
   * body buffered in `data` (up to the node's maxBodyBytes). @default false
   */
  stream?: boolean;
}

/** What the outbound calls need from their session. */
export interface OutboundPort {
  /** Whether a cancel may still go out (the pipe is open: not before the hello, not after the end). */
  canCancel(): boolean;
  /** An event settled: the session may have drained. */
  settled(): void;
}

/** What the peer's hello allows this node to send (set when the pipe opens). */
export interface PeerSendLimits {
  /** The largest frame payload the peer takes. */
  maxFrameBytes: number;
  /** The inline body bytes of our events in flight at once the peer takes. */
  maxInlineInflightBytes: number;
}

const EMPTY = new Uint8Array(0);

/**
 * The events this node sends on one pipe (SPEC §1, §9): admission (the in-flight limit, the
 * send queue's room), the head (with the body inline when it is small, else a stream of DATA
 * that waits for credit), the deadline and the caller's signal (the in-flight table), the reply
 * (whole, or a head and then a body stream), and the cancel the far side gets when the caller
 * gives up. Each event settles exactly once: by its reply (or the end of its reply's body), its
 * deadline, its caller, or the pipe's end.
 */
export class OutboundCalls {
  readonly #role: 'server' | 'client';
  readonly #peerName: string;
  readonly #maxInflight: number;
  readonly #maxQueuedBytes: number;
  readonly #maxBodyBytes: number;
  readonly #writer: FrameWriter;
  readonly #port: OutboundPort;
  readonly #table: InflightTable;
  #streams: PipeStreams | undefined;
  #peer: PeerSendLimits = { maxFrameBytes: 0, maxInlineInflightBytes: 0 };
  /** Inline body bytes of our events in flight (the peer's inline budget). */
  #inlineInFlight = 0;

  constructor(
    role: 'server' | 'client',
    peerName: string,
    limits: { maxInflight: number; maxQueuedBytes: number; maxBodyBytes: number },
    writer: FrameWriter,
    port: OutboundPort,
  ) {
    this.#role = role;
    this.#peerName = peerName;
    this.#maxInflight = limits.maxInflight;
    this.#maxQueuedBytes = limits.maxQueuedBytes;
    this.#maxBodyBytes = limits.maxBodyBytes;
    this.#writer = writer;
    this.#port = port;
    this.#table = new InflightTable(
      (entry, err) => this.#onAbandoned(entry, err),
      1,
      (entry, err) => this.#onRemoved(entry, err),
    );
  }

  /** The pipe opened: its streams, and what the peer's hello allows. */
  open(streams: PipeStreams, peer: PeerSendLimits): void {
    this.#streams = streams;
    this.#peer = peer;
  }

  /** Events in flight: waiting for their reply, or for the end of its body. */
  get size(): number {
    return this.#table.size;
  }

  /** Replies that arrived after their event had timed out or been cancelled. */
  get lateReplies(): number {
    return this.#table.lateReplies;
  }

  /** Bytes of event heads waiting for room in the socket. */
  get queuedHeadBytes(): number {
    return this.#streams?.scheduler.queuedHeadBytes ?? 0;
  }

  /**
   * Sends an event on an open pipe and resolves with the far side's reply, whatever its code.
   * Rejects only when no reply can come: event_timeout, aborted (the caller's signal),
   * too_many_in_flight (the in-flight limit, or the send queue is full), bad_request (a head
   * larger than the peer takes), and pipe_broken when the pipe ends first. A reply body to
   * buffer (without `stream`) that is over maxBodyBytes resolves as return code 252
   * (`body_too_large`), as v1 did. Nothing is ever re-sent (at most once, SPEC §6).
   */
  request(event: ParsedEvent, options: RequestOptions): Promise<Reply> {
    const { signal, timeoutMs } = options;
    const streams = this.#streams;
    if (streams === undefined) return Promise.reject(new RestpipeError(ErrorCode.NO_CONNECTION, `pipe to '${this.#peerName}' is not open yet`));
    if (signal?.aborted) return Promise.reject(callerAborted(signal.reason));
    if (this.#table.size >= this.#maxInflight) {
      return Promise.reject(
        new RestpipeError(
          ErrorCode.TOO_MANY_IN_FLIGHT,
          `${this.#table.size} events already in flight to '${this.#peerName}' (limit ${this.#maxInflight}: maxInflight, --max-inflight)`,
        ),
      );
    }
    const { body } = event;
    const inMemory = body === undefined;
    // Not event.data: a body the gateway holds in pieces is written as they are (body-pieces.ts).
    const dataBytes = dataLength(event);
    // Small events stay one frame (SPEC §9), as long as the peer's inline budget has room: past
    // it the body waits for credit like any stream, instead of for the peer's memory.
    const inline = inMemory && dataBytes <= MAX_INLINE_BYTES && this.#inlineInFlight + dataBytes <= this.#peer.maxInlineInflightBytes;
    const wire: WireEvent = { verb: event.verb, noun: event.noun, mimetype: event.mimetype, data: EMPTY, timeoutMs, query: event.query };
    if (inline) {
      const pieces = dataPieces(event);
      if (pieces === undefined) wire.data = event.data;
      else wire.dataParts = pieces;
    }
    if (event.headers !== undefined) wire.headers = event.headers;
    const bodyLength = inMemory ? (inline ? undefined : dataBytes) : event.length;
    if (bodyLength !== undefined) wire.bodyLength = bodyLength;
    // Backpressure: when the socket and the queue behind it are full (a slow link or a peer
    // that reads slowly), refuse at once (the gateway answers 503) instead of holding more heads.
    if (!streams.scheduler.hasRoomFor(inline ? dataBytes : 0)) {
      return Promise.reject(
        new RestpipeError(
          ErrorCode.TOO_MANY_IN_FLIGHT,
          `the pipe to '${this.#peerName}' is backed up: ${this.#writer.socketQueuedBytes + streams.scheduler.queuedHeadBytes} bytes waiting to be sent (limit ${this.#maxQueuedBytes} queued); the peer or the link is slower than the events`,
        ),
      );
    }
    const entry = this.#table.add(timeoutMs, signal);
    const head = encodeEventFrame(entry.id, wire, inline ? FrameFlag.END_STREAM : 0);
    let headBytes = 0;
    for (const p of head) headBytes += p.byteLength;
    if (headBytes - 10 > this.#peer.maxFrameBytes) {
      this.#table.fail(entry.id, new RestpipeError(ErrorCode.BAD_REQUEST, `the event's head (noun, query, headers) takes ${headBytes - 10} bytes, more than the ${this.#peer.maxFrameBytes} the peer takes in a frame`));
      return entry.promise;
    }
    if (channels.eventSettled.hasSubscribers) {
      entry.startedAt = performance.now();
      entry.onSettled = this.#onObservedSettled;
    }
    if (inline) {
      entry.inlineBytes = dataBytes;
      this.#inlineInFlight += dataBytes;
      streams.scheduler.queueHead(head, entry);
    } else {
      entry.phase = 'sending';
      const id = entry.id;
      const out = streams.openOutgoing(id, true, bodyLength, (err) => this.#table.abandon(id, requestBodyFailed(err)));
      watchTurns(entry, streams, out.stream);
      out.stream.onWritten = (end) => {
        entry.progressed();
        if (end && entry.phase === 'sending') entry.phase = 'waiting';
      };
      streams.scheduler.queueHead(head, entry, out.stream);
      if (body === undefined) {
        out.stream.offer(event.data, ignore);
        out.stream.finish(ignore);
      } else {
        // The source is destroyed if the event ends first (pipeline's rule): the gateway hands
        // the pipe a stream of its own in front of the HTTP request for that reason.
        pipeline(body, out.body, ignore);
      }
    }
    const reply = entry.promise;
    if (options.stream === true) return reply;
    return reply.then((r) => (r.body === undefined ? r : this.#buffer(r, entry.id)));
  }

  /**
   * A reply's head arrived: whole (`end`), or followed by its body in DATA frames. True when an
   * event waited for it (it is the peer's progress).
   * @throws ProtocolError for headers that may not travel.
   */
  onReply(id: number, wire: WireReply, end: boolean): boolean {
    if (wire.headers !== undefined) {
      const problem = headerListProblem(wire.headers);
      if (problem !== undefined) throw new ProtocolError(`EVENT_REPLY with ${problem}`);
    }
    const reply: Reply = { code: wire.code, mimetype: wire.mimetype, data: wire.data };
    // An inline body that arrived across network reads stays in their views (body-pieces.ts).
    if (wire.dataParts !== undefined) setDataPieces(reply, wire.dataParts, partsLength(wire.dataParts));
    if (wire.status !== undefined) reply.status = wire.status;
    if (wire.headers !== undefined) reply.headers = wire.headers;
    if (wire.bodyLength !== undefined) reply.length = wire.bodyLength;
    else if (end) reply.length = dataLength(reply);
    let waited: boolean;
    if (end) {
      waited = this.#table.settle(id, reply);
    } else {
      const entry = this.#table.get(id);
      if (entry === undefined || entry.phase === 'replying') return this.#table.startReply(id, reply);
      if (entry.isWaitingItsTurn === undefined) watchTurns(entry, this.#streams!, undefined);
      reply.body = this.#streams!.openIncoming(id, true, {
        declared: wire.bodyLength,
        // The reply's reader left: nobody wants the rest, the far side should stop.
        onAbandoned: (err) => this.#table.abandon(id, err ?? callerAborted(undefined)),
        onProgress: () => entry.progressed(),
        onEnd: () => {
          this.#table.finish(id);
          this.#port.settled();
        },
      });
      waited = this.#table.startReply(id, reply);
    }
    this.#port.settled();
    return waited;
  }

  /** The far side reset its reply (a CANCEL with the reply flag): the reply's body fails. */
  onReset(id: number, reason: string): void {
    this.#table.fail(id, new RestpipeError(ErrorCode.STREAM_RESET, `the far side ended its reply abnormally${reason ? `: ${reason}` : ''}`));
    this.#port.settled();
  }

  /** Fails every event (the pipe ended); the far side is not told. */
  failAll(err: Error): void {
    this.#table.failAll(err);
  }

  /** Reads a streamed reply's body whole, for a caller that wants it buffered. */
  async #buffer(reply: Reply, id: number): Promise<Reply> {
    const body = reply.body!;
    let data: Buffer | undefined;
    try {
      data = await collectBody(body, this.#maxBodyBytes);
    } catch (err) {
      throw err instanceof RestpipeError ? err : new RestpipeError(ErrorCode.PIPE_BROKEN, `the reply body broke off: ${(err as Error).message}`);
    }
    if (data === undefined) {
      // As v1 answered a reply over the limit: return code 252, whose body says why (the caller
      // that wants it whole cannot have it; the far side is told to stop sending it).
      const message = `the reply body is longer than the ${this.#maxBodyBytes} bytes this node buffers (maxBodyBytes, --max-body; send with { stream: true } to read it as a stream)`;
      this.#table.abandon(id, new RestpipeError(ErrorCode.BODY_TOO_LARGE, message));
      return errorReply(ReturnCode.REPLY_TOO_LARGE, ErrorCode.BODY_TOO_LARGE, message);
    }
    const { body: _stream, ...rest } = reply;
    return { ...rest, data, length: data.byteLength };
  }

  #onAbandoned(entry: PendingEvent, err: Error): void {
    // Tell the far side only about events it got; a queued head of a settled event is dropped.
    // The cancel is a control frame: it overtakes the event's queued DATA (SPEC §9).
    if (entry.sent && this.#port.canCancel()) {
      const code = (err as RestpipeError).code === ErrorCode.EVENT_TIMEOUT ? CancelCode.TIMEOUT : CancelCode.ABORTED;
      this.#writer.writeControl(encodeFrame(FrameType.CANCEL, entry.id, encodeCancel('', code)));
    }
    this.#port.settled();
  }

  /** An event left the table: its inline share goes back, and its bodies stop (a clean end stays readable). */
  #onRemoved(entry: PendingEvent, err: Error | undefined): void {
    this.#inlineInFlight -= entry.inlineBytes;
    this.#streams?.end(entry.id, true, err ?? answeredEarly);
  }

  /** Publishes an observed event's outcome as it settles (one function per pipe, no closures per event). */
  readonly #onObservedSettled = (entry: PendingEvent, reply: Reply | undefined, err: Error | undefined): void => {
    const outcome = reply !== undefined ? replyOutcome(reply.code) : ((err as RestpipeError | undefined)?.code ?? 'error');
    channels.eventSettled.publish({ role: this.#role, direction: 'outbound', peer: this.#peerName, outcome, durationMs: performance.now() - entry.startedAt });
  };
}

function ignore(): void {}

/**
 * Lets a streaming event's timer tell a stalled transfer from one waiting its turn on a busy
 * pipe (PendingEvent.isWaitingItsTurn). Only events whose bodies stream pay for this closure.
 */
function watchTurns(entry: PendingEvent, streams: PipeStreams, sending: SendStream | undefined): void {
  let lastDataFrames = streams.dataFramesReceived;
  entry.isWaitingItsTurn = () => {
    const frames = streams.dataFramesReceived;
    const pipeCarriesData = frames !== lastDataFrames;
    lastDataFrames = frames;
    // Its body has data and credit and waits for its turn in a busy socket; or the far side may
    // send more of its reply and the pipe carries DATA (that sender is busy with other streams).
    if (sending !== undefined && !sending.isEnded && sending.inRing && streams.scheduler.pipeCredit.credit > 0) return true;
    return entry.phase === 'replying' && pipeCarriesData && streams.peerHasCredit(entry.id, true);
  };
}

/** The error of an event whose request body stopped before its end. */
function requestBodyFailed(err: Error | null): RestpipeError {
  if (err instanceof RestpipeError) return err;
  return new RestpipeError(ErrorCode.ABORTED, `the request body broke off${err === null ? '' : `: ${err.message}`}`, err === null ? undefined : { cause: err });
}

/** Why a request body still being sent is cut when its event's reply ended (HTTP/2's RST_STREAM NO_ERROR). */
function answeredEarly(): RestpipeError {
  return new RestpipeError(ErrorCode.ABORTED, 'the far side answered before it had read the whole request body');
}
