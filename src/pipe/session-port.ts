import type { StateMachine } from '../state-machine.js';
import { FrameFlag, FrameType } from '../wire/frame.js';
import { encodeFrame } from '../wire/frame-encoder.js';
import { CancelCode, encodeCancel, encodeReplyFrame, type WireReply } from '../wire/messages.js';
import type { FrameWriter } from './frame-writer.js';
import type { Heartbeat } from './heartbeat.js';
import type { InboundPort } from './inbound-calls.js';
import type { StreamHooks } from './open-streams.js';
import type { OutboundPort } from './outbound-calls.js';
import type { ReadGate } from './read-gate.js';
import type { SessionState } from './session-options.js';

/**
 * What a pipe's parts (its outbound and inbound calls, its body streams) call back in their
 * session: one object per pipe, not a closure per hook (each closure and its context were
 * ~0.1 KiB of every idle pipe; issue 14).
 */
export class SessionPort implements OutboundPort, InboundPort, StreamHooks {
  readonly #writer: FrameWriter;
  readonly #state: StateMachine<SessionState>;
  readonly #heartbeat: Heartbeat;
  readonly #readGate: ReadGate;
  readonly #onSettled: () => void;

  /** `onSettled`: an event finished or was cancelled, either way; the session may have drained. */
  constructor(writer: FrameWriter, state: StateMachine<SessionState>, heartbeat: Heartbeat, readGate: ReadGate, onSettled: () => void) {
    this.#writer = writer;
    this.#state = state;
    this.#heartbeat = heartbeat;
    this.#readGate = readGate;
    this.#onSettled = onSettled;
  }

  /** A cancel of one of our events may still be sent (the pipe is open or draining). */
  canCancel(): boolean {
    return this.#state.is('open', 'draining');
  }

  settled(): void {
    this.#onSettled();
  }

  // Replies skip the writer's queue; a peer that reads slower than it asks cannot grow our
  // socket buffer without bound all the same, because past twice the queue budget of replies
  // it has not taken we stop reading its events (read-gate.ts).
  writeReply(id: number, reply: WireReply, end: boolean): void {
    this.#writer.writeReply(encodeReplyFrame(id, reply, FrameFlag.REPLY | (end ? FrameFlag.END_STREAM : 0)));
    this.#readGate.afterResponse();
  }

  writeReset(id: number, reason: string): void {
    this.#writer.writeControl(encodeFrame(FrameType.CANCEL, id, encodeCancel(reason, CancelCode.RESET), FrameFlag.REPLY));
  }

  writeControl(parts: readonly Uint8Array[]): void {
    this.#writer.writeControl(parts);
  }

  afterReplyData(): void {
    this.#readGate.afterResponse();
  }

  progress(): void {
    this.#heartbeat.markProgress();
  }

  rttMs(): number | undefined {
    return this.#heartbeat.minRttMs;
  }
}
