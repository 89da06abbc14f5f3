import { ProtocolError } from '../errors.js';
import { IncomingBody, OutgoingBody } from '../stream/body-stream.js';
import { SendScheduler, type SchedulerSink } from '../stream/scheduler.js';
import { SendStream } from '../stream/send-stream.js';
import { GrowthBudget, ReceiveWindow, SendWindow } from '../stream/window.js';
import { FrameFlag } from '../wire/frame.js';
import { encodeWindowUpdateFrame } from '../wire/messages.js';

/** This node's receive side, as its hello tells the peer. */
export interface LocalStreamSettings {
  initialWindowBytes: number;
  maxWindowBytes: number;
  pipeWindowBytes: number;
}

/** The peer's receive side, from its hello: what this node may send. */
export interface PeerStreamSettings {
  initialWindowBytes: number;
  maxWindowBytes: number;
  pipeWindowBytes: number;
  /** The largest DATA chunk the peer's frame limit takes. */
  maxChunkBytes: number;
}

/** How the scheduler paces writes (see SendScheduler). */
export interface PacingSettings {
  headsBelowBytes: number;
  dataBelowBytes: number;
  maxQueuedHeadBytes: number;
}

/** What the streams need from their session. */
export interface PipeStreamsPort {
  /** Writes a control frame now (a WINDOW_UPDATE). */
  writeControl(parts: readonly Uint8Array[]): void;
  /** The peer made progress on a body it sends (a sign of life for the heartbeat). */
  progress(): void;
}

/** Map keys: a stream of an event this node sent lives above 2^32, one of the peer's below. */
const OURS = 2 ** 32;

interface IncomingState {
  readonly id: number;
  readonly ours: boolean;
  readonly body: IncomingBody;
  readonly window: ReceiveWindow;
  readonly declared: number | undefined;
  received: number;
  ended: boolean;
  readonly onAbandoned: (err: Error | null) => void;
}

/**
 * The bodies crossing one pipe (SPEC §9): the flow-control windows of both directions, the
 * streams by event, and the scheduler that writes their DATA. The calls modules open a stream
 * when an event or reply carries a body and end it with the event; the session routes DATA and
 * WINDOW_UPDATE frames here.
 *
 * Whose event a frame is about follows the wire's one rule (FrameFlag.REPLY): a frame with the
 * flag is about an event the receiver sent, one without about an event the receiver got. So a
 * body is keyed by its event's id and whether the event is ours.
 *
 * Memory: every DATA byte is charged to the pipe's receive window until its consumer reads it,
 * so this node never holds more than `pipeWindowBytes` of unread body per pipe; DATA for a
 * stream no longer here (its event ended, its reader left) is dropped and its pipe credit given
 * back at once.
 */
export class PipeStreams {
  readonly scheduler: SendScheduler;
  readonly #local: LocalStreamSettings;
  readonly #peer: PeerStreamSettings;
  readonly #port: PipeStreamsPort;
  readonly #pipeRx: ReceiveWindow;
  readonly #growth: GrowthBudget;
  readonly #incoming = new Map<number, IncomingState>();
  readonly #outgoing = new Map<number, SendStream>();
  /** Bytes of DATA that arrived for streams no longer here. */
  lateDataBytes = 0;

  constructor(local: LocalStreamSettings, peer: PeerStreamSettings, pacing: PacingSettings, sink: SchedulerSink, port: PipeStreamsPort) {
    this.#local = local;
    this.#peer = peer;
    this.#port = port;
    this.#pipeRx = new ReceiveWindow(local.pipeWindowBytes);
    this.#growth = new GrowthBudget(Math.floor(local.pipeWindowBytes / 2));
    const outgoing = this.#outgoing;
    this.scheduler = new SendScheduler(
      {
        get socketQueuedBytes() {
          return sink.socketQueuedBytes;
        },
        writeHead: (parts) => sink.writeHead(parts),
        writeData(stream, chunk, end, blocked) {
          sink.writeData(stream, chunk, end, blocked);
          if (end) outgoing.delete(stream.id + (stream.isReply ? 0 : OURS));
        },
      },
      { ...pacing, maxChunkBytes: peer.maxChunkBytes },
      new SendWindow(peer.pipeWindowBytes),
    );
  }

  /** Body streams open now, each way. */
  get size(): { incoming: number; outgoing: number } {
    return { incoming: this.#incoming.size, outgoing: this.#outgoing.size };
  }

  /** Body bytes that arrived and no consumer has read yet (at most the pipe window). */
  get bufferedBytes(): number {
    return this.#pipeRx.buffered;
  }

  /**
   * A body this node will receive: the reply body of an event it sent (`ours`), or the request
   * body of an event the peer sent. `declared` is the head's body_length (DATA past it, or an
   * end short of it, is a protocol error). `onAbandoned` runs if the body's reader destroys it
   * before its end (for `ours`, the event should then be cancelled).
   */
  openIncoming(id: number, ours: boolean, declared: number | undefined, onAbandoned: (err: Error | null) => void): IncomingBody {
    const key = id + (ours ? OURS : 0);
    if (this.#incoming.has(key)) throw new ProtocolError(`a second body for event ${id}`);
    const window = new ReceiveWindow(this.#local.initialWindowBytes, this.#local.maxWindowBytes);
    let state: IncomingState;
    const body = new IncomingBody({
      consumed: (bytes) => this.#consumed(state, bytes),
      abandoned: (err) => this.#abandoned(state, err),
    });
    state = { id, ours, body, window, declared, received: 0, ended: false, onAbandoned };
    this.#incoming.set(key, state);
    return body;
  }

  /**
   * A body this node will send: the request body of an event it sent (`ours`), or the reply body
   * of one the peer sent. It takes turns in the scheduler once attached (after its head went
   * out). `onAbort` runs when the body's writer stops before its end (its source failed or it was
   * destroyed): the event should then be cancelled (ours) or its reply reset.
   */
  openOutgoing(id: number, ours: boolean, declared: number | undefined, onAbort: (err: Error | null) => void): { body: OutgoingBody; stream: SendStream } {
    const key = id + (ours ? OURS : 0);
    if (this.#outgoing.has(key)) throw new RangeError(`event ${id} already has an outgoing body`);
    const stream = new SendStream(id, !ours, new SendWindow(this.#peer.initialWindowBytes, this.#peer.maxWindowBytes), declared);
    this.#outgoing.set(key, stream);
    const body = new OutgoingBody({
      offer: (bytes, done) => stream.offer(bytes, done),
      finish: (done) => stream.finish(done),
      abort: (err) => {
        if (!this.#stopOutgoing(key, stream)) return;
        onAbort(err);
      },
    });
    return { body, stream };
  }

  /**
   * A DATA frame arrived.
   * @throws ProtocolError beyond the pipe's or the stream's credit, or past the head's body_length,
   *   or an end short of it.
   */
  onData(id: number, flags: number, chunk: Uint8Array): void {
    const n = chunk.byteLength;
    this.#pipeRx.receive(n, 'pipe');
    const state = this.#incoming.get(id + ((flags & FrameFlag.REPLY) !== 0 ? OURS : 0));
    if (state?.ended === true) throw new ProtocolError(`DATA for event ${id} after the end of its body`);
    if (state === undefined) {
      // The event ended here meanwhile (cancelled, answered, its reader left): the frames crossed.
      this.lateDataBytes += n;
      this.#pipeRx.consume(n);
      this.#sendPipeUpdate();
      return;
    }
    state.window.receive(n, 'stream', (flags & FrameFlag.BLOCKED) !== 0);
    state.received += n;
    const end = (flags & FrameFlag.END_STREAM) !== 0;
    if (state.declared !== undefined && (state.received > state.declared || (end && state.received !== state.declared))) {
      throw new ProtocolError(`event ${id}'s body ${end ? 'ended after' : 'ran to'} ${state.received} bytes, its head said ${state.declared}`);
    }
    this.#port.progress();
    if (n > 0) state.body.deliver(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, n));
    if (end) {
      state.ended = true;
      state.body.finish();
      if (state.body.readableLength === 0) this.#forget(state);
    }
  }

  /**
   * A WINDOW_UPDATE arrived: more credit for the pipe (id 0) or for one of this node's outgoing
   * bodies. An update for a body that ended meanwhile is ignored (the frames crossed).
   * @throws ProtocolError for an increment of 0 or one past the window the peer may give.
   */
  onWindowUpdate(id: number, flags: number, increment: number): void {
    if (id === 0) {
      this.scheduler.pipeCredit.grant(increment, 'pipe');
      this.scheduler.pump();
      return;
    }
    const stream = this.#outgoing.get(id + ((flags & FrameFlag.REPLY) !== 0 ? OURS : 0));
    if (stream === undefined) {
      if (!Number.isInteger(increment) || increment <= 0) throw new ProtocolError(`WINDOW_UPDATE with an increment of ${increment} for the stream window`);
      return;
    }
    stream.window.grant(increment);
    this.scheduler.wake(stream);
  }

  /**
   * The event is over: its incoming body fails with `err` unless it ended (a clean end may still
   * be read), and its outgoing body stops at once (nothing more is sent; its writer is destroyed
   * with `err`). No cancel is sent from here: the calls module decides that.
   */
  end(id: number, ours: boolean, err: Error): void {
    const key = id + (ours ? OURS : 0);
    const incoming = this.#incoming.get(key);
    if (incoming !== undefined && !incoming.ended) incoming.body.fail(err);
    const stream = this.#outgoing.get(key);
    if (stream !== undefined) this.#stopOutgoing(key, stream);
  }

  /** The pipe ended: every body fails with `err`. */
  failAll(err: Error): void {
    for (const state of [...this.#incoming.values()]) if (!state.ended) state.body.fail(err);
    for (const [key, stream] of [...this.#outgoing]) this.#stopOutgoing(key, stream);
    this.scheduler.clear();
  }

  /** Stops an outgoing body: false when it was no longer here. */
  #stopOutgoing(key: number, stream: SendStream): boolean {
    if (this.#outgoing.get(key) !== stream) return false;
    this.#outgoing.delete(key);
    stream.abort();
    this.scheduler.detach(stream);
    return true;
  }

  #consumed(state: IncomingState, bytes: number): void {
    state.window.consume(bytes);
    this.#pipeRx.consume(bytes);
    if (!state.ended) {
      const increment = state.window.takeUpdate(this.#growth);
      // A reply body of our event gets credit from us, the caller (no flag); a request body of
      // the peer's event from us, the answering node (REPLY).
      if (increment > 0) this.#port.writeControl(encodeWindowUpdateFrame(state.id, state.ours ? 0 : FrameFlag.REPLY, increment));
    } else if (state.body.readableLength === 0) {
      this.#forget(state);
    }
    this.#sendPipeUpdate();
  }

  #abandoned(state: IncomingState, err: Error | null): void {
    const key = state.id + (state.ours ? OURS : 0);
    if (this.#incoming.get(key) !== state) return;
    this.#forget(state);
    state.onAbandoned(err);
  }

  /** Drops a stream's record; what it still held goes back to the pipe's window. */
  #forget(state: IncomingState): void {
    const key = state.id + (state.ours ? OURS : 0);
    if (this.#incoming.get(key) === state) this.#incoming.delete(key);
    const held = state.window.close(this.#growth);
    if (held > 0) {
      this.#pipeRx.consume(held);
      this.#sendPipeUpdate();
    }
  }

  #sendPipeUpdate(): void {
    const increment = this.#pipeRx.takeUpdate();
    if (increment > 0) this.#port.writeControl(encodeWindowUpdateFrame(0, 0, increment));
  }
}
