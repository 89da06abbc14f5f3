/** What the heartbeat needs from its session. */
export interface HeartbeatPort {
  /** Send a heartbeat frame with this id. */
  sendHeartbeat(id: number): void;
  /** The peer has been silent for `silentMs`: the pipe is dead. */
  onPeerSilent(silentMs: number): void;
}

/**
 * Liveness of one pipe (SPEC §6), the same on both sides. Any inbound bytes prove the peer is
 * alive, not only heartbeat replies, so a pipe busy with a large body is not declared dead
 * while a reply waits behind it. The session calls `markSeen()` per chunk (a flag, not a clock
 * read); one timer reads and clears the flag, sends a heartbeat every interval, and declares
 * the peer dead once it has been silent for the timeout.
 */
export class Heartbeat {
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #tickMs: number;
  readonly #port: HeartbeatPort;
  #timer: NodeJS.Timeout | undefined;
  #seen = false;
  #lastSeenAt = 0;
  #lastSentAt = 0;
  #lastTickAt = 0;
  #nextId = 1;
  #outstandingId = 0;
  /** Ticks in a row that saw no inbound data. */
  #silentTicks = 0;
  #outstandingSentAt = 0;
  /** Round-trip time of the last answered heartbeat, ms; undefined before the first. */
  rttMs: number | undefined;
  /** Heartbeat replies received. */
  replies = 0;

  constructor(intervalMs: number, timeoutMs: number, port: HeartbeatPort) {
    this.#intervalMs = intervalMs;
    this.#timeoutMs = timeoutMs;
    // Checking a few times per timeout keeps detection within timeout + a quarter of it,
    // instead of timeout + a whole interval.
    this.#tickMs = Math.max(5, Math.min(intervalMs, Math.floor(timeoutMs / 4)));
    this.#port = port;
  }

  /** Starts (or restarts) the timer and sends the first heartbeat at once. */
  start(): void {
    this.stop();
    this.#lastSeenAt = performance.now();
    this.#lastTickAt = this.#lastSeenAt;
    this.#silentTicks = 0;
    this.#send(this.#lastSeenAt);
    this.#timer = setInterval(tick, this.#tickMs, this);
    // The socket keeps the process alive while the pipe is open; this timer must not.
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  markSeen(): void {
    this.#seen = true;
  }

  /** A heartbeat reply arrived. */
  onReply(id: number): void {
    this.replies++;
    if (id === this.#outstandingId) {
      this.rttMs = performance.now() - this.#outstandingSentAt;
      this.#outstandingId = 0;
    }
  }

  /** @internal the timer's work. */
  check(): void {
    const now = performance.now();
    // A tick far behind schedule means this process was stalled (a blocking handler, a long GC,
    // SIGSTOP): bytes may be waiting unread, so the peer's silence cannot be judged this time.
    const stalled = now - this.#lastTickAt > this.#tickMs + this.#timeoutMs / 2;
    this.#lastTickAt = now;
    if (this.#seen || stalled) {
      this.#seen = false;
      this.#lastSeenAt = now;
      this.#silentTicks = 0;
    } else if (++this.#silentTicks * this.#tickMs >= this.#timeoutMs || now - this.#lastSeenAt >= this.#timeoutMs) {
      // Counting silent ticks, not only reading the clock: timers run on libuv's millisecond
      // clock, so four 100 ms ticks can measure 399.x ms by performance.now() and the clock
      // test alone would declare death one tick late (timeout + 2 ticks after the last data).
      // The clock test still catches time the ticks missed (a late tick fires once, not per
      // missed period).
      this.stop();
      this.#port.onPeerSilent(now - this.#lastSeenAt);
      return;
    }
    if (now - this.#lastSentAt >= this.#intervalMs - this.#tickMs / 2) this.#send(now);
  }

  #send(now: number): void {
    const id = this.#nextId;
    this.#nextId = id === 0xffff_ffff ? 1 : id + 1;
    this.#lastSentAt = now;
    if (this.#outstandingId === 0) {
      this.#outstandingId = id;
      this.#outstandingSentAt = now;
    }
    this.#port.sendHeartbeat(id);
  }
}

function tick(heartbeat: Heartbeat): void {
  heartbeat.check();
}
