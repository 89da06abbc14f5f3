import type { Duplex } from 'node:stream';

/** A frame that waits for room on the socket; skipped if its event settled meanwhile. */
interface QueuedFrame {
  parts: Uint8Array[];
  bytes: number;
  owner: { sent: boolean; settled: boolean };
}

/** Past this many bytes in one tick the batch is written at once instead of at the tick's end. */
const INLINE_FLUSH_BYTES = 64 * 1024;

/**
 * Writes frames to the pipe's socket.
 *
 * - Batching: frames written in one turn of the event loop go out in one corked write (one
 *   TLS record run, one syscall) instead of one each; the batch is released on setImmediate, after
 *   the I/O phase has delivered everything that arrived together, or at once when it is large.
 * - Backpressure: events (`writeEvent`) only go to the socket while it holds less than
 *   `maxQueuedBytes`; beyond that they wait here, in order, and are written on 'drain'. Replies and
 *   control frames (`writeControl`) always go straight to the socket: their number is bounded
 *   by the events in flight, and holding them back could deadlock two peers that both wait.
 */
export class FrameWriter {
  readonly #socket: Duplex;
  readonly #maxQueuedBytes: number;
  readonly #waiting: QueuedFrame[] = [];
  #waitingHead = 0;
  /** Bytes of the frames in #waiting (settled ones included until they are pruned or skipped). */
  #waitingBytes = 0;
  #batchBytes = 0;
  #corked = false;
  #closed = false;
  /** Frames and bytes handed to the socket, for metrics. */
  framesWritten = 0;
  bytesWritten = 0;

  constructor(socket: Duplex, maxQueuedBytes: number) {
    this.#socket = socket;
    this.#maxQueuedBytes = maxQueuedBytes;
    socket.on('drain', () => this.#drainWaiting());
  }

  /** Bytes the socket holds that the kernel has not taken yet. */
  get socketQueuedBytes(): number {
    return this.#socket.writableLength;
  }

  /** Event frames waiting for room. */
  get waitingFrames(): number {
    return this.#waiting.length - this.#waitingHead;
  }

  /** Bytes of the event frames waiting for room. */
  get waitingBytes(): number {
    return this.#waitingBytes;
  }

  /**
   * Whether an event of about `bytes` may join the queue. The queue is bounded like the socket
   * (at most `maxQueuedBytes`, or one frame of any size when empty): a peer or link slower than
   * the senders must turn into refusals the callers see, not into memory. Before refusing, frames
   * whose events already settled (timed out, cancelled) are dropped: they would never be
   * written, but until the socket drains they would pin their bodies and the budget.
   */
  hasRoomFor(bytes: number): boolean {
    if (this.waitingFrames === 0 || this.#waitingBytes + bytes <= this.#maxQueuedBytes) return true;
    this.#pruneSettled();
    return this.waitingFrames === 0 || this.#waitingBytes + bytes <= this.#maxQueuedBytes;
  }

  /** Writes a reply or control frame now (within this tick's batch). */
  writeControl(parts: readonly Uint8Array[]): void {
    if (this.#closed) return;
    this.#write(parts);
  }

  /**
   * Writes an event frame when the socket has room, else queues it. `owner.sent` turns true
   * when it reaches the socket; a frame whose owner settled before that is dropped.
   */
  writeEvent(parts: Uint8Array[], owner: { sent: boolean; settled: boolean }): void {
    if (this.#closed) return;
    if (this.waitingFrames === 0 && this.#socket.writableLength < this.#maxQueuedBytes) {
      owner.sent = true;
      this.#write(parts);
      return;
    }
    let bytes = 0;
    for (const p of parts) bytes += p.byteLength;
    this.#waiting.push({ parts, bytes, owner });
    this.#waitingBytes += bytes;
  }

  /** Stops writing and drops queued frames (the pipe is going away). */
  close(): void {
    this.#closed = true;
    this.#waiting.length = 0;
    this.#waitingHead = 0;
    this.#waitingBytes = 0;
    if (this.#corked) this.#uncork();
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

  #drainWaiting(): void {
    while (this.waitingFrames > 0 && !this.#closed && this.#socket.writableLength < this.#maxQueuedBytes) {
      const frame = this.#waiting[this.#waitingHead]!;
      this.#waiting[this.#waitingHead++] = undefined as unknown as QueuedFrame;
      this.#waitingBytes -= frame.bytes;
      if (frame.owner.settled) continue;
      frame.owner.sent = true;
      this.#write(frame.parts);
    }
    if (this.#waitingHead > 1024 && this.#waitingHead * 2 > this.#waiting.length) {
      this.#waiting.splice(0, this.#waitingHead);
      this.#waitingHead = 0;
    }
    if (this.waitingFrames === 0) {
      this.#waiting.length = 0;
      this.#waitingHead = 0;
      this.#waitingBytes = 0;
    }
  }

  /** Compacts the queue in place, keeping the order of the frames still wanted. */
  #pruneSettled(): void {
    let kept = 0;
    let bytes = 0;
    for (let i = this.#waitingHead; i < this.#waiting.length; i++) {
      const frame = this.#waiting[i]!;
      if (frame.owner.settled) continue;
      this.#waiting[kept++] = frame;
      bytes += frame.bytes;
    }
    this.#waiting.length = kept;
    this.#waitingHead = 0;
    this.#waitingBytes = bytes;
  }
}

function uncorkWriter(writer: FrameWriter): void {
  writer.uncorkIfCorked();
}
