import type { SendWindow } from './window.js';

/** A chunk of body the writer gave, waiting to be sent, and what to call once it all went. */
interface PendingChunk {
  bytes: Uint8Array;
  done: (err?: Error | null) => void;
}

/** What the scheduler takes from a stream for one DATA frame. */
export interface DataPiece {
  /** A view of the writer's chunk (never a copy); empty for a bare end. */
  chunk: Uint8Array;
  /** This frame carries END_STREAM. */
  end: boolean;
  /** This piece used the last of the stream's credit and the body is not finished (the BLOCKED flag). */
  blocked: boolean;
  /**
   * Call once the piece was handed to the socket: it completes the writer's chunk (or its
   * end), and the writer may reuse that memory once told.
   */
  written: (() => void) | undefined;
}

/**
 * The sending side of one body: the chunks its writer offered, its credit, its end.
 * The scheduler takes pieces of at most one chunk per turn; a piece needs credit (stream and
 * pipe), a bare end does not. A writer's callback runs once the scheduler took the whole chunk,
 * which is how a Writable over this stream (body-stream.ts) waits for credit.
 *
 * `declaredBytes` (the head's body_length) is enforced: an offer past it fails at once, and a
 * finish short of it fails, so the far side never sees a length and a body that disagree; the
 * chunk that reaches it carries END_STREAM.
 */
export class SendStream {
  /** The event's id. */
  readonly id: number;
  /** A reply body (sent with the REPLY flag) rather than a request body. */
  readonly isReply: boolean;
  readonly window: SendWindow;
  readonly declaredBytes: number | undefined;
  /** Scheduler bookkeeping: queued in its ring now. */
  inRing = false;
  /** Scheduler bookkeeping: the head went out, DATA may follow. */
  attached = false;
  /** The owner's hook, called after each DATA frame of this stream was written (`end` on the last). */
  onWritten: ((end: boolean) => void) | undefined;
  readonly #chunks: PendingChunk[] = [];
  #offset = 0;
  #pendingBytes = 0;
  #sentBytes = 0;
  #endRequested: ((err?: Error | null) => void) | undefined;
  #endSent = false;
  #aborted = false;
  /** Tells the scheduler this stream may have something to send now. */
  #waker: StreamWaker = NO_WAKER;

  constructor(id: number, isReply: boolean, window: SendWindow, declaredBytes?: number) {
    this.id = id;
    this.isReply = isReply;
    this.window = window;
    this.declaredBytes = declaredBytes;
  }

  /** Body bytes handed to the scheduler so far. */
  get sentBytes(): number {
    return this.#sentBytes;
  }

  /** Offered bytes not sent yet. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** The last frame (END_STREAM) went out. */
  get isEnded(): boolean {
    return this.#endSent;
  }

  get isAborted(): boolean {
    return this.#aborted;
  }

  /** @internal the scheduler's hook, set when the stream is attached. */
  setWake(waker: StreamWaker): void {
    this.#waker = waker;
  }

  /**
   * The writer has a chunk; `done` runs when all of it was taken (or with an error when the
   * stream was aborted or the chunk goes past the declared length).
   */
  offer(bytes: Uint8Array, done: (err?: Error | null) => void): void {
    if (this.#aborted || this.#endSent || this.#endRequested !== undefined) {
      done(new Error(this.#aborted ? 'the body stream was aborted' : 'write after end'));
      return;
    }
    if (this.declaredBytes !== undefined && this.#sentBytes + this.#pendingBytes + bytes.byteLength > this.declaredBytes) {
      done(new RangeError(`the body is longer than its declared length of ${this.declaredBytes} bytes`));
      return;
    }
    if (bytes.byteLength === 0) {
      done();
      return;
    }
    this.#chunks.push({ bytes, done });
    this.#pendingBytes += bytes.byteLength;
    this.#waker.wake(this);
  }

  /** The writer is done; `done` runs once END_STREAM went out (or with an error, see the class). */
  finish(done: (err?: Error | null) => void): void {
    if (this.#aborted) {
      done(new Error('the body stream was aborted'));
      return;
    }
    if (this.declaredBytes !== undefined && this.#sentBytes + this.#pendingBytes < this.declaredBytes) {
      done(new RangeError(`the body ended after ${this.#sentBytes + this.#pendingBytes} of its declared ${this.declaredBytes} bytes`));
      return;
    }
    if (this.#endSent) {
      done();
      return;
    }
    this.#endRequested = done;
    this.#waker.wake(this);
  }

  /**
   * Stops the stream now: nothing more is sent (the pipe sends a cancel or a reset instead) and
   * the offered chunks are forgotten; their callbacks are not called (the Writable over the
   * stream is being destroyed).
   */
  abort(): void {
    this.#aborted = true;
    this.#chunks.length = 0;
    this.#offset = 0;
    this.#pendingBytes = 0;
    this.#endRequested = undefined;
  }

  /**
   * Whether the scheduler could take a piece now, given the pipe's credit: bytes and credit for
   * at least one of them, or a bare end.
   */
  canSend(pipeCredit: number): boolean {
    if (this.#aborted || this.#endSent) return false;
    if (this.#pendingBytes > 0) return this.window.credit > 0 && pipeCredit > 0;
    return this.#endRequested !== undefined;
  }

  /** Whether it waits for stream credit only (the pipe's credit would not help). */
  get isBlockedOnStreamCredit(): boolean {
    return this.#pendingBytes > 0 && this.window.credit === 0;
  }

  /**
   * Takes the next piece: at most `maxBytes`, the stream's credit and `pipeCredit`, from the
   * oldest chunk (never across chunks: one piece is one view); spends the stream's credit (the
   * caller spends the pipe's). Undefined when nothing can go now.
   */
  take(maxBytes: number, pipeCredit: number): DataPiece | undefined {
    if (this.#aborted || this.#endSent) return undefined;
    const head = this.#chunks[0];
    if (head === undefined) {
      if (this.#endRequested === undefined) return undefined;
      return this.#sendEnd(new Uint8Array(0), undefined);
    }
    const n = Math.min(maxBytes, this.window.credit, pipeCredit, head.bytes.byteLength - this.#offset);
    if (n <= 0) return undefined;
    const chunk = this.#offset === 0 && n === head.bytes.byteLength ? head.bytes : head.bytes.subarray(this.#offset, this.#offset + n);
    this.window.spend(n);
    this.#offset += n;
    this.#pendingBytes -= n;
    this.#sentBytes += n;
    let written: (() => void) | undefined;
    if (this.#offset === head.bytes.byteLength) {
      this.#chunks.shift();
      this.#offset = 0;
      written = head.done;
    }
    // The piece that completes a declared length is the last: it carries END_STREAM, and the
    // writer's later finish() has nothing left to send.
    const complete = this.declaredBytes !== undefined && this.#sentBytes === this.declaredBytes;
    if (complete || (this.#pendingBytes === 0 && this.#endRequested !== undefined)) return this.#sendEnd(chunk, written);
    // Out of credit with the body not finished: more waits, or will come. A Writable hands over
    // one chunk at a time, so when the credit ends at a chunk boundary (a 256 KiB window of 64 KiB
    // chunks) the next chunk is not here yet; asking for pending bytes alone never set the flag
    // then, and a download's window stayed at its first 256 KiB for 512 MiB.
    const blocked = this.window.credit === 0 && (this.#pendingBytes > 0 || this.#endRequested === undefined);
    return { chunk, end: false, blocked, written };
  }

  #sendEnd(chunk: Uint8Array, chunkWritten: (() => void) | undefined): DataPiece {
    this.#endSent = true;
    const endDone = this.#endRequested;
    this.#endRequested = undefined;
    if (endDone === undefined) return { chunk, end: true, blocked: false, written: chunkWritten };
    return {
      chunk,
      end: true,
      blocked: false,
      written: () => {
        chunkWritten?.();
        endDone();
      },
    };
  }
}

/** Who takes a stream back into its turns once it can send again (the scheduler). */
export interface StreamWaker {
  wake(stream: SendStream): void;
}

const NO_WAKER: StreamWaker = { wake() {} };
