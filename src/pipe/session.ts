import type { Duplex } from 'node:stream';
import { channels } from '../diagnostics.js';
import { ErrorCode, ProtocolError, RestpipeError } from '../errors.js';
import type { ParsedEvent, PeerInfo, Reply } from '../event.js';
import { endAndLinger } from '../linger.js';
import type { Logger } from '../log.js';
import type { ResolvedPipeTiming } from '../options/pipe.js';
import { clampTimerMs } from '../options/validate.js';
import type { PipeInfo } from '../sender.js';
import { StateMachine } from '../state-machine.js';
import { describeSocketError, formatSeconds, peerText } from '../text.js';
import { FrameFlag, FrameType, STREAM_FRAME_PAYLOAD_BYTES, frameTypeName } from '../wire/frame.js';
import { FrameDecoder } from '../wire/frame-decoder.js';
import { encodeFrame } from '../wire/frame-encoder.js';
import {
  EMPTY_PAYLOAD,
  GoAwayCode,
  decodeCancelMessage,
  decodeData,
  decodeDataParts,
  decodeEvent,
  decodeGoAway,
  decodeHello,
  decodeReply,
  decodeReplyParts,
  decodeWindowUpdate,
  encodeGoAway,
  type HelloMessage,
  type WireReply,
} from '../wire/messages.js';
import { FrameWriter } from './frame-writer.js';
import type { Heartbeat } from './heartbeat.js';
import { HelloExchange, goAwayDescription } from './hello.js';
import { InboundCalls } from './inbound-calls.js';
import { OutboundCalls, type RequestOptions } from './outbound-calls.js';
import { wireLiveness } from './liveness.js';
import { openPipeStreams } from './open-streams.js';
import type { PipeStreams } from './pipe-streams.js';
import type { ReadGate } from './read-gate.js';
import { SessionPort } from './session-port.js';

import { SESSION_MOVES, type CloseInfo, type SessionOptions, type SessionState } from './session-options.js';

export type { RequestOptions } from './outbound-calls.js';
export { SESSION_MOVES, type CloseInfo, type SessionOptions, type SessionState } from './session-options.js';

/** How long a closed pipe's socket may take to flush its last frames before it is destroyed. */
const CLOSE_LINGER_MS = 1_000;

/**
 * One pipe: a connected, authenticated stream to one peer, after which both sides send events
 * and replies multiplexed by id (SPEC §1, §6, §7). It takes a Duplex, not a TLS config: the
 * client and server layers own the sockets' set-up and hand the session a verified stream.
 *
 * The session wires the socket to its parts and routes frames between them: the hello
 * (hello.ts), the events it sends (outbound-calls.ts) and receives (inbound-calls.ts), the
 * writer, the heartbeat and the read gate. Its own job is the pipe's life: one state machine
 * (hello → open → draining → closed), the goaway exchange, close (drain) and destroy (now).
 * It owns every timer of the pipe and clears them all on close. It never emits 'error':
 * failures end the session and are reported through `onClose` and the errors of the events it
 * was carrying.
 */
export class PipeSession {
  readonly role: 'server' | 'client';
  readonly peer: PeerInfo;
  readonly #socket: Duplex;
  readonly #timing: ResolvedPipeTiming;
  readonly #parentLog: Logger;
  readonly #logFields: SessionOptions['logFields'];
  #log: Logger | undefined;
  readonly #state: StateMachine<SessionState>;
  readonly #decoder: FrameDecoder;
  readonly #writer: FrameWriter;
  readonly #heartbeat: Heartbeat;
  readonly #readGate: ReadGate;
  /** Until the pipe opens: then nothing of the exchange is needed any more (issue 14, idle memory per pipe). */
  #hello: HelloExchange | undefined;
  readonly #outbound: OutboundCalls;
  readonly #inbound: InboundCalls;
  readonly #port: SessionPort;
  #streams: PipeStreams | undefined;
  readonly #onClose: SessionOptions['onClose'];
  readonly #onPeerGoAway: SessionOptions['onPeerGoAway'];
  readonly #limitPeerLog: NonNullable<SessionOptions['limitPeerLog']>;
  #graceTimer: NodeJS.Timeout | undefined;
  #openedAt: number;
  #localGoAwaySent = false;
  #peerGoAwayReceived = false;
  #peerGoAwayCode: GoAwayCode | undefined;
  #closeInfo: CloseInfo | undefined;
  readonly #closed: Promise<CloseInfo>;
  #resolveClosed!: (info: CloseInfo) => void;

  constructor(socket: Duplex, options: SessionOptions) {
    const { timing } = options;
    this.#socket = socket;
    this.role = options.role;
    this.peer = options.peer;
    this.#timing = timing;
    this.#parentLog = options.logger;
    this.#logFields = options.logFields;
    this.#onClose = options.onClose;
    this.#onPeerGoAway = options.onPeerGoAway;
    this.#limitPeerLog = options.limitPeerLog ?? writeAlways;
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#state = new StateMachine<SessionState>('pipe session', 'hello', SESSION_MOVES, {
      ...(options.now === undefined ? {} : { now: options.now }),
      onMove: (from, to) => {
        if (this.#parentLog.isLevelEnabled('debug')) this.#logger.debug({ from, to }, 'pipe state');
      },
    });
    this.#openedAt = this.#state.since;
    // Frames are small whatever the body (SPEC §9): an inline body or a chunk, and a head.
    this.#decoder = new FrameDecoder(
      STREAM_FRAME_PAYLOAD_BYTES,
      (type, flags, id, payload) => this.#onFrame(type, flags, id, payload),
      (flags, id, parts) => this.#onSplitData(flags, id, parts),
      (flags, id, parts) => this.#takes(FrameType.EVENT_REPLY) && this.#onReply(id, decodeReplyParts(parts), flags),
    );
    this.#writer = new FrameWriter(socket);
    ({ heartbeat: this.#heartbeat, readGate: this.#readGate } = wireLiveness(socket, this.#writer, timing, (reason) =>
      this.destroy(reason, GoAwayCode.HEARTBEAT_TIMEOUT),
    ));
    this.#hello = new HelloExchange(options.role, options.localName, timing, {
      writeControl: (parts) => this.#writer.writeControl(parts),
      fail: (reason, code) => this.destroy(reason, code),
    });
    const port = new SessionPort(this.#writer, this.#state, this.#heartbeat, this.#readGate, () => this.#checkDrained());
    this.#port = port;
    this.#outbound = new OutboundCalls(options.role, options.peer.name, timing, this.#writer, port);
    this.#inbound = new InboundCalls(options.role, options.peer, timing, options.handler, port);

    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err: Error) => this.#finish(`socket error: ${describeSocketError(err)}`, false));
    socket.on('end', () => this.#finish('the peer closed the connection', this.#peerGoAwayReceived));
    socket.on('close', () => this.#finish('the connection closed', this.#peerGoAwayReceived));
  }

  get state(): SessionState {
    return this.#state.state;
  }

  /** This pipe's logger (see SessionOptions.logFields). */
  get #logger(): Logger {
    return (this.#log ??= this.#logFields === undefined ? this.#parentLog : this.#parentLog.child(this.#logFields(this.peer)));
  }

  /** True when new events may be sent on this pipe. */
  get isUsable(): boolean {
    return this.#state.is('open') && !this.#peerGoAwayReceived;
  }

  /** The code of the peer's goaway, once one arrived (REPLACED, SHUTDOWN, UNAUTHORIZED, …). */
  get peerGoAwayCode(): GoAwayCode | undefined {
    return this.#peerGoAwayCode;
  }

  /** Hello exchanged and at least one heartbeat answered: the pipe carries data both ways. */
  get isHealthy(): boolean {
    return this.#streams !== undefined && this.#heartbeat.replies > 0;
  }

  /** A snapshot of the pipe for status, metrics and tests. */
  info(): PipeInfo {
    return {
      name: this.peer.name,
      address: this.peer.address,
      connectedSince: new Date(this.#openedAt),
      inFlight: { outbound: this.#outbound.size, inbound: this.#inbound.size },
      rttMs: this.#heartbeat.rttMs,
      queuedBytes: { socket: this.#writer.socketQueuedBytes, events: this.#outbound.queuedHeadBytes },
      lateReplies: this.#outbound.lateReplies,
      usable: this.isUsable,
      bytes: { sent: socketCount(this.#socket, 'bytesWritten'), received: socketCount(this.#socket, 'bytesRead') },
    };
  }

  /** Resolves when the session has closed, with the reason; never rejects. */
  closed(): Promise<CloseInfo> {
    return this.#closed;
  }

  /**
   * Sends this node's hello and waits for the peer's, within the hello timeout. The server
   * calls it only after the client's certificate was verified; for the client, the server's
   * hello is the proof that its certificate was accepted (under TLS 1.3 a refusal shows up only
   * after the handshake seems done).
   * @throws RestpipeError version_mismatch, tls_refused, protocol_error, no_connection or pipe_broken.
   */
  handshake(): Promise<HelloMessage> {
    if (!this.#state.is('hello')) return Promise.reject(this.#notUsableError());
    return this.#hello!.start();
  }

  /**
   * Sends an event and resolves with the far side's reply, whatever its code. Rejects only when
   * no reply can come: pipe_broken, event_timeout, aborted (the caller's signal; the far
   * side's handler sees its signal fire), too_many_in_flight, body_too_large, closed, and
   * no_connection before the hello. Nothing is ever re-sent (at most once, SPEC §6).
   */
  request(event: ParsedEvent, options: RequestOptions): Promise<Reply> {
    if (!this.isUsable) return Promise.reject(this.#notUsableError());
    return this.#outbound.request(event, options);
  }

  /**
   * Closes gracefully: tells the peer (goaway), sends no new events, lets in-flight events in
   * both directions finish, then closes the socket. After `graceMs` whatever is left fails with
   * pipe_broken. Resolves when the session has closed.
   */
  close(graceMs: number, reason = 'closing'): Promise<CloseInfo> {
    if (this.#state.is('closed')) return this.#closed;
    if (this.#state.is('hello')) {
      this.destroy(reason, GoAwayCode.SHUTDOWN);
      return this.#closed;
    }
    this.#startDraining(reason);
    if (this.#graceTimer === undefined) {
      this.#graceTimer = setTimeout(() => {
        this.destroy(`${reason}: events still in flight after the ${formatSeconds(graceMs)} grace period`, GoAwayCode.SHUTDOWN);
      }, clampTimerMs(graceMs));
      this.#graceTimer.unref();
    }
    this.#checkDrained();
    return this.#closed;
  }

  /**
   * Ends the pipe now: in-flight events fail with pipe_broken carrying `reason`, handlers'
   * signals fire, the peer gets a goaway with `code` when the socket can still take it.
   */
  destroy(reason: string, code: GoAwayCode = GoAwayCode.UNSPECIFIED): void {
    if (this.#state.is('closed')) return;
    if (code !== GoAwayCode.UNSPECIFIED && !this.#socket.destroyed && this.#socket.writable) {
      this.#writer.writeControl(encodeFrame(FrameType.GOAWAY, 0, encodeGoAway({ code, reason })));
    }
    this.#finish(reason, code === GoAwayCode.SHUTDOWN || code === GoAwayCode.REPLACED);
  }

  #onData(chunk: Buffer): void {
    this.#heartbeat.markSeen();
    this.#readGate.afterRead(chunk.byteLength);
    try {
      this.#decoder.push(chunk);
      // A body still arriving is the peer's progress (heartbeat.ts), even a reply whose event
      // timed out here: its answer to our heartbeat may be queued behind it. (A peer could
      // split small frames on purpose to look busy; it still cannot make us hold more, see
      // read-gate.ts.)
      const partial = this.#decoder.partialFrameType;
      if (partial === FrameType.EVENT || partial === FrameType.EVENT_REPLY || partial === FrameType.DATA) this.#heartbeat.markProgress();
    } catch (err) {
      if (err instanceof ProtocolError) {
        const reason = peerText(err.reason);
        this.#limitPeerLog('protocol-error', (extra) => this.#logger.warn({ reason, ...extra }, 'protocol error from the peer; closing the pipe'));
        this.destroy(`protocol error: ${reason}`, GoAwayCode.PROTOCOL_ERROR);
      } else {
        this.#logger.error({ err }, 'internal error while reading the pipe; closing it');
        this.destroy(`internal error: ${(err as Error).message}`, GoAwayCode.PROTOCOL_ERROR);
      }
    }
  }

  /** A body chunk that arrived across network reads, as views of them (frame-decoder.ts). */
  #onSplitData(flags: number, id: number, parts: Buffer[]): void {
    if (this.#takes(FrameType.DATA)) this.#streams!.onData(id, flags, decodeDataParts(parts));
  }

  /** A reply's head (and inline body) arrived: in one buffer, or its body in views of the reads it spans. */
  #onReply(id: number, wire: WireReply, flags: number): void {
    if (this.#outbound.onReply(id, wire, (flags & FrameFlag.END_STREAM) !== 0)) this.#heartbeat.markProgress();
  }

  /** Whether a frame of `type` is read now: not once closed; before the hello, only HELLO or GOAWAY (else ProtocolError). */
  #takes(type: FrameType): boolean {
    if (this.#state.is('closed')) return false;
    if (this.#state.is('hello') && type !== FrameType.HELLO && type !== FrameType.GOAWAY) {
      throw new ProtocolError(`${frameTypeName(type)} frame before HELLO`);
    }
    return true;
  }

  /** Routes one decoded frame; throws ProtocolError for what the protocol does not allow. */
  #onFrame(type: FrameType, flags: number, id: number, payload: Buffer): void {
    if (!this.#takes(type)) return;
    const end = (flags & FrameFlag.END_STREAM) !== 0;
    switch (type) {
      case FrameType.EVENT: {
        const wire = decodeEvent(payload);
        if (this.#inbound.has(id)) throw new ProtocolError(`EVENT id ${id} reused while still in flight`);
        this.#heartbeat.markProgress();
        this.#inbound.receive(id, wire, end);
        return;
      }
      case FrameType.EVENT_REPLY:
        this.#onReply(id, decodeReply(payload), flags);
        return;
      case FrameType.DATA:
        this.#streams!.onData(id, flags, decodeData(payload));
        return;
      case FrameType.WINDOW_UPDATE:
        this.#streams!.onWindowUpdate(id, flags, decodeWindowUpdate(payload));
        return;
      case FrameType.HEARTBEAT:
        this.#writer.writeControl(encodeFrame(FrameType.HEARTBEAT_REPLY, id, EMPTY_PAYLOAD));
        this.#readGate.afterResponse();
        return;
      case FrameType.HEARTBEAT_REPLY:
        // Our heartbeat ids are random: an answer to one we never sent is made up.
        if (!this.#heartbeat.onReply(id)) throw new ProtocolError(`HEARTBEAT_REPLY for id ${id}, which is not one of this node's recent heartbeats`);
        return;
      case FrameType.CANCEL: {
        const cancel = decodeCancelMessage(payload);
        // With the reply flag it is about our event: the far side reset its reply.
        if ((flags & FrameFlag.REPLY) !== 0) this.#outbound.onReset(id, peerText(cancel.reason));
        else this.#inbound.cancel(id, cancel);
        return;
      }
      case FrameType.GOAWAY:
        this.#onGoAway(decodeGoAway(payload));
        return;
      case FrameType.HELLO:
        if (!this.#state.is('hello')) throw new ProtocolError('second HELLO');
        if (this.#hello!.receive(decodeHello(payload)) !== undefined) this.#open();
        return;
    }
  }

  /** The peer's hello was accepted: the pipe is open, and its bodies can flow (its windows are known now). */
  #open(): void {
    const peer = this.#hello!.peer!;
    this.#hello = undefined;
    const timing = this.#timing;
    const writer = this.#writer;
    const streams = openPipeStreams(timing, peer, writer, this.#port);
    this.#streams = streams;
    writer.setDrainListener(() => streams.scheduler.pump());
    this.#outbound.open(streams, { maxFrameBytes: peer.maxFrameBytes, maxInlineInflightBytes: peer.maxInlineInflightBytes! });
    this.#inbound.open(streams);
    this.#state.move('open');
    this.#openedAt = this.#state.since;
    this.#heartbeat.start();
    if (channels.pipeState.hasSubscribers) channels.pipeState.publish({ role: this.role, peer: this.peer.name, state: 'open', address: this.peer.address });
  }

  #onGoAway(goAway: { code: GoAwayCode; reason: string }): void {
    const reason = peerText(goAway.reason) || GoAwayCode[goAway.code] || 'no reason given';
    this.#peerGoAwayCode ??= goAway.code;
    if (goAway.code === GoAwayCode.SHUTDOWN && !this.#state.is('hello')) {
      // The peer's goaway is either its own close or its answer to ours.
      if (!this.#localGoAwaySent) {
        this.#limitPeerLog('goaway', (extra) => this.#logger.info({ reason, ...extra }, 'the peer is closing the pipe; finishing in-flight events'));
      }
      this.#peerGoAwayReceived = true;
      this.#onPeerGoAway?.(reason);
      this.#startDraining('the peer is closing the pipe');
      this.#checkDrained();
      return;
    }
    // Any other goaway ends the pipe at once; the peer has already given up on it.
    const what = goAwayDescription(goAway.code);
    this.#limitPeerLog('goaway', (extra) => this.#logger.warn({ code: GoAwayCode[goAway.code] ?? goAway.code, reason, ...extra }, `the peer closed the pipe: ${what}`));
    this.#peerGoAwayReceived = true;
    this.#onPeerGoAway?.(reason);
    // A goaway before the hello (the server refused our certificate, speaks another version, …)
    // must reach handshake() with the peer's reason, not as a plain broken pipe.
    this.#hello?.refusedByPeer(goAway.code, reason);
    this.#finish(`the peer closed the pipe (${what}): ${reason}`, goAway.code === GoAwayCode.REPLACED);
  }

  #startDraining(reason: string): void {
    if (this.#state.canMove('draining')) this.#state.move('draining');
    if (!this.#localGoAwaySent) {
      this.#localGoAwaySent = true;
      this.#writer.writeControl(encodeFrame(FrameType.GOAWAY, 0, encodeGoAway({ code: GoAwayCode.SHUTDOWN, reason })));
    }
  }

  /** Both sides said goaway and nothing is in flight: the pipe has nothing left to do. */
  #checkDrained(): void {
    if (this.#state.is('draining') && this.#localGoAwaySent && this.#peerGoAwayReceived && this.#outbound.size === 0 && this.#inbound.size === 0) {
      this.#finish('closed by goaway after in-flight events finished', true);
    }
  }

  #notUsableError(): RestpipeError {
    if (this.#state.is('closed')) {
      return new RestpipeError(ErrorCode.PIPE_BROKEN, `pipe to '${this.peer.name}' is closed: ${this.#closeInfo?.reason ?? 'closed'}`);
    }
    if (this.#peerGoAwayReceived) return new RestpipeError(ErrorCode.PIPE_BROKEN, `pipe to '${this.peer.name}' is closing (the peer said goaway)`);
    if (this.#state.is('hello')) return new RestpipeError(ErrorCode.NO_CONNECTION, `pipe to '${this.peer.name}' is not open yet`);
    return new RestpipeError(ErrorCode.CLOSED, `pipe to '${this.peer.name}' is closing`);
  }

  /** The one place a session ends; idempotent. */
  #finish(reason: string, graceful: boolean): void {
    if (this.#state.is('closed')) return;
    const wasOpen = !this.#state.is('hello');
    this.#state.move('closed');
    const info: CloseInfo = { reason, graceful, at: new Date(this.#state.since) };
    this.#closeInfo = info;
    clearTimeout(this.#graceTimer);
    this.#heartbeat.stop();
    this.#readGate.close();
    this.#decoder.stop();

    const broken = new RestpipeError(ErrorCode.PIPE_BROKEN, `pipe to '${this.peer.name}' broke: ${reason}`);
    this.#outbound.failAll(broken);
    this.#inbound.end(broken);
    this.#streams?.failAll(broken);
    this.#hello?.end(broken);

    // Let frames already written (a goaway, final replies) reach the peer, then close; a peer
    // that never closes its side must not hold the socket.
    this.#writer.uncorkIfCorked();
    this.#writer.close();
    endAndLinger(this.#socket, CLOSE_LINGER_MS);
    if (wasOpen && channels.pipeState.hasSubscribers) {
      channels.pipeState.publish({ role: this.role, peer: this.peer.name, state: 'closed', reason, address: this.peer.address });
    }
    this.#onClose?.(info);
    this.#resolveClosed(info);
  }
}

/** A socket's byte counter (net.Socket and TLSSocket have them; another Duplex reads 0). */
function socketCount(socket: Duplex, counter: 'bytesWritten' | 'bytesRead'): number {
  const n = (socket as Partial<Record<typeof counter, unknown>>)[counter];
  return typeof n === 'number' ? n : 0;
}

function writeAlways(_kind: string, write: (extra: { suppressed?: number }) => void): void {
  write({});
}
