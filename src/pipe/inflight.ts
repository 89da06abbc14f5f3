import { ErrorCode, RestpipeError, callerAborted } from '../errors.js';
import type { Reply } from '../event.js';
import { formatSeconds } from '../text.js';

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
}

function onDeadline(entry: PendingEvent, table: InflightTable, timeoutMs: number): void {
  table.abandon(entry.id, new RestpipeError(ErrorCode.EVENT_TIMEOUT, `no reply within ${formatSeconds(timeoutMs)}`));
}

/**
 * Outbound events in flight on one pipe, by message id. Ids are u32, allocated by a wrapping
 * counter that skips 0 and any id still live, so an id is never reused while its event (or a
 * late reply to it) could still be around: reuse needs 2^32 events in between.
 *
 * Every entry settles exactly once: by its reply, its deadline, its caller's signal, or the
 * pipe's failure. `onAbandon` tells the session which events the far side should cancel.
 */
export class InflightTable {
  readonly #entries = new Map<number, PendingEvent>();
  #nextId = 1;
  readonly #onAbandon: (entry: PendingEvent) => void;
  /** Replies that came for an event already settled (timed out or cancelled). */
  lateReplies = 0;

  /**
   * @param firstId the first id handed out (tests start near 2^32 to see the counter wrap).
   *   @default 1
   */
  constructor(onAbandon: (entry: PendingEvent) => void, firstId = 1) {
    if (!Number.isInteger(firstId) || firstId < 1 || firstId > 0xffff_ffff) {
      throw new RangeError(`firstId must be an integer from 1 to 2^32-1, got ${firstId}`);
    }
    this.#onAbandon = onAbandon;
    this.#nextId = firstId;
  }

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Registers a new event with its deadline and the caller's signal.
   * The signal must not be aborted already (the caller checks that first).
   */
  add(timeoutMs: number, signal: AbortSignal | undefined): PendingEvent {
    const entry = new PendingEvent(this, this.#allocateId());
    this.#entries.set(entry.id, entry);
    entry.timer = setTimeout(onDeadline, timeoutMs, entry, this, timeoutMs);
    entry.timer.unref();
    if (signal !== undefined) {
      entry.signal = signal;
      signal.addEventListener('abort', entry, { once: true });
    }
    return entry;
  }

  /** A reply arrived. False when nobody waits for it any more (late or unknown id). */
  settle(id: number, reply: Reply): boolean {
    const entry = this.#take(id);
    if (entry === undefined) {
      this.lateReplies++;
      return false;
    }
    entry.resolve(reply);
    entry.onSettled?.(entry, reply, undefined);
    return true;
  }

  /** The local side gives up on an event (deadline, caller's signal); the far side is told. */
  abandon(id: number, err: Error): void {
    const entry = this.#take(id);
    if (entry === undefined) return;
    entry.reject(err);
    entry.onSettled?.(entry, undefined, err);
    this.#onAbandon(entry);
  }

  /** Fails one event without telling the far side (it never got it). */
  fail(id: number, err: Error): void {
    const entry = this.#take(id);
    if (entry === undefined) return;
    entry.reject(err);
    entry.onSettled?.(entry, undefined, err);
  }

  /** Fails every event, e.g. with pipe_broken when the pipe dies. */
  failAll(err: Error): void {
    const entries = [...this.#entries.values()];
    for (const entry of entries) {
      this.#take(entry.id);
      entry.reject(err);
      entry.onSettled?.(entry, undefined, err);
    }
  }

  #take(id: number): PendingEvent | undefined {
    const entry = this.#entries.get(id);
    if (entry === undefined) return undefined;
    this.#entries.delete(id);
    entry.settled = true;
    clearTimeout(entry.timer);
    entry.signal?.removeEventListener('abort', entry);
    return entry;
  }

  #allocateId(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id === 0xffff_ffff ? 1 : id + 1;
      if (!this.#entries.has(id)) return id;
    }
  }
}
