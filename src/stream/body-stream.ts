import { Readable, Writable } from 'node:stream';

/**
 * Node streams over flow-controlled bodies (SPEC §9). The pipe owns the windows and the frames;
 * these classes are the edges user code touches:
 * - {@link IncomingBody}, a Readable of a body arriving from the peer, tells the pipe how many
 *   bytes its consumer read, so credit goes back as the consumer reads, not as bytes arrive;
 * - {@link OutgoingBody}, a Writable of a body going to the peer, finishes each write only once
 *   the pipe sent it (which needs credit), so `pipeline(source, body)` pauses the source when
 *   the far side stops reading.
 * An abnormal end is always an error on the reading side, never a clean end.
 */

/** What an incoming body tells its pipe. */
export interface IncomingPort {
  /** The consumer read `bytes` more (they left the stream's buffer). */
  consumed(bytes: number): void;
  /**
   * The stream was destroyed before its end arrived: by its consumer (it does not want the
   * rest; `err` may be null) or by the pipe itself through {@link IncomingBody.fail}.
   */
  abandoned(err: Error | null): void;
}

/**
 * A body arriving from the peer, as a Readable of Buffers. The pipe {@link deliver}s each chunk
 * (its window guarantees the stream never holds more than the window) and calls {@link finish}
 * at END_STREAM or {@link fail} when the body ends abnormally.
 *
 * How reads are seen: every way of consuming a Readable (flowing mode, `read()`, async
 * iteration, `pipe`) goes through `read()`, except a chunk pushed while the stream flows with
 * an empty buffer, which Node hands to the 'data' listeners inside `push`. So the bytes read
 * are `pushed − readableLength`, taken after every `read()` and every `push`. (`_read` is no
 * use for this: Node calls it only while the buffer is below the high-water mark and not after
 * a `_read` that pushed nothing, so a reader that drains the buffer in several reads is not seen.)
 */
export class IncomingBody extends Readable {
  readonly #port: IncomingPort;
  #pushed = 0;
  #reported = 0;
  #ended = false;
  /**
   * Lengths of the chunks pushed and not yet wholly read, oldest first (from `#chunksStart`), and
   * how much of the oldest was read: what {@link read} needs to hand out one chunk as it came.
   */
  #chunkLengths: number[] = [];
  #chunksStart = 0;
  #firstChunkRead = 0;

  /**
   * @param highWaterMark only what 'readable' and `push()`'s return mean; the memory bound is
   *   the window. @default 64 KiB
   */
  constructor(port: IncomingPort, highWaterMark = 64 * 1024) {
    super({ highWaterMark });
    this.#port = port;
    // A body nobody reads must not take the process down when its pipe breaks: readers (a
    // pipeline, an async iterator, an 'error' listener) still get the error; unread, it is dropped.
    this.on('error', ignoreError);
  }

  /** Bytes the pipe delivered. */
  get receivedBytes(): number {
    return this.#pushed;
  }

  /** END_STREAM arrived (all of the body was delivered). */
  get isComplete(): boolean {
    return this.#ended;
  }

  /** A chunk of the body arrived. Ignored once the stream is destroyed (the pipe gives its credit back). */
  deliver(chunk: Buffer): void {
    if (this.destroyed || this.#ended) return;
    this.#pushed += chunk.byteLength;
    if (chunk.byteLength > 0) this.#chunkLengths.push(chunk.byteLength);
    this.push(chunk);
    this.#account();
  }

  /** The body's end arrived: the stream ends cleanly once its consumer has read everything. */
  finish(): void {
    if (this.destroyed || this.#ended) return;
    this.#ended = true;
    this.push(null);
  }

  /** The body ended abnormally: the consumer gets `err` ('error'), never a clean end. */
  fail(err: Error): void {
    if (this.destroyed) return;
    this.destroy(err);
  }

  override _read(): void {
    // Chunks come when the peer sends them, within the credit the reads gave back.
  }

  /**
   * As Readable's, except that `read()` with no size while paused returns the oldest chunk (what is
   * left of it), not all that is buffered joined: that is what an async iterator or a 'readable'
   * loop calls, and joining copied every byte of a fast body once more (a big DATA frame arrives
   * as the several pieces of its TLS reads; the join was 17 % of an upload's receiving node).
   */
  override read(size?: number): unknown {
    let n = size;
    if (n === undefined && this.readableFlowing !== true && this.readableEncoding === null) {
      const first = this.#chunkLengths[this.#chunksStart];
      // Never more than is buffered (read(n) would return null and wait): after an unshift, whole.
      const left = first === undefined ? 0 : first - this.#firstChunkRead;
      if (left > 0 && left <= this.readableLength) n = left;
    }
    const chunk: unknown = super.read(n);
    this.#account();
    return chunk;
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.#ended) this.#port.abandoned(err);
    callback(err);
  }

  #account(): void {
    const consumed = this.#pushed - this.readableLength - this.#reported;
    if (consumed > 0) {
      this.#reported += consumed;
      this.#dropRead(consumed);
      this.#port.consumed(consumed);
    }
  }

  /** `n` more bytes were read: the chunks they finish leave `#chunkLengths`. */
  #dropRead(n: number): void {
    const lengths = this.#chunkLengths;
    let read = this.#firstChunkRead + n;
    let i = this.#chunksStart;
    while (i < lengths.length && read >= lengths[i]!) read -= lengths[i++]!;
    if (i === lengths.length) {
      // All read (more than was pushed, after an unshift): the next chunk starts whole.
      lengths.length = 0;
      this.#chunksStart = 0;
      this.#firstChunkRead = 0;
      return;
    }
    this.#firstChunkRead = read;
    if (i > 1024 && i * 2 > lengths.length) {
      lengths.splice(0, i);
      this.#chunksStart = 0;
    } else this.#chunksStart = i;
  }
}

/** What an outgoing body asks of its pipe. */
export interface OutgoingPort {
  /** Send `bytes`; call `done` once they all went (or with an error: the stream fails). */
  offer(bytes: Uint8Array, done: (err?: Error | null) => void): void;
  /** The body is complete: send its end; call `done` once it went. */
  finish(done: (err?: Error | null) => void): void;
  /**
   * The body stopped before its end (its source failed, or the stream was destroyed): nothing
   * more will be offered; the pipe tells the far side (a cancel or a reset).
   */
  abort(err: Error | null): void;
}

/**
 * A body going to the peer, as a Writable. Each write completes when the pipe has sent it,
 * which waits for credit; so the Writable's buffer fills and `write()` returns false while the
 * far side does not read, and `pipeline(source, body)` pauses the source. Strings are written
 * as UTF-8.
 */
export class OutgoingBody extends Writable {
  readonly #port: OutgoingPort;

  /** @param highWaterMark bytes the Writable buffers before `write()` says wait. @default 64 KiB */
  constructor(port: OutgoingPort, highWaterMark = 64 * 1024) {
    super({ highWaterMark });
    this.#port = port;
    // Its writer (a pipeline) hears of an abnormal end; with none, the error must not crash the node.
    this.on('error', ignoreError);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#port.offer(chunk, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#port.finish(callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.writableFinished) this.#port.abort(err);
    callback(err);
  }
}

function ignoreError(): void {}
