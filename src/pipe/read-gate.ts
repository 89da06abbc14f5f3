import type { Duplex } from 'node:stream';
import type { FrameWriter } from './frame-writer.js';

/** What the gate needs from its session. */
export interface ReadGatePort {
  /**
   * Reading has been stopped for `stalledMs` and the peer took none of the `queuedBytes` of
   * responses waiting for it meanwhile: it is not reading. The gate has stopped itself.
   */
  onPeerNotReading(queuedBytes: number, stalledMs: number): void;
}

/**
 * Read backpressure for one pipe: a peer that does not read what we answer must not make us
 * answer more.
 *
 * Everything the peer sends may cost us a write (an event costs a reply, a heartbeat a
 * heartbeat reply), and those writes go to the socket whether the peer reads them or not. So
 * once the responses it has not taken pass `limitBytes`, we stop reading from it
 * (`socket.pause()`): what it sends waits in the kernel and, once that is full, in its own
 * buffers, and it can no longer grow ours. Reading resumes when the responses are down to
 * `resumeBytes` (on 'drain', or at the next tick). While paused, the only frames still written
 * are our own and bounded in number: replies of the handlers already running (at most
 * max-inflight), heartbeats, cancels of our events, a goaway; our new events wait in the
 * writer's bounded queue.
 *
 * A peer that reads slowly is fine: it stays paused as long as it likes at a bounded cost. A
 * peer that takes none of our bytes while we hold it paused is not reading at all and is
 * reported, so the session closes the pipe saying so. "None" can only be seen at the grain of
 * the socket's writes: Node reports bytes as gone when a whole write batch has reached the
 * kernel, and a batch is everything that queued while the previous one was out (megabytes on a
 * slow link). So a peer gets the heartbeat timeout (`stallTimeoutMs`) per `minBytesPerStall` of
 * what is waiting, counted again at each sign of progress: a peer that takes nothing is closed
 * about one to two heartbeat timeouts after we stopped reading it, and an honest peer on a slow
 * link is closed only if it takes less than `minBytesPerStall` per timeout (max-queued-bytes:
 * 8 MiB per 10 s by default). A later change writes bodies in chunks, which makes the grain one
 * chunk. While paused, the heartbeat must not judge the peer's silence: we are the ones not
 * reading.
 *
 * Reading also yields: after every `yieldEveryBytes` read, the socket is paused until the next
 * turn of the event loop (`afterRead`). Left alone, Node reads a socket that always has data
 * for up to 32 reads of 64 KiB in one turn, and a peer flooding small events makes that one
 * turn last a second or more on a busy machine: our timers (heartbeats, deadlines, this gate's
 * own checks) and every other pipe wait behind it, and an honest peer's heartbeat answers come
 * back late enough to look dead (test/faults/hostile-peer-never-reads (a), under load).
 */
export class ReadGate {
  readonly #socket: Duplex;
  readonly #writer: FrameWriter;
  readonly #limitBytes: number;
  readonly #resumeBytes: number;
  readonly #stallTimeoutMs: number;
  readonly #minBytesPerStall: number;
  readonly #tickMs: number;
  readonly #port: ReadGatePort;
  readonly #yieldEveryBytes: number;
  #paused = false;
  #closed = false;
  /** Bytes read since reading last yielded. */
  #readSinceYield = 0;
  #yielding = false;
  /** The gate had stopped reading when it was closed: nothing resumes the socket after that. */
  #stoppedAtClose = false;
  #timer: NodeJS.Timeout | undefined;
  #lastFlushed = 0;
  #lastProgressAt = 0;
  /** How long the bytes waiting at the last progress may take before the peer counts as not reading. */
  #allowanceMs = 0;
  /** Times reading was paused, for status and tests. */
  pauses = 0;

  constructor(
    socket: Duplex,
    writer: FrameWriter,
    options: { limitBytes: number; resumeBytes: number; stallTimeoutMs: number; minBytesPerStall: number; tickMs: number; yieldEveryBytes: number },
    port: ReadGatePort,
  ) {
    this.#socket = socket;
    this.#writer = writer;
    this.#limitBytes = options.limitBytes;
    this.#resumeBytes = Math.min(options.resumeBytes, options.limitBytes);
    this.#stallTimeoutMs = options.stallTimeoutMs;
    this.#minBytesPerStall = Math.max(1, options.minBytesPerStall);
    this.#tickMs = options.tickMs;
    this.#yieldEveryBytes = options.yieldEveryBytes;
    this.#port = port;
    socket.on('drain', () => {
      if (this.#paused) this.#check();
    });
  }

  /** True while we do not read the peer on purpose. */
  get paused(): boolean {
    return this.#paused;
  }

  /** Call after writing a response to the peer: stops reading it once its responses pass the limit. */
  afterResponse(): void {
    // The socket's whole buffer first (a property read): only past it is the exact count taken.
    if (this.#paused || this.#closed || this.#socket.writableLength <= this.#limitBytes) return;
    if (this.#writer.responseBytesQueued <= this.#limitBytes) return;
    this.#paused = true;
    this.pauses++;
    this.#socket.pause();
    this.#progressed(performance.now());
    this.#timer = setInterval(checkGate, this.#tickMs, this);
    this.#timer.unref();
  }

  /** Call per chunk read from the peer: past `yieldEveryBytes`, reading waits for the next turn. */
  afterRead(bytes: number): void {
    this.#readSinceYield += bytes;
    if (this.#readSinceYield < this.#yieldEveryBytes || this.#yielding || this.#closed) return;
    this.#yielding = true;
    if (!this.#paused) this.#socket.pause();
    setImmediate(endYield, this);
  }

  /** @internal setImmediate's work: reading goes on unless the gate holds it for its own reason. */
  endYield(): void {
    this.#yielding = false;
    this.#readSinceYield = 0;
    // After close() too: the socket reads on as it did before the yield (the session's close
    // still wants the peer's FIN), unless the gate had stopped reading it.
    if (!this.#paused && !this.#stoppedAtClose) this.#socket.resume();
  }

  /** Stops the timer for good (the pipe is closing); the socket is left as it is. */
  close(): void {
    this.#stoppedAtClose = this.#paused;
    this.#closed = true;
    this.#paused = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** @internal the timer's (and 'drain''s) work while paused. */
  check(): void {
    this.#check();
  }

  #check(): void {
    if (!this.#paused || this.#closed) return;
    const queued = this.#writer.responseBytesQueued;
    if (queued <= this.#resumeBytes) {
      this.#paused = false;
      clearInterval(this.#timer);
      this.#timer = undefined;
      // A yield in progress resumes reading at its end.
      if (!this.#yielding) this.#socket.resume();
      return;
    }
    const now = performance.now();
    if (this.#writer.flushedBytes !== this.#lastFlushed) {
      this.#progressed(now);
      return;
    }
    const stalledMs = now - this.#lastProgressAt;
    if (stalledMs >= this.#allowanceMs) {
      this.close();
      this.#port.onPeerNotReading(queued, stalledMs);
    }
  }

  #progressed(now: number): void {
    this.#lastFlushed = this.#writer.flushedBytes;
    this.#lastProgressAt = now;
    this.#allowanceMs = this.#stallTimeoutMs * Math.max(1, this.#socket.writableLength / this.#minBytesPerStall);
  }
}

function checkGate(gate: ReadGate): void {
  gate.check();
}

function endYield(gate: ReadGate): void {
  gate.endYield();
}
