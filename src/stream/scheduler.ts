import type { SendStream } from './send-stream.js';
import { SendWindow } from './window.js';

/**
 * Where the scheduler writes: the pipe's frame writer (batching, corking, the socket). The
 * scheduler knows nothing of the wire; the sink encodes.
 */
export interface SchedulerSink {
  /** Bytes the socket holds that it has not passed on yet (its `writableLength`). */
  readonly socketQueuedBytes: number;
  /** Writes an event's head (and its inline body) now. */
  writeHead(parts: readonly Uint8Array[]): void;
  /** Writes one DATA frame of `stream` now (END_STREAM when `end`, BLOCKED when `blocked`). */
  writeData(stream: SendStream, chunk: Uint8Array, end: boolean, blocked: boolean): void;
}

/** An event head waiting for room; dropped if its event settled meanwhile. */
export interface HeadOwner {
  /** Set by the scheduler once the head reached the sink. */
  sent: boolean;
  /** Set by the owner when the event is over: a queued head is then never written. */
  settled: boolean;
}

/** How the scheduler's writes are paced. */
export interface SchedulerLimits {
  /** Event heads are written while the socket holds fewer bytes than this. */
  headsBelowBytes: number;
  /** DATA is written while the socket holds fewer bytes than this (about one chunk). */
  dataBelowBytes: number;
  /** The largest DATA chunk (the peer's max frame allows it). */
  maxChunkBytes: number;
  /** The most bytes of event heads the queue holds before {@link SendScheduler.hasRoomFor} says no. */
  maxQueuedHeadBytes: number;
  /**
   * The most DATA bytes written in one turn of the event loop; then the rest waits for the next
   * turn (setImmediate). @default 256 KiB
   */
  dataBytesPerTurn?: number;
}

interface QueuedHead {
  parts: readonly Uint8Array[];
  bytes: number;
  owner: HeadOwner;
  /** The request body that follows the head: attached when the head is written. */
  stream: SendStream | undefined;
}

/**
 * Decides what a pipe writes next (SPEC §9): control frames are written at once by the
 * session (they never come here); then event heads, in order, while the socket holds less than
 * `headsBelowBytes`; then DATA, one chunk per stream in turn (round robin: draining one stream
 * first starves the others, quinn-rs/quinn#949), only while the socket holds less than
 * `dataBelowBytes`, so a heartbeat or a cancel written at any moment waits behind at most about
 * one chunk of this node's bulk data.
 *
 * DATA needs credit twice: the stream's (its {@link SendStream.window}) and the pipe's
 * ({@link pipeCredit}). A stream out of stream credit leaves the ring until {@link wake} (its
 * WINDOW_UPDATE arrived); with the pipe out of credit the ring stands still until the pipe's
 * update. Call {@link pump} when the socket drained, and after anything that may let a write go.
 *
 * It also yields: at most `dataBytesPerTurn` of DATA per turn of the event loop. A loopback
 * socket often takes a write at once, and a writer's next chunk comes on process.nextTick, so
 * without a bound one fast stream would write for as long as its source has data without ever
 * letting the loop read: the peer's heartbeats would go unanswered and the pipe be taken for
 * dead.
 */
export class SendScheduler {
  readonly pipeCredit: SendWindow;
  readonly #sink: SchedulerSink;
  readonly #limits: SchedulerLimits;
  readonly #heads: (QueuedHead | undefined)[] = [];
  #headsStart = 0;
  #headBytes = 0;
  /** Streams with something to send, in turn order; `inRing` says which are in it. */
  #ring: (SendStream | undefined)[] = [];
  #ringStart = 0;
  #pumping = false;
  #again = false;
  #turnBytes = 0;
  #turnScheduled = false;
  readonly #dataBytesPerTurn: number;

  constructor(sink: SchedulerSink, limits: SchedulerLimits, pipeCredit: SendWindow) {
    this.#sink = sink;
    this.#limits = limits;
    this.pipeCredit = pipeCredit;
    this.#dataBytesPerTurn = limits.dataBytesPerTurn ?? 256 * 1024;
  }

  /** @internal the next turn of the event loop: writing may go on. */
  nextTurn(): void {
    this.#turnScheduled = false;
    this.#turnBytes = 0;
    this.pump();
  }

  /** Event heads waiting for room. */
  get queuedHeads(): number {
    return this.#heads.length - this.#headsStart;
  }

  /** Bytes of the heads waiting (settled ones included until they are pruned or skipped). */
  get queuedHeadBytes(): number {
    return this.#headBytes;
  }

  /** Streams waiting for their turn. */
  get readyStreams(): number {
    let n = 0;
    for (let i = this.#ringStart; i < this.#ring.length; i++) if (this.#ring[i] !== undefined) n++;
    return n;
  }

  /**
   * Whether a head of about `bytes` may join the queue: it holds at most `maxQueuedHeadBytes`
   * (or one head of any size when empty), so that a link or peer slower than the callers turns
   * into refusals they see, not into memory. Heads of settled events are dropped first.
   */
  hasRoomFor(bytes: number): boolean {
    if (this.queuedHeads === 0 || this.#headBytes + bytes <= this.#limits.maxQueuedHeadBytes) return true;
    this.#pruneSettled();
    return this.queuedHeads === 0 || this.#headBytes + bytes <= this.#limits.maxQueuedHeadBytes;
  }

  /**
   * An event's head: written now when nothing waits and the socket has room, else queued in
   * order. `stream`, the request body that follows it, is attached once the head is written
   * (its DATA never overtakes its head).
   */
  queueHead(parts: readonly Uint8Array[], owner: HeadOwner, stream?: SendStream): void {
    let bytes = 0;
    for (const p of parts) bytes += p.byteLength;
    if (this.queuedHeads === 0 && this.#sink.socketQueuedBytes < this.#limits.headsBelowBytes) {
      owner.sent = true;
      this.#sink.writeHead(parts);
      if (stream !== undefined) this.attach(stream);
      return;
    }
    this.#heads.push({ parts, bytes, owner, stream });
    this.#headBytes += bytes;
  }

  /** A stream whose head went out (a reply's, written directly): from now on its DATA takes turns. */
  attach(stream: SendStream): void {
    stream.attached = true;
    stream.setWake(this);
    this.wake(stream);
  }

  /** The stream may be able to send now (data offered, end requested, credit granted). */
  wake(stream: SendStream): void {
    if (!stream.attached || stream.inRing || !stream.canSend(Math.max(1, this.pipeCredit.credit))) return;
    stream.inRing = true;
    this.#ring.push(stream);
    this.pump();
  }

  /** The stream is over (ended, cancelled, reset): it leaves the ring for good. */
  detach(stream: SendStream): void {
    stream.attached = false;
    if (!stream.inRing) return;
    stream.inRing = false;
    const i = this.#ring.indexOf(stream, this.#ringStart);
    if (i >= 0) this.#ring[i] = undefined;
  }

  /** Writes what may go now, in priority order. Re-entrant calls (a writer's callback) fold into the running one. */
  pump(): void {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        this.#writeHeads();
        this.#writeData();
      } while (this.#again);
    } finally {
      this.#pumping = false;
    }
  }

  /** Drops every queued head and stream (the pipe is going away). */
  clear(): void {
    this.#heads.length = 0;
    this.#headsStart = 0;
    this.#headBytes = 0;
    for (let i = this.#ringStart; i < this.#ring.length; i++) {
      const s = this.#ring[i];
      if (s !== undefined) s.inRing = false;
    }
    this.#ring = [];
    this.#ringStart = 0;
  }

  #writeHeads(): void {
    const sink = this.#sink;
    while (this.#headsStart < this.#heads.length && sink.socketQueuedBytes < this.#limits.headsBelowBytes) {
      const head = this.#heads[this.#headsStart]!;
      this.#heads[this.#headsStart++] = undefined;
      this.#headBytes -= head.bytes;
      if (head.owner.settled) continue;
      head.owner.sent = true;
      sink.writeHead(head.parts);
      if (head.stream !== undefined && !head.stream.isAborted) this.attach(head.stream);
    }
    if (this.#headsStart === this.#heads.length) {
      this.#heads.length = 0;
      this.#headsStart = 0;
    } else if (this.#headsStart > 1024 && this.#headsStart * 2 > this.#heads.length) {
      this.#heads.splice(0, this.#headsStart);
      this.#headsStart = 0;
    }
  }

  #writeData(): void {
    const sink = this.#sink;
    const { dataBelowBytes, maxChunkBytes } = this.#limits;
    // A stream's DATA never overtakes heads queued before it: while any head waits, DATA waits.
    if (this.#headsStart < this.#heads.length) return;
    while (this.#ringStart < this.#ring.length && sink.socketQueuedBytes < dataBelowBytes) {
      if (this.#turnBytes >= this.#dataBytesPerTurn) {
        // Enough for this turn: let the loop read (heartbeats, cancels, credit) first.
        if (!this.#turnScheduled) {
          this.#turnScheduled = true;
          setImmediate(nextTurn, this);
        }
        break;
      }
      const stream = this.#ring[this.#ringStart];
      if (stream === undefined) {
        this.#ringStart++;
        continue;
      }
      const pipeCredit = this.pipeCredit.credit;
      const piece = stream.take(maxChunkBytes, pipeCredit);
      if (piece === undefined) {
        if (stream.isBlockedOnStreamCredit || !stream.canSend(Math.max(1, pipeCredit))) {
          // Out of its own credit (or nothing to send): it leaves the ring until woken.
          this.#ring[this.#ringStart++] = undefined;
          stream.inRing = false;
          continue;
        }
        // Out of pipe credit: every stream waits for the pipe's update; keep the order.
        break;
      }
      this.#ring[this.#ringStart++] = undefined;
      if (piece.chunk.byteLength > 0) this.pipeCredit.spend(piece.chunk.byteLength);
      this.#turnBytes += piece.chunk.byteLength;
      if (!this.#turnScheduled) {
        // The count starts over once the loop has turned.
        this.#turnScheduled = true;
        setImmediate(nextTurn, this);
      }
      sink.writeData(stream, piece.chunk, piece.end, piece.blocked);
      piece.written?.();
      if (!piece.end && stream.attached && stream.canSend(Math.max(1, this.pipeCredit.credit))) {
        // Its turn is over: to the back of the ring.
        this.#ring.push(stream);
      } else {
        stream.inRing = false;
      }
    }
    if (this.#ringStart === this.#ring.length) {
      this.#ring.length = 0;
      this.#ringStart = 0;
    } else if (this.#ringStart > 1024 && this.#ringStart * 2 > this.#ring.length) {
      this.#ring.splice(0, this.#ringStart);
      this.#ringStart = 0;
    }
  }

  #pruneSettled(): void {
    let kept = 0;
    let bytes = 0;
    for (let i = this.#headsStart; i < this.#heads.length; i++) {
      const head = this.#heads[i]!;
      if (head.owner.settled) continue;
      this.#heads[kept++] = head;
      bytes += head.bytes;
    }
    this.#heads.length = kept;
    this.#headsStart = 0;
    this.#headBytes = bytes;
  }
}

function nextTurn(scheduler: SendScheduler): void {
  scheduler.nextTurn();
}
