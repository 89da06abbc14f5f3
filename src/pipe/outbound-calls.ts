import { channels, replyOutcome } from '../diagnostics.js';
import { ErrorCode, RestpipeError, callerAborted } from '../errors.js';
import type { ParsedEvent, Reply } from '../event.js';
import { FrameType } from '../wire/frame.js';
import { encodeFrame } from '../wire/frame-encoder.js';
import { encodeCancel, encodeEventFrame } from '../wire/messages.js';
import type { FrameWriter } from './frame-writer.js';
import { InflightTable, type PendingEvent } from './inflight.js';

/** What the session needs with an outbound event: its deadline (checked and clamped at the edge) and the caller's signal. */
export interface RequestOptions {
  signal: AbortSignal | undefined;
  timeoutMs: number;
}

/** What the outbound calls need from their session. */
export interface OutboundPort {
  /** Whether a cancel may still go out (the pipe is open: not before the hello, not after the end). */
  canCancel(): boolean;
  /** An event settled: the session may have drained. */
  settled(): void;
}

/**
 * The events this node sends on one pipe (SPEC §1): admission (the in-flight limit, the body
 * limit, the send queue's room), the frame, the deadline and the caller's signal (the in-flight
 * table), and the cancel the far side gets when the caller gives up. Each event settles exactly
 * once: by its reply, its deadline, its caller, or the pipe's end.
 *
 * A later change (streams, SPEC §9) sends a body as a stream instead of one frame; that is the
 * seam here: `request()` takes the event and its body, the writer schedules the frames.
 */
export class OutboundCalls {
  readonly #role: 'server' | 'client';
  readonly #peerName: string;
  readonly #maxInflight: number;
  readonly #maxQueuedBytes: number;
  readonly #writer: FrameWriter;
  readonly #port: OutboundPort;
  readonly #table: InflightTable;

  constructor(
    role: 'server' | 'client',
    peerName: string,
    limits: { maxInflight: number; maxQueuedBytes: number },
    writer: FrameWriter,
    port: OutboundPort,
  ) {
    this.#role = role;
    this.#peerName = peerName;
    this.#maxInflight = limits.maxInflight;
    this.#maxQueuedBytes = limits.maxQueuedBytes;
    this.#writer = writer;
    this.#port = port;
    this.#table = new InflightTable((entry) => this.#onAbandoned(entry));
  }

  /** Events waiting for their reply. */
  get size(): number {
    return this.#table.size;
  }

  /** Replies that arrived after their event had timed out or been cancelled. */
  get lateReplies(): number {
    return this.#table.lateReplies;
  }

  /**
   * Sends an event on an open pipe and resolves with the far side's reply, whatever its code.
   * Rejects only when no reply can come: event_timeout, aborted (the caller's signal),
   * too_many_in_flight (the in-flight limit, or the send queue is full), body_too_large (over
   * `bodyLimit`, ours or the peer's), and pipe_broken when the pipe ends first. Nothing is ever
   * re-sent (at most once, SPEC §6).
   */
  request(event: ParsedEvent, options: RequestOptions, bodyLimit: number): Promise<Reply> {
    const { signal, timeoutMs } = options;
    if (signal?.aborted) return Promise.reject(callerAborted(signal.reason));
    if (this.#table.size >= this.#maxInflight) {
      return Promise.reject(
        new RestpipeError(
          ErrorCode.TOO_MANY_IN_FLIGHT,
          `${this.#table.size} events already in flight to '${this.#peerName}' (limit ${this.#maxInflight}: maxInflight, --max-inflight)`,
        ),
      );
    }
    const { data } = event;
    if (data.byteLength > bodyLimit) {
      return Promise.reject(new RestpipeError(ErrorCode.BODY_TOO_LARGE, `event body of ${data.byteLength} bytes exceeds the limit of ${bodyLimit}`));
    }
    // Backpressure: when the socket and the queue behind it are full (a slow link or a peer
    // that reads slowly), refuse at once (the gateway answers 503) instead of holding more
    // bodies in memory; the metadata is small next to the body, so the body is the measure.
    if (!this.#writer.hasRoomFor(data.byteLength)) {
      return Promise.reject(
        new RestpipeError(
          ErrorCode.TOO_MANY_IN_FLIGHT,
          `the pipe to '${this.#peerName}' is backed up: ${this.#writer.socketQueuedBytes + this.#writer.waitingBytes} bytes waiting to be sent (limit ${this.#maxQueuedBytes} queued); the peer or the link is slower than the events`,
        ),
      );
    }
    const entry = this.#table.add(timeoutMs, signal);
    if (channels.eventSettled.hasSubscribers) {
      entry.startedAt = performance.now();
      entry.onSettled = this.#onObservedSettled;
    }
    const { verb, noun, mimetype, query } = event;
    this.#writer.writeEvent(encodeEventFrame(entry.id, { verb, noun, mimetype, data, timeoutMs, query }), entry);
    return entry.promise;
  }

  /** A reply frame arrived: true when an event waited for it (it is the peer's progress). */
  settle(id: number, reply: Reply): boolean {
    const waited = this.#table.settle(id, reply);
    this.#port.settled();
    return waited;
  }

  /** Fails every event (the pipe ended); the far side is not told. */
  failAll(err: Error): void {
    this.#table.failAll(err);
  }

  #onAbandoned(entry: PendingEvent): void {
    // Tell the far side only about events it got; a queued frame of a settled event is dropped.
    if (entry.sent && this.#port.canCancel()) {
      this.#writer.writeControl(encodeFrame(FrameType.CANCEL, entry.id, encodeCancel('')));
    }
    this.#port.settled();
  }

  /** Publishes an observed event's outcome as it settles (one function per pipe, no closures per event). */
  readonly #onObservedSettled = (entry: PendingEvent, reply: Reply | undefined, err: Error | undefined): void => {
    const outcome = reply !== undefined ? replyOutcome(reply.code) : ((err as RestpipeError | undefined)?.code ?? 'error');
    channels.eventSettled.publish({ role: this.#role, direction: 'outbound', peer: this.#peerName, outcome, durationMs: performance.now() - entry.startedAt });
  };
}
