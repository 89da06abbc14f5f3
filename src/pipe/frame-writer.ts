import type { Duplex } from 'node:stream';

/** Past this many bytes in one tick the batch is written at once instead of at the tick's end. */
const INLINE_FLUSH_BYTES = 64 * 1024;
/** Event and reply bytes written between two heartbeat ticks that make this node "busy sending". */
const BUSY_SENDING_BYTES = 16 * 1024;

/**
 * Writes frames to the pipe's socket: how bytes reach it, not what goes next (the scheduler in
 * stream/scheduler.ts decides that, and calls {@link writeEvent} and {@link writeData}).
 *
 * - Batching: frames written in one turn of the event loop go out in one corked write (one
 *   TLS record run, one syscall) instead of one each; the batch is released on setImmediate, after
 *   the I/O phase has delivered everything that arrived together, or at once when it is large.
 * - Replies and control frames (`writeControl`, `writeReply`) always go straight to the socket:
 *   their number is bounded by the events in flight, and holding them back could deadlock two
 *   peers that both wait. Event heads and DATA come through the scheduler, which writes them
 *   only while the socket's buffer is shallow.
 * - Accounting for read backpressure (read-gate.ts): the socket's buffer holds our events and
 *   our responses (replies, their bodies' DATA, heartbeat replies) in one FIFO. Only responses
 *   are caused by what the peer sends, so only they may stop us reading it: `responseBytesQueued`
 *   is the socket's buffered bytes minus those of our events (heads and request bodies) still in
 *   it (a partly flushed event frame counts whole, so it errs by at most one frame towards
 *   reading on). Counting our own events too would let two peers that each send a large body at
 *   once stop reading each other for good.
 */
export class FrameWriter {
  readonly #socket: Duplex;
  #batchBytes = 0;
  #corked = false;
  #closed = false;
  /** End offsets (in bytesWritten) and sizes of event frames that may still sit in the socket, oldest first. */
  #eventEnds: number[] = [];
  #eventSizes: number[] = [];
  #eventHead = 0;
  #eventBytesInSocket = 0;
  /** Event and reply bytes written since the last takeBusySending(). */
  #bodyBytesSinceCheck = 0;
  /** Control frame bytes (heartbeats, cancels, …) written since the last takeBusySending(). */
  #controlBytesSinceCheck = 0;
  #onDrain: (() => void) | undefined;
  /** Frames and bytes handed to the socket, for metrics. */
  framesWritten = 0;
  bytesWritten = 0;

  constructor(socket: Duplex) {
    this.#socket = socket;
    socket.on('drain', () => this.#onDrain?.());
  }

  /** Who writes more when the socket drained (the scheduler). */
  setDrainListener(listener: () => void): void {
    this.#onDrain = listener;
  }

  /** Bytes the socket holds that the kernel has not taken yet. */
  get socketQueuedBytes(): number {
    return this.#socket.writableLength;
  }

  /** Bytes the kernel has taken from the socket so far: grows only while the peer (or the path) reads. */
  get flushedBytes(): number {
    return this.bytesWritten - this.#socket.writableLength;
  }

  /** Bytes of responses (replies, heartbeat replies, control frames) in the socket that the kernel has not taken yet. */
  get responseBytesQueued(): number {
    const queued = this.#socket.writableLength;
    if (queued === 0 || this.#eventHead === this.#eventEnds.length) return queued;
    this.#forgetFlushedEvents(this.bytesWritten - queued);
    return Math.max(0, queued - this.#eventBytesInSocket);
  }

  #forgetFlushedEvents(flushed: number): void {
    while (this.#eventHead < this.#eventEnds.length && this.#eventEnds[this.#eventHead]! <= flushed) {
      this.#eventBytesInSocket -= this.#eventSizes[this.#eventHead]!;
      this.#eventHead++;
    }
    if (this.#eventHead === this.#eventEnds.length) {
      this.#eventEnds = [];
      this.#eventSizes = [];
      this.#eventHead = 0;
      this.#eventBytesInSocket = 0;
    } else if (this.#eventHead > 1024 && this.#eventHead * 2 > this.#eventEnds.length) {
      this.#eventEnds.splice(0, this.#eventHead);
      this.#eventSizes.splice(0, this.#eventHead);
      this.#eventHead = 0;
    }
  }

  /**
   * Whether this node has been sending bulk data since the last call: a heartbeat it sent may be
   * waiting behind that data, so the peer's answer may be late through no fault of the peer.
   * Busy means events or replies of 16 KiB or more in all written since the last call, or a
   * backlog of our own in the socket.
   *
   * A backlog is more than the control frames written since the last call. Those do not count:
   * a TLS socket reports a write as done only on the next turn of the event loop, so while a
   * peer's flood makes every turn last a tick, the heartbeat we sent at the last tick is still
   * "in the socket" at this one. Counting it excused a peer that never reads for a timeout at
   * every tick, as long as its flood lasted (the free-frame flood of
   * test/faults/hostile-peer-never-reads was closed seconds late on a busy machine).
   * A backlog counts whether or not it moved since the last call: on a slow link the kernel
   * takes more of a full socket buffer only once a good part of it is free (seconds at 512 KiB/s
   * with MiBs buffered), so an honest backlog can sit still for several ticks
   * (test/faults/slow-peer (a1)).
   */
  takeBusySending(): boolean {
    const backlog = this.#socket.writableLength > this.#controlBytesSinceCheck;
    const busy = this.#bodyBytesSinceCheck >= BUSY_SENDING_BYTES || backlog;
    this.#bodyBytesSinceCheck = 0;
    this.#controlBytesSinceCheck = 0;
    return busy;
  }

  /** Writes a reply or control frame now (within this tick's batch). */
  writeControl(parts: readonly Uint8Array[]): void {
    if (this.#closed) return;
    const before = this.bytesWritten;
    this.#write(parts);
    this.#controlBytesSinceCheck += this.bytesWritten - before;
  }

  /** Writes an event's reply now (a control-path frame that carries a body). */
  writeReply(parts: readonly Uint8Array[]): void {
    if (this.#closed) return;
    const before = this.bytesWritten;
    this.#write(parts);
    this.#bodyBytesSinceCheck += this.bytesWritten - before;
  }

  /** Writes an event's head now (ours: not a response to the peer). */
  writeEvent(parts: readonly Uint8Array[]): void {
    if (this.#closed) return;
    this.#writeEventNow(parts);
  }

  /** Writes a DATA frame now: of our own event's request body (`ours`), or of a reply body. */
  writeData(parts: readonly Uint8Array[], ours: boolean): void {
    if (this.#closed) return;
    if (ours) this.#writeEventNow(parts);
    else this.writeReply(parts);
  }

  /** Stops writing (the pipe is going away). */
  close(): void {
    this.#closed = true;
    if (this.#corked) this.#uncork();
  }

  /** Writes an event frame and remembers where it ends, for responseBytesQueued. */
  #writeEventNow(parts: readonly Uint8Array[]): void {
    // Keep the list to the events that can still be in the socket.
    if (this.#eventEnds.length - this.#eventHead >= 256) this.#forgetFlushedEvents(this.flushedBytes);
    const before = this.bytesWritten;
    this.#write(parts);
    const size = this.bytesWritten - before;
    this.#bodyBytesSinceCheck += size;
    this.#eventEnds.push(this.bytesWritten);
    this.#eventSizes.push(size);
    this.#eventBytesInSocket += size;
  }

  #write(parts: readonly Uint8Array[]): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
      setImmediate(uncorkWriter, this);
    }
    for (const part of parts) {
      if (part.byteLength === 0) continue;
      this.#socket.write(part);
      this.#batchBytes += part.byteLength;
      this.bytesWritten += part.byteLength;
    }
    this.framesWritten++;
    if (this.#batchBytes >= INLINE_FLUSH_BYTES) this.#uncork();
  }

  /** @internal called by setImmediate at the end of a tick's batch. */
  uncorkIfCorked(): void {
    if (this.#corked) this.#uncork();
  }

  #uncork(): void {
    this.#corked = false;
    this.#batchBytes = 0;
    if (!this.#socket.destroyed) this.#socket.uncork();
  }
}

function uncorkWriter(writer: FrameWriter): void {
  writer.uncorkIfCorked();
}
