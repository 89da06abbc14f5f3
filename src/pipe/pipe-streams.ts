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
  /** The path's round-trip time, ms, undefined while unknown: how far stream windows grow (window.ts). */
  rttMs?: () => number | undefined;
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

/** What the owner of an incoming body (an event) hears of it. */
export interface IncomingHooks {
  /** The head's body_length: DATA past it, or an end short of it, is a protocol error. */
  declared?: number | undefined;
  /** The body's reader destroyed it before its end (`ours`: the event should be cancelled). */
  onAbandoned?: (err: Error | null) => void;
  /** A chunk arrived (the event made progress). */
  onProgress?: () => void;
  /** Its END_STREAM arrived (the whole body is here, read or not). */
  onEnd?: () => void;
}

interface IncomingState {
  readonly id: number;
  readonly ours: boolean;
  readonly body: IncomingBody;
  readonly window: ReceiveWindow;
  readonly hooks: IncomingHooks;
  received: number;
  ended: boolean;
}

interface OutgoingState {
  readonly stream: SendStream;
  readonly body: OutgoingBody;
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
  // Made on first use: most pipes carry small events only, and an empty Map with its table is
  // ~250 B per pipe (issue 14, idle memory per pipe).
  #incoming: Map<number, IncomingState> | undefined;
  #outgoing: Map<number, OutgoingState> | undefined;
  /** Bytes of DATA that arrived for streams no longer here. */
  lateDataBytes = 0;
  /** DATA frames received so far (any stream): whether the pipe carries data at all. */
  dataFramesReceived = 0;

  constructor(local: LocalStreamSettings, peer: PeerStreamSettings, pacing: PacingSettings, sink: SchedulerSink, port: PipeStreamsPort) {
    this.#local = local;
    this.#peer = peer;
    this.#port = port;
    this.#pipeRx = new ReceiveWindow(local.pipeWindowBytes);
    this.#growth = new GrowthBudget(Math.floor(local.pipeWindowBytes / 2));
    this.scheduler = new SendScheduler(
      new ForgettingSink(sink, this),
      { ...pacing, maxChunkBytes: peer.maxChunkBytes },
      new SendWindow(peer.pipeWindowBytes),
    );
  }

  /** Body streams open now, each way. */
  get size(): { incoming: number; outgoing: number } {
    return { incoming: this.#incoming?.size ?? 0, outgoing: this.#outgoing?.size ?? 0 };
  }

  /** Body bytes that arrived and no consumer has read yet (at most the pipe window). */
  get bufferedBytes(): number {
    return this.#pipeRx.buffered;
  }

  /**
   * A body this node will receive: the reply body of an event it sent (`ours`), or the request
   * body of an event the peer sent; `hooks` tell its owner what happens to it.
   * @throws ProtocolError when the event already has one (a second head for a live event).
   */
  openIncoming(id: number, ours: boolean, hooks: IncomingHooks = {}): IncomingBody {
    const key = id + (ours ? OURS : 0);
    const incoming = (this.#incoming ??= new Map());
    if (incoming.has(key)) throw new ProtocolError(`a second body for event ${id}`);
    const window = new ReceiveWindow(this.#local.initialWindowBytes, this.#local.maxWindowBytes, { rttMs: this.#local.rttMs });
    let state: IncomingState;
    const body = new IncomingBody({
      consumed: (bytes) => this.#consumed(state, bytes),
      abandoned: (err) => this.#abandoned(state, err),
    });
    state = { id, ours, body, window, hooks, received: 0, ended: false };
    incoming.set(key, state);
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
    const outgoing = (this.#outgoing ??= new Map());
    if (outgoing.has(key)) throw new RangeError(`event ${id} already has an outgoing body`);
    const stream = new SendStream(id, !ours, new SendWindow(this.#peer.initialWindowBytes, this.#peer.maxWindowBytes), declared);
    const body = new OutgoingBody({
      offer: (bytes, done) => stream.offer(bytes, done),
      finish: (done) => stream.finish(done),
      abort: (err) => {
        if (!this.#stopOutgoing(key, stream, null)) return;
        onAbort(err);
      },
    });
    outgoing.set(key, { stream, body });
    return { body, stream };
  }

  /** Whether the peer may send more of this incoming body now (it has credit: our reader keeps up). */
  peerHasCredit(id: number, ours: boolean): boolean {
    const state = this.#incoming?.get(id + (ours ? OURS : 0));
    return state !== undefined && state.window.available > 0 && this.#pipeRx.available > 0;
  }

  /**
   * A DATA frame arrived.
   * @throws ProtocolError beyond the pipe's or the stream's credit, or past the head's body_length,
   *   or an end short of it.
   */
  onData(id: number, flags: number, chunk: Uint8Array | readonly Buffer[]): void {
    const n = byteLength(chunk);
    this.#pipeRx.receive(n, 'pipe');
    this.dataFramesReceived++;
    const state = this.#incoming?.get(id + ((flags & FrameFlag.REPLY) !== 0 ? OURS : 0));
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
    const declared = state.hooks.declared;
    if (declared !== undefined && (state.received > declared || (end && state.received !== declared))) {
      throw new ProtocolError(`event ${id}'s body ${end ? 'ended after' : 'ran to'} ${state.received} bytes, its head said ${declared}`);
    }
    this.#port.progress();
    state.hooks.onProgress?.();
    if (n > 0) {
      if (Array.isArray(chunk)) for (const part of chunk as readonly Buffer[]) state.body.deliver(part);
      else {
        const one = chunk as Uint8Array;
        state.body.deliver(Buffer.isBuffer(one) ? one : Buffer.from(one.buffer, one.byteOffset, n));
      }
    }
    if (end) {
      state.ended = true;
      state.body.finish();
      if (state.body.readableLength === 0) this.#forget(state);
      state.hooks.onEnd?.();
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
    const out = this.#outgoing?.get(id + ((flags & FrameFlag.REPLY) !== 0 ? OURS : 0));
    if (out === undefined) {
      if (!Number.isInteger(increment) || increment <= 0) throw new ProtocolError(`WINDOW_UPDATE with an increment of ${increment} for the stream window`);
      return;
    }
    out.stream.window.grant(increment);
    this.scheduler.wake(out.stream);
  }

  /**
   * The event is over: its incoming body fails with `err` unless its end arrived (a clean end
   * may still be read), and its outgoing body stops at once (nothing more is sent) and its
   * Writable is destroyed with `err` (a source piped into it with `pipeline` is destroyed too).
   * No cancel is sent from here: the calls module decides that. `err` may be a function that
   * makes the error: most events have no body stream left at their end, and an Error (its stack)
   * per event was a few per cent of a small event's CPU.
   */
  end(id: number, ours: boolean, err: Error | (() => Error)): void {
    const key = id + (ours ? OURS : 0);
    const incoming = this.#incoming?.get(key);
    const out = this.#outgoing?.get(key);
    if ((incoming === undefined || incoming.ended) && out === undefined) return;
    const error = typeof err === 'function' ? err() : err;
    if (incoming !== undefined && !incoming.ended) incoming.body.fail(error);
    if (out !== undefined) this.#stopOutgoing(key, out.stream, error);
  }

  /** The pipe ended: every body fails with `err`. */
  failAll(err: Error): void {
    if (this.#incoming !== undefined) for (const state of [...this.#incoming.values()]) if (!state.ended) state.body.fail(err);
    if (this.#outgoing !== undefined) for (const [key, out] of [...this.#outgoing]) this.#stopOutgoing(key, out.stream, err);
    this.scheduler.clear();
  }

  /** Stops an outgoing body (destroying its Writable with `err` unless null): false when it was no longer here. */
  #stopOutgoing(key: number, stream: SendStream, err: Error | null): boolean {
    const out = this.#outgoing?.get(key);
    if (out?.stream !== stream) return false;
    this.#outgoing!.delete(key);
    stream.abort();
    this.scheduler.detach(stream);
    if (err !== null && !out.body.destroyed) out.body.destroy(err);
    return true;
  }

  #consumed(state: IncomingState, bytes: number): void {
    // A consumer that destroys the body from its 'data' listener (a buffered handler's body over
    // --max-body) does so inside the push that delivered the chunk: the stream was forgotten, its
    // bytes already given back to the pipe, before the read is reported. Nothing is left to count.
    if (this.#incoming?.get(state.id + (state.ours ? OURS : 0)) !== state) return;
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
    if (this.#incoming?.get(key) !== state) return;
    this.#forget(state);
    state.hooks.onAbandoned?.(err);
  }

  /** Drops a stream's record; what it still held goes back to the pipe's window. */
  #forget(state: IncomingState): void {
    const key = state.id + (state.ours ? OURS : 0);
    if (this.#incoming?.get(key) === state) this.#incoming.delete(key);
    const held = state.window.close(this.#growth);
    if (held > 0) {
      this.#pipeRx.consume(held);
      this.#sendPipeUpdate();
    }
  }

  /** @internal the scheduler wrote the last chunk of `stream`: its body is no longer outgoing (ForgettingSink). */
  lastChunkWritten(stream: SendStream): void {
    this.#outgoing?.delete(stream.id + (stream.isReply ? 0 : OURS));
  }

  #sendPipeUpdate(): void {
    const increment = this.#pipeRx.takeUpdate();
    if (increment > 0) this.#port.writeControl(encodeWindowUpdateFrame(0, 0, increment));
  }
}

/**
 * The scheduler's sink as the streams see it: the session's sink, and a body whose last chunk was
 * written is no longer outgoing. A class, not an object literal with a getter: such a literal is a
 * dictionary-mode object of ~280 B, one per pipe (issue 14, idle memory per pipe).
 */
class ForgettingSink implements SchedulerSink {
  readonly #sink: SchedulerSink;
  readonly #streams: PipeStreams;

  constructor(sink: SchedulerSink, streams: PipeStreams) {
    this.#sink = sink;
    this.#streams = streams;
  }

  get socketQueuedBytes(): number {
    return this.#sink.socketQueuedBytes;
  }

  writeHead(parts: readonly Uint8Array[]): void {
    this.#sink.writeHead(parts);
  }

  writeData(stream: SendStream, chunk: Uint8Array, end: boolean, blocked: boolean): void {
    this.#sink.writeData(stream, chunk, end, blocked);
    if (end) this.#streams.lastChunkWritten(stream);
    stream.onWritten?.(end);
  }
}

function byteLength(chunk: Uint8Array | readonly Buffer[]): number {
  if (!Array.isArray(chunk)) return (chunk as Uint8Array).byteLength;
  let n = 0;
  for (const part of chunk as readonly Buffer[]) n += part.byteLength;
  return n;
}
