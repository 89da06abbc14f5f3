import { createHmac, randomBytes, randomInt } from 'node:crypto';

/** What the heartbeat needs from its session. */
export interface HeartbeatPort {
  /** Send a heartbeat frame with this id. */
  sendHeartbeat(id: number): void;
  /**
   * The peer showed no sign of life for `silentMs`: the pipe is dead. `keptSending` is true when
   * data kept arriving but none of it counted (the peer answered none of our heartbeats).
   */
  onPeerSilent(silentMs: number, keptSending: boolean): void;
  /** Whether this node has been sending bulk data since the last call (FrameWriter.takeBusySending). */
  busySending(): boolean;
  /** True while this node does not read the peer on purpose (read-gate.ts): its silence is ours. */
  readPaused(): boolean;
}

/**
 * Heartbeat ids answered: those of the last 256 heartbeats sent, whose answers may come late
 * behind a backlog (21 min at the default 5 s, 26 s at the tests' 100 ms). A made-up id matches
 * one of them with odds of 256 in 2^32, and the first miss is a protocol error.
 *
 * The ids are not kept: an id is its heartbeat's sequence number (low 8 bits) under a keyed MAC
 * of this pipe's nonce and that number (high 24 bits), so an answer is checked by computing the
 * one id it can be. Kept, 256 random ids were up to 2 KiB per pipe (issue 14, idle memory).
 */
const RECENT_IDS = 256;
/** Keys the ids' MAC; a peer sees ids, never the key. One per process. */
const ID_KEY = randomBytes(32);
const idInput = Buffer.alloc(16);

/** The id of heartbeat number `seq` of the pipe with `nonce`: never 0 (an id of 0 is no heartbeat's). */
function heartbeatId(nonce: number, seq: number): number {
  idInput.writeDoubleLE(nonce, 0);
  idInput.writeDoubleLE(seq, 8);
  const mac = createHmac('sha256', ID_KEY).update(idInput).digest().readUInt32LE(0) & 0xffff_ff00;
  return ((mac === 0 ? 0x100 : mac) | (seq & 0xff)) >>> 0;
}

/**
 * Liveness of one pipe (SPEC §6), the same on both sides. One timer sends a heartbeat every
 * interval and, a few times per timeout, asks whether the peer showed a sign of life since the
 * last look; after a timeout without one, the peer is dead.
 *
 * What counts as a sign of life:
 * - an answer to one of our recent heartbeats. Their ids are random, so a peer that does not
 *   read cannot make answers up; an answer to an id we never sent is a protocol error.
 * - progress on a frame that carries a body (an event, or a reply to one of our events, whole
 *   or in part): an honest peer's answer can be queued behind its large bodies on a slow link,
 *   and those bytes are its progress. (A later change splits bodies into chunks, so that an
 *   answer never waits behind more than one.)
 * - any inbound data at all, while this node itself is busy sending: then it is our heartbeat
 *   that may be waiting behind our own data, so the peer cannot have answered it yet.
 * - any inbound data at all, within a timeout of the peer's last answer (or of the start): an
 *   answer lags by the round trip, which may be as long as the timeout itself on a slow path,
 *   and the peer's own heartbeats, arriving half a round trip after they left, bridge the gap.
 * Anything else (the peer's own heartbeats, cancels, replies to nothing, later than that) is
 * not: a peer that never reads but keeps sending such frames would otherwise live forever; it
 * is dead two timeouts after its last answer. The session marks inbound data per chunk
 * (`markSeen`, a flag, not a clock read) and progress per frame.
 */
export class Heartbeat {
  readonly #intervalMs: number;
  readonly #timeoutMs: number;
  readonly #tickMs: number;
  readonly #port: HeartbeatPort;
  #timer: NodeJS.Timeout | undefined;
  #seen = false;
  #progress = false;
  /** Data arrived on some silent tick since the last sign of life. */
  #sawDataWithoutLife = false;
  #busyUntil = 0;
  #answered = false;
  #lastAnswerAt = 0;
  #lastSeenAt = 0;
  #lastSentAt = 0;
  #lastTickAt = 0;
  /** This pipe's part of its heartbeats' ids (see RECENT_IDS). */
  readonly #idNonce = randomInt(0, 2 ** 48 - 1);
  /** Heartbeats sent so far; the next one's sequence number. */
  #sent = 0;
  #outstandingId = 0;
  /** Ticks in a row that saw no sign of life. */
  #silentTicks = 0;
  #outstandingSentAt = 0;
  /** Round-trip time of the last answered heartbeat, ms; undefined before the first. */
  rttMs: number | undefined;
  /**
   * The smallest round-trip time any heartbeat of this pipe took, ms (the path's own, without the
   * queues bulk data builds; the first heartbeat goes out when the pipe opens, idle): what the
   * stream windows' growth is judged against (stream/window.ts).
   */
  minRttMs: number | undefined;
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

  /** How often the timer looks, ms. */
  get tickMs(): number {
    return this.#tickMs;
  }

  /** Starts (or restarts) the timer and sends the first heartbeat at once. */
  start(): void {
    this.stop();
    this.#lastSeenAt = performance.now();
    this.#lastTickAt = this.#lastSeenAt;
    this.#lastAnswerAt = this.#lastSeenAt;
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

  /** Inbound data arrived (per chunk). */
  markSeen(): void {
    this.#seen = true;
  }

  /** The peer made progress on a frame that carries a body. */
  markProgress(): void {
    this.#progress = true;
  }

  /** A heartbeat reply arrived; false when its id is not one of our recent heartbeats. */
  onReply(id: number): boolean {
    if (!this.#isRecentId(id)) return false;
    this.replies++;
    this.#progress = true;
    this.#answered = true;
    if (id === this.#outstandingId) {
      const rtt = performance.now() - this.#outstandingSentAt;
      this.rttMs = rtt;
      if (this.minRttMs === undefined || rtt < this.minRttMs) this.minRttMs = rtt;
      this.#outstandingId = 0;
    }
    return true;
  }

  /** @internal the timer's work. */
  check(): void {
    const now = performance.now();
    // A tick far behind schedule means this process was stalled (a blocking handler, a long GC,
    // SIGSTOP): bytes may be waiting unread, so the peer's silence cannot be judged this time,
    // unless we were reading its data all along (then nothing of it waits: a peer flooding us
    // so hard that every tick comes late must not be excused by that forever).
    const stalled = now - this.#lastTickAt > this.#tickMs + this.#timeoutMs / 2;
    this.#lastTickAt = now;
    // Busy sending stays an excuse for a timeout after it ends: our last heartbeats went out
    // behind that data and may still be on their way.
    if (this.#port.busySending()) this.#busyUntil = now + this.#timeoutMs;
    if (this.#answered) this.#lastAnswerAt = now;
    this.#answered = false;
    const seen = this.#seen;
    const dataCounts = now < this.#busyUntil || now - this.#lastAnswerAt < this.#timeoutMs;
    const alive = this.#progress || (seen && dataCounts) || (stalled && !seen) || this.#port.readPaused();
    this.#seen = false;
    this.#progress = false;
    if (alive) {
      this.#lastSeenAt = now;
      this.#silentTicks = 0;
      this.#sawDataWithoutLife = false;
    } else {
      if (seen) this.#sawDataWithoutLife = true;
      // Counting silent ticks, not only reading the clock: timers run on libuv's millisecond
      // clock, so four 100 ms ticks can measure 399.x ms by performance.now() and the clock
      // test alone would declare death one tick late (timeout + 2 ticks after the last data).
      // The clock test still catches time the ticks missed (a late tick fires once, not per
      // missed period): a flood that makes every tick late is judged by the time it took.
      if (++this.#silentTicks * this.#tickMs >= this.#timeoutMs || now - this.#lastSeenAt >= this.#timeoutMs) {
        this.stop();
        this.#port.onPeerSilent(now - this.#lastSeenAt, this.#sawDataWithoutLife);
        return;
      }
    }
    if (now - this.#lastSentAt >= this.#intervalMs - this.#tickMs / 2) this.#send(now);
  }

  /** Whether `id` is one of the last RECENT_IDS heartbeats': the latest sent whose number ends in its low 8 bits. */
  #isRecentId(id: number): boolean {
    const last = this.#sent - 1;
    if (id === 0 || last < 0) return false;
    const seq = last - ((last - (id & 0xff)) & (RECENT_IDS - 1));
    return seq >= 0 && heartbeatId(this.#idNonce, seq) === id;
  }

  #send(now: number): void {
    const id = heartbeatId(this.#idNonce, this.#sent++);
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
