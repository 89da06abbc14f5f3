import { ErrorCode, RestpipeError, callerAborted } from '../errors.js';
import type { Reply } from '../event.js';
import { formatSeconds } from '../text.js';

/**
 * Where an outbound event is (SPEC §9), which says what its timer means:
 * - `sending`: its request body is still being sent; the timer fires after that long without a
 *   chunk going out (the far side not reading, or the caller's source stalled);
 * - `waiting`: the request is all out; the timer is the wait for the reply's head;
 * - `replying`: the reply's head came (the caller has its Reply) and its body streams in; the
 *   timer fires after that long without a chunk of it.
 * A streamed transfer of any length is never cut by its timeout, only a stalled one.
 */
export type EventPhase = 'sending' | 'waiting' | 'replying';

/**
 * One outbound event waiting for its reply. It is its own abort listener (`handleEvent`), and
 * its deadline timer calls a shared function with the entry as argument, so an event costs no
 * closures beyond its promise.
 */
export class PendingEvent {
  readonly id: number;
  resolve!: (reply: Reply) => void;
  reject!: (err: Error) => void;
  readonly promise: Promise<Reply>;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  /** Set by the frame writer once the event's frame reached the socket. */
  sent = false;
  /** Set when the event settled; a queued frame of a settled event is never written. */
  settled = false;
  /** An observer (the session's metrics), called once right after the event settled. */
  onSettled: ((entry: PendingEvent, reply: Reply | undefined, err: Error | undefined) => void) | undefined;
  /** When the event was sent, for that observer (performance.now()). */
  startedAt = 0;
  /** What its timer waits for (see EventPhase). */
  phase: EventPhase = 'waiting';
  /** The event's timeout, ms: the same for each phase. */
  timeoutMs = 0;
  /** Bytes of its inline body, counted against the peer's inline budget until it is over. */
  inlineBytes = 0;
  /**
   * Asked when its timer fires while its body streams: true when it only waits its turn on a
   * busy pipe (it has data and credit, or its reply's sender has credit and the pipe carries
   * data), so a long transfer shared with others is not taken for a stalled one. Its timer
   * then starts over.
   */
  isWaitingItsTurn: (() => boolean) | undefined;
  readonly #table: InflightTable;

  constructor(table: InflightTable, id: number) {
    this.#table = table;
    this.id = id;
    this.promise = new Promise<Reply>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  /** The caller's AbortSignal fired. */
  handleEvent(): void {
    const reason: unknown = this.signal?.reason;
    this.#table.abandon(this.id, callerAborted(reason));
  }

  /** The event made progress (a chunk of its request went out, or of its reply came in): its timer starts over. */
  progressed(): void {
    this.timer?.refresh();
  }
}

function onDeadline(entry: PendingEvent, table: InflightTable, timeoutMs: number): void {
  if (entry.phase !== 'waiting' && entry.isWaitingItsTurn?.() === true) {
    entry.timer?.refresh();
    return;
  }
  const t = formatSeconds(timeoutMs);
  const what =
    entry.phase === 'sending' ? `the request body made no progress for ${t}` : entry.phase === 'replying' ? `the reply body made no progress for ${t}` : `no reply within ${t}`;
  table.abandon(entry.id, new RestpipeError(ErrorCode.EVENT_TIMEOUT, what));
}

/**
 * Outbound events in flight on one pipe, by message id. Ids are u32, allocated by a wrapping
 * counter that skips 0 and any id still live, so an id is never reused while its event (or a
 * late reply to it) could still be around: reuse needs 2^32 events in between.
 *
 * Every entry settles exactly once: by its reply, its deadline, its caller's signal, or the
 * pipe's failure. `onAbandon` tells the session which events the far side should cancel, with
 * the error the event ended with (a streamed reply's body fails with it). An event whose reply
 * streams its body stays here after its promise resolved ({@link startReply}) until the body
 * ends ({@link finish}) or the event is given up.
 */
export class InflightTable {
  // Made on first use (an idle pipe's empty Map and its table are ~250 B; issue 14).
  #entries: Map<number, PendingEvent> | undefined;
  #nextId = 1;
  readonly #onAbandon: (entry: PendingEvent, err: Error) => void;
  readonly #onRemoved: ((entry: PendingEvent, err: Error | undefined) => void) | undefined;
  /** Replies that came for an event already settled (timed out or cancelled). */
  lateReplies = 0;

  /**
   * @param firstId the first id handed out (tests start near 2^32 to see the counter wrap).
   *   @default 1
   * @param onRemoved called whenever an entry leaves the table, however it ended (`err` unless
   *   it ended well): the owner frees what the event held.
   */
  constructor(onAbandon: (entry: PendingEvent, err: Error) => void, firstId = 1, onRemoved?: (entry: PendingEvent, err: Error | undefined) => void) {
    if (!Number.isInteger(firstId) || firstId < 1 || firstId > 0xffff_ffff) {
      throw new RangeError(`firstId must be an integer from 1 to 2^32-1, got ${firstId}`);
    }
    this.#onAbandon = onAbandon;
    this.#onRemoved = onRemoved;
    this.#nextId = firstId;
  }

  get size(): number {
    return this.#entries?.size ?? 0;
  }

  /**
   * Registers a new event with its deadline and the caller's signal.
   * The signal must not be aborted already (the caller checks that first).
   */
  add(timeoutMs: number, signal: AbortSignal | undefined): PendingEvent {
    const entry = new PendingEvent(this, this.#allocateId());
    entry.timeoutMs = timeoutMs;
    (this.#entries ??= new Map()).set(entry.id, entry);
    entry.timer = setTimeout(onDeadline, timeoutMs, entry, this, timeoutMs);
    entry.timer.unref();
    if (signal !== undefined) {
      entry.signal = signal;
      signal.addEventListener('abort', entry, { once: true });
    }
    return entry;
  }

  /** The event in flight with this id (its reply head may have come), or undefined. */
  get(id: number): PendingEvent | undefined {
    return this.#entries?.get(id);
  }

  /** A whole reply arrived. False when nobody waits for it any more (late or unknown id, or a second head). */
  settle(id: number, reply: Reply): boolean {
    const entry = this.#entries?.get(id);
    if (entry === undefined || entry.phase === 'replying') {
      this.lateReplies++;
      return false;
    }
    this.#take(id, undefined);
    entry.resolve(reply);
    entry.onSettled?.(entry, reply, undefined);
    return true;
  }

  /**
   * A reply's head arrived and its body follows as a stream: the caller gets the reply now, and
   * the event stays in flight until {@link finish} (its timer now waits for the body's chunks).
   * False as {@link settle}.
   */
  startReply(id: number, reply: Reply): boolean {
    const entry = this.#entries?.get(id);
    if (entry === undefined || entry.phase === 'replying') {
      this.lateReplies++;
      return false;
    }
    entry.phase = 'replying';
    entry.timer?.refresh();
    entry.resolve(reply);
    entry.onSettled?.(entry, reply, undefined);
    entry.onSettled = undefined;
    return true;
  }

  /** A streamed reply's body ended: the event is over. */
  finish(id: number): void {
    this.#take(id, undefined);
  }

  /** The local side gives up on an event (deadline, caller's signal); the far side is told. */
  abandon(id: number, err: Error): void {
    const entry = this.#take(id, err);
    if (entry === undefined) return;
    entry.reject(err);
    entry.onSettled?.(entry, undefined, err);
    this.#onAbandon(entry, err);
  }

  /** Fails one event without telling the far side (it never got it, or it ended it itself). */
  fail(id: number, err: Error): void {
    const entry = this.#take(id, err);
    if (entry === undefined) return;
    entry.reject(err);
    entry.onSettled?.(entry, undefined, err);
  }

  /** Fails every event, e.g. with pipe_broken when the pipe dies. */
  failAll(err: Error): void {
    if (this.#entries === undefined) return;
    const entries = [...this.#entries.values()];
    for (const entry of entries) {
      this.#take(entry.id, err);
      entry.reject(err);
      entry.onSettled?.(entry, undefined, err);
    }
  }

  #take(id: number, err: Error | undefined): PendingEvent | undefined {
    const entry = this.#entries?.get(id);
    if (entry === undefined) return undefined;
    this.#entries!.delete(id);
    entry.settled = true;
    clearTimeout(entry.timer);
    entry.signal?.removeEventListener('abort', entry);
    this.#onRemoved?.(entry, err);
    return entry;
  }

  #allocateId(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id === 0xffff_ffff ? 1 : id + 1;
      if (this.#entries?.has(id) !== true) return id;
    }
  }
}
