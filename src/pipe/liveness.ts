import type { Duplex } from 'node:stream';
import type { ResolvedPipeTiming } from '../options/pipe.js';
import { formatSeconds } from '../text.js';
import { FrameType } from '../wire/frame.js';
import { encodeFrame } from '../wire/frame-encoder.js';
import { EMPTY_PAYLOAD } from '../wire/messages.js';
import type { FrameWriter } from './frame-writer.js';
import { Heartbeat, type HeartbeatPort } from './heartbeat.js';
import { ReadGate, type ReadGatePort } from './read-gate.js';

/**
 * Reading a pipe yields the event loop after this many bytes (read-gate.ts): a few TLS records'
 * worth, small enough that a flood of tiny frames costs one turn tens of milliseconds, not a
 * second; large enough that a bulk stream pays one pause and resume per 256 KiB.
 */
const READ_YIELD_BYTES = 256 * 1024;

/** A pipe's two judges of its peer, wired to each other and to the writer. */
export interface Liveness {
  /** Is the peer alive (SPEC §6)? Sends our heartbeats, judges the peer's silence. */
  readonly heartbeat: Heartbeat;
  /** Does the peer read (SPEC §6)? Stops reading a peer that does not take our answers. */
  readonly readGate: ReadGate;
}

/**
 * The heartbeat and the read gate of one pipe. Each can find the peer dead and says why through
 * `onDead` (the session destroys the pipe with that reason and a HEARTBEAT_TIMEOUT goaway). They
 * depend on each other: while we do not read the peer on purpose, its silence is ours and the
 * heartbeat must not judge it; the gate checks as often as the heartbeat ticks.
 */
export function wireLiveness(socket: Duplex, writer: FrameWriter, timing: ResolvedPipeTiming, onDead: (reason: string) => void): Liveness {
  const port = new LivenessPort(socket, writer, onDead);
  const heartbeat = new Heartbeat(timing.heartbeatIntervalMs, timing.heartbeatTimeoutMs, port);
  // Twice the queue budget of responses the peer has not taken stops us reading it; reading
  // resumes at the budget (read-gate.ts).
  const readGate = new ReadGate(
    socket,
    writer,
    {
      limitBytes: 2 * timing.maxQueuedBytes,
      resumeBytes: timing.maxQueuedBytes,
      stallTimeoutMs: timing.heartbeatTimeoutMs,
      minBytesPerStall: timing.maxQueuedBytes,
      tickMs: heartbeat.tickMs,
      yieldEveryBytes: READ_YIELD_BYTES,
    },
    port,
  );
  port.readGate = readGate;
  return { heartbeat, readGate };
}

/**
 * What the heartbeat and the read gate call back, as one object per pipe rather than a closure
 * per hook (each closure and its context were ~0.1 KiB of every idle pipe; issue 14).
 */
class LivenessPort implements HeartbeatPort, ReadGatePort {
  readonly #socket: Duplex;
  readonly #writer: FrameWriter;
  readonly #onDead: (reason: string) => void;
  /** Set once the gate exists (it needs the heartbeat's tick, the heartbeat needs this port). */
  readGate: ReadGate | undefined;

  constructor(socket: Duplex, writer: FrameWriter, onDead: (reason: string) => void) {
    this.#socket = socket;
    this.#writer = writer;
    this.#onDead = onDead;
  }

  sendHeartbeat(id: number): void {
    this.#writer.writeControl(encodeFrame(FrameType.HEARTBEAT, id, EMPTY_PAYLOAD));
  }

  onPeerSilent(silentMs: number, keptSending: boolean): void {
    this.#onDead(
      keptSending
        ? `heartbeat timeout: the peer answered none of our heartbeats for ${formatSeconds(silentMs)} (it kept sending, but nothing that shows it reads)`
        : `heartbeat timeout: no data from the peer for ${formatSeconds(silentMs)}`,
    );
  }

  busySending(): boolean {
    return this.#writer.takeBusySending();
  }

  readPaused(): boolean {
    return this.readGate?.paused === true;
  }

  onPeerNotReading(queued: number, stalledMs: number): void {
    this.#onDead(`the peer is not reading: it took none of the ${queued} bytes of replies waiting for it in ${formatSeconds(stalledMs)}`);
    // Nothing more will reach it (the goaway waits behind what it did not read): let the
    // buffers go now rather than after the close's linger.
    this.#socket.destroy();
  }
}
