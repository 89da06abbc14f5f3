import { ProtocolError } from '../errors.js';

/**
 * Credit accounting for flow-controlled bodies (SPEC §9; HTTP/2 RFC 9113 §5.2 and §6.9, yamux).
 * Pure: numbers in, numbers out, no I/O and no timers. A receiver keeps a {@link ReceiveWindow}
 * per body stream and one for the whole pipe; a sender keeps a {@link SendWindow} for each.
 *
 * The receiver's bytes are always in exactly one of three states, so that
 * `available + buffered + unacked === window` holds at every step (the property tests check it):
 * - `available`: credit the peer has and has not used yet (bytes it may still send; bytes on the
 *   wire count here too);
 * - `buffered`: arrived, not yet read by the consumer;
 * - `unacked`: read, but the credit not given back yet (updates are batched).
 */

/** The largest window or credit either side may have: HTTP/2's 2^31−1, so any sum of two fits a u32. */
export const MAX_WINDOW_BYTES = 2 ** 31 - 1;

/**
 * How much a pipe's streams together may grow their windows beyond where they started. A stream
 * grows (doubles) only when it can take that much of the budget; a closing stream gives its growth
 * back. Without a cap, a few fast streams could take windows that add up past the pipe's window
 * and then, if they stall, hold the pipe's credit that every other stream needs (rust-yamux keeps
 * the same sum, "accumulated max stream windows"; fatedier/frp#2987 is what a shared buffer does).
 */
export class GrowthBudget {
  readonly #limitBytes: number;
  #usedBytes = 0;

  /** @param limitBytes the most all streams may grow together (bytes, ≥ 0). */
  constructor(limitBytes: number) {
    checkCount('limitBytes', limitBytes);
    this.#limitBytes = limitBytes;
  }

  get usedBytes(): number {
    return this.#usedBytes;
  }

  get limitBytes(): number {
    return this.#limitBytes;
  }

  /** Takes `n` bytes of growth if they fit; true when taken. */
  tryTake(n: number): boolean {
    if (this.#usedBytes + n > this.#limitBytes) return false;
    this.#usedBytes += n;
    return true;
  }

  /** Gives back growth taken before. */
  give(n: number): void {
    if (n > this.#usedBytes) throw new RangeError(`giving back ${n} bytes of growth, only ${this.#usedBytes} taken`);
    this.#usedBytes -= n;
  }
}

/**
 * How soon after a stalled sender's last chunk the reader must have brought what waits below half
 * the window for the stall to count as the window's fault (auto-tuning): a reader of a 256 KiB
 * window must then read at ≥ 2.5 MiB/s, of a 16 MiB one at ≥ 160 MiB/s.
 */
const STARVED_WITHIN_MS = 50;

/**
 * With a round-trip time known, a window grows only while it is smaller than what the link can
 * carry in that time: half of it read within GROW_WITHIN_RTTS round trips (quic-go's rule,
 * flowcontrol/base_flow_controller.go). A reader on a fast, short path (loopback) reads half a
 * window within the RTT only at rates no CPU here reaches once the window is a few hundred KiB,
 * so the window stops there instead of at its max: what it would add is bytes waiting in the
 * kernel's socket buffers, and every small event behind them waits that long (with 16 MiB windows,
 * 6-7 MB sat in the two sockets' buffers of a loopback download; a small event's p99 15-58 ms).
 */
const GROW_WITHIN_RTTS = 2;
/**
 * The RTT the rule above uses is at least this: a busy receiver's turns delay its updates. Side
 * by side on loopback (2 × 2 rounds of 512 MiB each way), 0.25 ms against 1 ms: the same MiB/s,
 * small-event p99 during a bulk download 24 against 34 ms (medians; very noisy).
 */
const RTT_FLOOR_MS = 0.25;

function nowMs(): number {
  return performance.now();
}

function unknownRtt(): undefined {
  return undefined;
}

/** What a {@link ReceiveWindow}'s auto-tuning reads. */
export interface WindowTuning {
  /** The clock, ms. @default performance.now */
  now?: () => number;
  /**
   * The path's round-trip time, ms (the pipe's smallest heartbeat RTT), undefined while
   * unknown: growth then needs only the starved sender. @default always unknown
   */
  rttMs?: () => number | undefined;
}

/**
 * The receiving side of one flow-controlled body (or, with `maxBytes === initialBytes`, of the
 * whole pipe). The peer starts with `initialBytes` of credit; each DATA frame spends some
 * ({@link receive}); each read of the consumer frees some ({@link consume}); credit goes back to
 * the peer through {@link takeUpdate}, once at least half the window has been read (yamux's
 * rule: batched, never an update per chunk, which would degrade into tiny frames, nghttp2#1722).
 *
 * Auto-tuning: when the sender says it ran out of credit with more to send (the BLOCKED flag on
 * its last chunk) while the consumer kept up (less than half the window waiting to be read), the
 * window, not the reader, held the sender back (the bandwidth-delay product is larger than the
 * window), so the next update doubles the window, up to `maxBytes` and within the pipe's
 * {@link GrowthBudget}. A slow reader never makes a window grow: its bytes wait in `buffered`.
 * ("Kept up" is judged when the chunk arrives, or, as chunks arrive in bursts before the reader
 * has had a turn, when the reader has brought the burst below half the window within
 * STARVED_WITHIN_MS of the stall.)
 * (The receiver cannot see this alone: with a fast reader its updates are already on their way
 * when the sender runs dry, so the credit it has granted never looks used up.)
 * Once the path's round-trip time is known, the window must also be too small for it: half of
 * it read within GROW_WITHIN_RTTS round trips (see there).
 */
export class ReceiveWindow {
  readonly #initialBytes: number;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #rttMs: () => number | undefined;
  #window: number;
  /** When the last update was taken (or the window made): the start of this half window's reading. */
  #epochAt: number;
  #available: number;
  #buffered = 0;
  #unacked = 0;
  #starved = false;
  /** When a chunk flagged BLOCKED arrived while the reader had not caught up yet (performance.now()). */
  #blockedAt: number | undefined;
  #closed = false;

  /**
   * @param initialBytes the window the peer was told (Hello.initial_stream_window, or the pipe window).
   * @param maxBytes the largest the window may grow to (`initialBytes` for a window that never grows).
   * @param tuning what auto-tuning reads (see {@link WindowTuning}).
   * @throws RangeError for sizes that are not integers 1 to 2^31−1, or max below initial.
   */
  constructor(initialBytes: number, maxBytes: number = initialBytes, { now = nowMs, rttMs = unknownRtt }: WindowTuning = {}) {
    this.#now = now;
    this.#rttMs = rttMs;
    this.#epochAt = now();
    checkWindow('initialBytes', initialBytes);
    checkWindow('maxBytes', maxBytes);
    if (maxBytes < initialBytes) throw new RangeError(`maxBytes (${maxBytes}) must not be below initialBytes (${initialBytes})`);
    this.#initialBytes = initialBytes;
    this.#maxBytes = maxBytes;
    this.#window = initialBytes;
    this.#available = initialBytes;
  }

  /** The window now: what the peer may have outstanding (sent, not yet read here). */
  get window(): number {
    return this.#window;
  }

  /** Credit the peer has not used yet. */
  get available(): number {
    return this.#available;
  }

  /** Bytes that arrived and the consumer has not read. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Bytes read whose credit has not been given back yet. */
  get unacked(): number {
    return this.#unacked;
  }

  /**
   * `n` bytes of DATA arrived; `senderBlocked` when the chunk carried the BLOCKED flag.
   * @throws ProtocolError when they exceed the peer's credit (`what` names the window in the message).
   */
  receive(n: number, what = 'stream', senderBlocked = false): void {
    if (n > this.#available) {
      throw new ProtocolError(`DATA of ${n} bytes exceeds the ${what} window's remaining credit of ${this.#available} bytes`);
    }
    this.#available -= n;
    this.#buffered += n;
    // The sender ran dry while our consumer keeps up: the window is the bottleneck (see the class comment).
    if (senderBlocked) {
      if (this.#buffered * 2 < this.#window) this.#starved = true;
      // Chunks arrive in bursts (one read of the socket delivers many) before the consumer has
      // had a turn: whether it keeps up is seen when it reads (consume).
      else this.#blockedAt = this.#now();
    }
  }

  /**
   * The consumer read `n` bytes.
   * @throws RangeError when more than is buffered (a bug in the caller, not the peer's doing).
   */
  consume(n: number): void {
    if (n > this.#buffered) throw new RangeError(`consumed ${n} bytes, only ${this.#buffered} buffered`);
    this.#buffered -= n;
    this.#unacked += n;
    if (this.#blockedAt !== undefined && this.#buffered * 2 < this.#window) {
      // A reader that took the burst down to less than half the window soon after the sender
      // stalled keeps up; a slow one (longer than STARVED_WITHIN_MS) does not make it grow.
      if (this.#now() - this.#blockedAt <= STARVED_WITHIN_MS) this.#starved = true;
      this.#blockedAt = undefined;
    }
  }

  /**
   * The credit to give back now, or 0 when the update can wait (less than half the window read
   * since the last one, or the window closed). Giving it back is a promise: the caller must send
   * a WINDOW_UPDATE with exactly this increment. Grows the window as the class comment says;
   * the growth is part of the increment.
   */
  takeUpdate(growth?: GrowthBudget): number {
    if (this.#closed || this.#unacked * 2 < this.#window) return 0;
    let increment = this.#unacked;
    const now = this.#now();
    const halfReadInMs = now - this.#epochAt;
    this.#epochAt = now;
    if (this.#starved) {
      this.#starved = false;
      const grow = Math.min(this.#window, this.#maxBytes - this.#window);
      const rtt = this.#rttMs();
      const linkWantsMore = rtt === undefined || halfReadInMs < GROW_WITHIN_RTTS * Math.max(rtt, RTT_FLOOR_MS);
      if (grow > 0 && linkWantsMore && (growth === undefined || growth.tryTake(grow))) {
        this.#window += grow;
        increment += grow;
      }
    }
    this.#unacked = 0;
    this.#available += increment;
    return increment;
  }

  /**
   * The stream ended (fully read, cancelled, or broken): no more updates; gives the window's
   * growth back to `growth`. Returns the bytes still buffered, which the caller gives back to the
   * pipe's window (they were charged to it too). Idempotent: a second call returns 0.
   */
  close(growth?: GrowthBudget): number {
    if (this.#closed) return 0;
    this.#closed = true;
    growth?.give(this.#window - this.#initialBytes);
    const buffered = this.#buffered;
    this.#buffered = 0;
    return buffered;
  }
}

/**
 * The sending side of one flow-controlled body, or of the whole pipe: the credit the peer gave.
 * A sender never sends more than its credit ({@link spend} refuses), and a peer never gives more
 * than the window it told us it may have ({@link grant} refuses: a protocol error).
 */
export class SendWindow {
  readonly #maxBytes: number;
  #credit: number;

  /**
   * @param initialBytes the credit the peer's hello gave (its initial stream window, or its pipe window).
   * @param maxBytes the most credit the peer may give (its max stream window, or its pipe window).
   * @throws RangeError for sizes that are not integers 1 to 2^31−1, or max below initial.
   */
  constructor(initialBytes: number, maxBytes: number = initialBytes) {
    checkWindow('initialBytes', initialBytes);
    checkWindow('maxBytes', maxBytes);
    if (maxBytes < initialBytes) throw new RangeError(`maxBytes (${maxBytes}) must not be below initialBytes (${initialBytes})`);
    this.#maxBytes = maxBytes;
    this.#credit = initialBytes;
  }

  /** Bytes that may be sent now. */
  get credit(): number {
    return this.#credit;
  }

  /**
   * `n` bytes were sent.
   * @throws RangeError when over the credit (a bug in the caller).
   */
  spend(n: number): void {
    if (n > this.#credit) throw new RangeError(`sending ${n} bytes with a credit of ${this.#credit}`);
    this.#credit -= n;
  }

  /**
   * The peer gave `increment` bytes more.
   * @throws ProtocolError for an increment of 0, or one that lifts the credit above the most the
   *   peer may give (`what` names the window in the message).
   */
  grant(increment: number, what = 'stream'): void {
    if (!Number.isInteger(increment) || increment <= 0) {
      throw new ProtocolError(`WINDOW_UPDATE with an increment of ${increment} for the ${what} window`);
    }
    if (this.#credit + increment > this.#maxBytes) {
      throw new ProtocolError(`WINDOW_UPDATE of ${increment} bytes lifts the ${what} credit to ${this.#credit + increment}, above its window of ${this.#maxBytes}`);
    }
    this.#credit += increment;
  }
}

function checkWindow(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 1 || n > MAX_WINDOW_BYTES) throw new RangeError(`${name} must be an integer from 1 to 2^31-1, got ${n}`);
}

function checkCount(name: string, n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name} must be a non-negative integer, got ${n}`);
}
