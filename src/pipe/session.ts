import type { Duplex } from 'node:stream';
import { channels } from '../diagnostics.js';
import { ErrorCode, ProtocolError, RestpipeError, callerAborted } from '../errors.js';
import {
  ReturnCode,
  type EventHandlerFn,
  type ParsedEvent,
  type PeerInfo,
  type Reply,
  type SignalSource,
} from '../event.js';
import { errorReply, exceptionReply } from '../replies.js';
import type { PipeInfo } from '../sender.js';
import { endAndLinger } from '../linger.js';
import type { Logger } from '../log.js';
import { MAX_TIMER_MS } from '../options/defaults.js';
import type { ResolvedPipeTiming } from '../options/pipe.js';
import { EVENT_METADATA_ALLOWANCE_BYTES, FrameType } from '../wire/frame.js';
import { FrameDecoder } from '../wire/frame-decoder.js';
import { encodeFrame } from '../wire/frame-encoder.js';
import {
  EMPTY_PAYLOAD,
  GoAwayCode,
  PROTOCOL_VERSION,
  decodeCancel,
  decodeEvent,
  decodeGoAway,
  decodeHello,
  decodeReply,
  encodeCancel,
  encodeEventFrame,
  encodeGoAway,
  encodeHello,
  encodeReplyFrame,
  type HelloMessage,
} from '../wire/messages.js';
import { FrameWriter } from './frame-writer.js';
import { Heartbeat } from './heartbeat.js';
import { isRefusal, parseInboundEvent } from './inbound-calls.js';
import { ReadGate } from './read-gate.js';
import { formatSeconds, peerText } from '../text.js';
import { InflightTable, type PendingEvent } from './inflight.js';

/** hello → open → draining → closed; a session never goes back. */
export type SessionState = 'hello' | 'open' | 'draining' | 'closed';

/** Why a pipe closed, for logs, status and the errors of the events it took down. */
export interface CloseInfo {
  /** A short reason, e.g. "heartbeat timeout: no data for 10.2 s". */
  reason: string;
  /** True when the close was asked for (close(), goaway exchange), false when the pipe broke. */
  graceful: boolean;
  /** When the pipe's session ended. */
  at: Date;
}

export interface SessionOptions {
  role: 'server' | 'client';
  /** This node's name, sent in the hello. */
  localName: string;
  /** The peer as far as TLS tells (CN and address); the hello adds nothing to it. */
  peer: PeerInfo;
  timing: ResolvedPipeTiming;
  /** Handles inbound events (the dispatcher). */
  handler: EventHandlerFn;
  logger: Logger;
  /** Called once when the session has closed, after its in-flight events failed. */
  onClose?: (session: PipeSession, info: CloseInfo) => void;
  /** Called once when the peer announced it is going away: send no new events on this pipe. */
  onPeerGoAway?: (session: PipeSession, reason: string) => void;
  /**
   * Writes a log line about this peer that the peer can cause at will (its goaway, its protocol
   * error) through a rate limit (the server's: per CN and kind). Without it, lines are written.
   */
  limitPeerLog?: (kind: string, write: (extra: { suppressed?: number }) => void) => void;
}

/** What the session needs with an outbound event: its deadline (checked and clamped at the edge) and the caller's signal. */
export interface RequestOptions {
  signal: AbortSignal | undefined;
  timeoutMs: number;
}

/**
 * What an inbound event that is being handled needs. Its reply goes out unless it was cancelled.
 * It is the handler's signal source: the AbortController is made only for a handler that asks
 * for its signal (most never do), already aborted if the event was.
 */
class InboundCall implements SignalSource {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  readonly startedAt: number;
  constructor(
    readonly session: PipeSession,
    readonly id: number,
    readonly event: ParsedEvent,
  ) {
    this.startedAt = performance.now();
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  onReply(reply: Reply): void {
    this.session.finishInbound(this, reply);
  }

  onError(err: unknown): void {
    this.session.finishInbound(this, internalErrorReply(err));
  }
}

const EMPTY = new Uint8Array(0);
/** How long a closed pipe's socket may take to flush its last frames before it is destroyed. */
const CLOSE_LINGER_MS = 1_000;

/**
 * One pipe: a connected, authenticated stream to one peer, after which both sides send events
 * and replies multiplexed by id (SPEC §1, §6, §7). It takes a Duplex, not a TLS config: the
 * client and server layers own the sockets' set-up and hand the session a verified stream.
 *
 * The session owns its timers (heartbeat, hello, grace, one deadline per outbound event) and
 * clears them all on close. It never emits 'error': failures end the session and are reported
 * through `onClose` and the errors of the events it was carrying.
 */
export class PipeSession {
  readonly role: 'server' | 'client';
  readonly peer: PeerInfo;
  /** When the pipe opened (its hello arrived); until then, when the session was created. */
  openedAt = new Date();
  readonly #socket: Duplex;
  readonly #timing: ResolvedPipeTiming;
  readonly #handler: EventHandlerFn;
  readonly #log: Logger;
  readonly #localName: string;
  readonly #decoder: FrameDecoder;
  readonly #writer: FrameWriter;
  readonly #heartbeat: Heartbeat;
  readonly #readGate: ReadGate;
  readonly #outbound: InflightTable;
  readonly #inbound = new Map<number, InboundCall>();
  /** Events decoded from the current read, run when it is all decoded (#dispatchRead). */
  readonly #toDispatch: InboundCall[] = [];
  #dispatchScheduled = false;
  readonly #onClose: SessionOptions['onClose'];
  readonly #onPeerGoAway: SessionOptions['onPeerGoAway'];
  readonly #limitPeerLog: NonNullable<SessionOptions['limitPeerLog']>;
  #state: SessionState = 'hello';
  #peerHello: HelloMessage | undefined;
  #helloWaiter: { resolve: (h: HelloMessage) => void; reject: (e: Error) => void } | undefined;
  #helloTimer: NodeJS.Timeout | undefined;
  #graceTimer: NodeJS.Timeout | undefined;
  #localGoAwaySent = false;
  #peerGoAwayReceived = false;
  #peerGoAwayCode: GoAwayCode | undefined;
  #sendBodyLimit: number;
  #closeInfo: CloseInfo | undefined;
  readonly #closed: Promise<CloseInfo>;
  #resolveClosed!: (info: CloseInfo) => void;
  /** Events this session has received, for status. */
  eventsReceived = 0;
  /** Events this session has sent. */
  eventsSent = 0;

  constructor(socket: Duplex, options: SessionOptions) {
    this.#socket = socket;
    this.role = options.role;
    this.peer = options.peer;
    this.#timing = options.timing;
    this.#handler = options.handler;
    this.#localName = options.localName;
    this.#log = options.logger;
    this.#onClose = options.onClose;
    this.#onPeerGoAway = options.onPeerGoAway;
    this.#limitPeerLog = options.limitPeerLog ?? writeAlways;
    this.#sendBodyLimit = options.timing.maxBodyBytes;
    this.#closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#decoder = new FrameDecoder(options.timing.maxBodyBytes + EVENT_METADATA_ALLOWANCE_BYTES, (type, _flags, id, payload) =>
      this.#onFrame(type, id, payload),
    );
    this.#writer = new FrameWriter(socket, options.timing.maxQueuedBytes);
    this.#heartbeat = new Heartbeat(options.timing.heartbeatIntervalMs, options.timing.heartbeatTimeoutMs, {
      sendHeartbeat: (id) => this.#writer.writeControl(encodeFrame(FrameType.HEARTBEAT, id, EMPTY_PAYLOAD)),
      onPeerSilent: (silentMs, keptSending) =>
        this.destroy(
          keptSending
            ? `heartbeat timeout: the peer answered none of our heartbeats for ${formatSeconds(silentMs)} (it kept sending, but nothing that shows it reads)`
            : `heartbeat timeout: no data from the peer for ${formatSeconds(silentMs)}`,
          GoAwayCode.HEARTBEAT_TIMEOUT,
        ),
      busySending: () => this.#writer.takeBusySending(),
      readPaused: () => this.#readGate.paused,
    });
    // Twice the queue budget of responses the peer has not taken stops us reading it; reading
    // resumes at the budget (read-gate.ts). The same bound the busy answers used to enforce.
    this.#readGate = new ReadGate(
      socket,
      this.#writer,
      {
        limitBytes: 2 * options.timing.maxQueuedBytes,
        resumeBytes: options.timing.maxQueuedBytes,
        stallTimeoutMs: options.timing.heartbeatTimeoutMs,
        minBytesPerStall: options.timing.maxQueuedBytes,
        tickMs: this.#heartbeat.tickMs,
      },
      {
        onPeerNotReading: (queued, stalledMs) => {
          this.destroy(
            `the peer is not reading: it took none of the ${queued} bytes of replies waiting for it in ${formatSeconds(stalledMs)}`,
            GoAwayCode.HEARTBEAT_TIMEOUT,
          );
          // Nothing more will reach it (the goaway waits behind what it did not read): let
          // the buffers go now rather than after #finish's flush delay.
          socket.destroy();
        },
      },
    );
    this.#outbound = new InflightTable((entry) => this.#onAbandoned(entry));

    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', (err: Error) => this.#finish(`socket error: ${describeSocketError(err)}`, false));
    socket.on('end', () => this.#finish('the peer closed the connection', this.#peerGoAwayReceived));
    socket.on('close', () => this.#finish('the connection closed', this.#peerGoAwayReceived));
  }

  get state(): SessionState {
    return this.#state;
  }

  /** The peer's hello, once it arrived. */
  get peerHello(): HelloMessage | undefined {
    return this.#peerHello;
  }

  /** True when new events may be sent on this pipe. */
  get isUsable(): boolean {
    return this.#state === 'open' && !this.#peerGoAwayReceived;
  }

  /** The code of the peer's goaway, once one arrived (REPLACED, SHUTDOWN, UNAUTHORIZED, …). */
  get peerGoAwayCode(): GoAwayCode | undefined {
    return this.#peerGoAwayCode;
  }

  /** Outbound events waiting for their reply. */
  get outboundInFlight(): number {
    return this.#outbound.size;
  }

  /** Inbound events being handled. */
  get inboundInFlight(): number {
    return this.#inbound.size;
  }

  /** Round trip of the last heartbeat, ms. */
  get rttMs(): number | undefined {
    return this.#heartbeat.rttMs;
  }

  /** Hello exchanged and at least one heartbeat answered: the pipe carries data both ways. */
  get isHealthy(): boolean {
    return this.#peerHello !== undefined && this.#heartbeat.replies > 0;
  }

  /** Replies that arrived after their event had timed out or been cancelled. */
  get lateReplies(): number {
    return this.#outbound.lateReplies;
  }

  /** Bytes waiting to be written (in the socket and in the writer's queue). */
  get queuedBytes(): number {
    return this.#writer.socketQueuedBytes;
  }

  /** Bytes of event frames waiting in the writer's queue for room on the socket. */
  get queuedEventBytes(): number {
    return this.#writer.waitingBytes;
  }

  /** A snapshot of the pipe for status, metrics and tests. */
  info(): PipeInfo {
    return {
      name: this.peer.name,
      address: this.peer.address,
      connectedSince: this.openedAt,
      inFlight: { outbound: this.#outbound.size, inbound: this.#inbound.size },
      rttMs: this.#heartbeat.rttMs,
      queuedBytes: { socket: this.#writer.socketQueuedBytes, events: this.#writer.waitingBytes },
      lateReplies: this.#outbound.lateReplies,
      usable: this.isUsable,
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
   * @throws RestpipeError version_mismatch, protocol_error or pipe_broken.
   */
  handshake(): Promise<HelloMessage> {
    if (this.#state !== 'hello' || this.#helloWaiter !== undefined) {
      return Promise.reject(new Error('handshake() called twice'));
    }
    const done = new Promise<HelloMessage>((resolve, reject) => {
      this.#helloWaiter = { resolve, reject };
    });
    this.#writer.writeControl(
      encodeFrame(
        FrameType.HELLO,
        0,
        encodeHello({
          protocolVersion: PROTOCOL_VERSION,
          nodeName: this.#localName,
          role: this.role,
          maxFrameBytes: this.#timing.maxBodyBytes + EVENT_METADATA_ALLOWANCE_BYTES,
          heartbeatIntervalMs: this.#timing.heartbeatIntervalMs,
        }),
      ),
    );
    this.#helloTimer = setTimeout(() => {
      this.destroy(`no hello from the peer within ${formatSeconds(this.#timing.helloTimeoutMs)}`, GoAwayCode.HELLO_TIMEOUT);
    }, this.#timing.helloTimeoutMs);
    this.#helloTimer.unref();
    return done;
  }

  /**
   * Sends an event and resolves with the far side's reply, whatever its code. Rejects only when
   * no reply can come: pipe_broken, event_timeout, aborted (the caller's signal; the far
   * side's handler sees its signal fire), too_many_in_flight, body_too_large, closed.
   * Nothing is ever re-sent (at most once, SPEC §6).
   */
  request(event: ParsedEvent, options: RequestOptions): Promise<Reply> {
    if (!this.isUsable) return Promise.reject(this.#notUsableError());
    const { signal } = options;
    if (signal?.aborted) {
      return Promise.reject(callerAborted(signal.reason));
    }
    if (this.#outbound.size >= this.#timing.maxInflight) {
      return Promise.reject(
        new RestpipeError(
          ErrorCode.TOO_MANY_IN_FLIGHT,
          `${this.#outbound.size} events already in flight to '${this.peer.name}' (limit ${this.#timing.maxInflight}: maxInflight, --max-inflight)`,
        ),
      );
    }
    const data = event.data;
    if (data.byteLength > this.#sendBodyLimit) {
      return Promise.reject(
        new RestpipeError(ErrorCode.BODY_TOO_LARGE, `event body of ${data.byteLength} bytes exceeds the limit of ${this.#sendBodyLimit}`),
      );
    }
    // Backpressure: when the socket and the queue behind it are full (a slow link or a peer
    // that reads slowly), refuse at once (the gateway answers 503) instead of holding more
    // bodies in memory; the metadata is small next to the body, so the body is the measure.
    if (!this.#writer.hasRoomFor(data.byteLength)) {
      return Promise.reject(
        new RestpipeError(
          ErrorCode.TOO_MANY_IN_FLIGHT,
          `the pipe to '${this.peer.name}' is backed up: ${this.#writer.socketQueuedBytes + this.#writer.waitingBytes} bytes waiting to be sent (limit ${this.#timing.maxQueuedBytes} queued); the peer or the link is slower than the events`,
        ),
      );
    }
    const { timeoutMs } = options;
    const entry = this.#outbound.add(timeoutMs, signal);
    if (channels.eventSettled.hasSubscribers) this.#observeOutbound(entry);
    this.eventsSent++;
    this.#writer.writeEvent(
      encodeEventFrame(entry.id, {
        verb: event.verb,
        noun: event.noun,
        mimetype: event.mimetype,
        data,
        timeoutMs,
        query: event.query,
      }),
      entry,
    );
    return entry.promise;
  }

  /**
   * Closes gracefully: tells the peer (goaway), sends no new events, lets in-flight events in
   * both directions finish, then closes the socket. After `graceMs` whatever is left fails with
   * pipe_broken. Resolves when the session has closed.
   */
  close(graceMs: number, reason = 'closing'): Promise<CloseInfo> {
    if (this.#state === 'closed') return this.#closed;
    if (this.#state === 'hello') {
      this.destroy(reason, GoAwayCode.SHUTDOWN);
      return this.#closed;
    }
    this.#startDraining(reason);
    if (this.#graceTimer === undefined) {
      this.#graceTimer = setTimeout(() => {
        this.destroy(`${reason}: events still in flight after the ${formatSeconds(graceMs)} grace period`, GoAwayCode.SHUTDOWN);
      }, Math.min(graceMs, MAX_TIMER_MS));
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
    if (this.#state === 'closed') return;
    if (code !== GoAwayCode.UNSPECIFIED && !this.#socket.destroyed && this.#socket.writable) {
      this.#writer.writeControl(encodeFrame(FrameType.GOAWAY, 0, encodeGoAway({ code, reason })));
    }
    this.#finish(reason, code === GoAwayCode.SHUTDOWN || code === GoAwayCode.REPLACED);
  }

  #onData(chunk: Buffer): void {
    this.#heartbeat.markSeen();
    try {
      this.#decoder.push(chunk);
      // A body still arriving is the peer's progress (heartbeat.ts), even a reply whose event
      // timed out here: its answer to our heartbeat may be queued behind it. (A peer could
      // split small frames on purpose to look busy; it still cannot make us hold more, see
      // read-gate.ts.)
      const partial = this.#decoder.partialFrameType;
      if (partial === FrameType.EVENT || partial === FrameType.EVENT_REPLY) this.#heartbeat.markProgress();
    } catch (err) {
      if (err instanceof ProtocolError) {
        const reason = peerText(err.reason);
        this.#limitPeerLog('protocol-error', (extra) => this.#log.warn({ reason, ...extra }, 'protocol error from the peer; closing the pipe'));
        this.destroy(`protocol error: ${reason}`, GoAwayCode.PROTOCOL_ERROR);
      } else {
        this.#log.error({ err }, 'internal error while reading the pipe; closing it');
        this.destroy(`internal error: ${(err as Error).message}`, GoAwayCode.PROTOCOL_ERROR);
      }
    }
  }

  #onFrame(type: FrameType, id: number, payload: Buffer): void {
    if (this.#state === 'closed') return;
    if (this.#state === 'hello' && type !== FrameType.HELLO && type !== FrameType.GOAWAY) {
      throw new ProtocolError(`${frameName(type)} frame before HELLO`);
    }
    switch (type) {
      case FrameType.EVENT:
        this.#onEvent(id, payload);
        return;
      case FrameType.EVENT_REPLY:
        if (this.#outbound.settle(id, decodeReply(payload))) this.#heartbeat.markProgress();
        this.#checkDrained();
        return;
      case FrameType.HEARTBEAT:
        this.#writer.writeControl(encodeFrame(FrameType.HEARTBEAT_REPLY, id, EMPTY_PAYLOAD));
        this.#readGate.afterResponse();
        return;
      case FrameType.HEARTBEAT_REPLY:
        // Our heartbeat ids are random: an answer to one we never sent is made up.
        if (!this.#heartbeat.onReply(id)) throw new ProtocolError(`HEARTBEAT_REPLY for id ${id}, which is not one of this node's recent heartbeats`);
        return;
      case FrameType.CANCEL:
        this.#onCancel(id, decodeCancel(payload));
        return;
      case FrameType.GOAWAY:
        this.#onGoAway(decodeGoAway(payload));
        return;
      case FrameType.HELLO:
        this.#onHello(decodeHello(payload));
        return;
    }
  }

  #onHello(hello: HelloMessage): void {
    if (this.#state !== 'hello') throw new ProtocolError('second HELLO');
    clearTimeout(this.#helloTimer);
    const waiter = this.#helloWaiter;
    if (hello.protocolVersion !== PROTOCOL_VERSION) {
      const reason = `peer speaks protocol version ${hello.protocolVersion}, this node speaks ${PROTOCOL_VERSION}`;
      this.destroy(reason, GoAwayCode.VERSION_MISMATCH);
      waiter?.reject(new RestpipeError(ErrorCode.VERSION_MISMATCH, reason));
      return;
    }
    if (hello.role === this.role) throw new ProtocolError(`HELLO from a ${hello.role} to a ${this.role}`);
    this.#peerHello = hello;
    if (hello.maxFrameBytes > 0) {
      this.#sendBodyLimit = Math.min(this.#timing.maxBodyBytes, hello.maxFrameBytes - EVENT_METADATA_ALLOWANCE_BYTES);
    }
    this.#state = 'open';
    this.openedAt = new Date();
    this.#heartbeat.start();
    if (channels.pipeState.hasSubscribers) {
      channels.pipeState.publish({ role: this.role, peer: this.peer.name, state: 'open' });
    }
    this.#helloWaiter = undefined;
    waiter?.resolve(hello);
  }

  #onEvent(id: number, payload: Buffer): void {
    const wire = decodeEvent(payload);
    if (this.#inbound.has(id)) throw new ProtocolError(`EVENT id ${id} reused while still in flight`);
    this.eventsReceived++;
    this.#heartbeat.markProgress();
    if (this.#inbound.size >= this.#timing.maxInflight) {
      this.#writeReply(id, busyReply(this.#timing.maxInflight));
      return;
    }
    const event = parseInboundEvent(wire);
    if (isRefusal(event)) {
      this.#writeReply(id, event);
      return;
    }
    // Replies skip the writer's queue; a peer that reads slower than it asks cannot grow our
    // socket buffer without bound all the same, because past twice the queue budget of replies
    // it has not taken we stop reading its events (read-gate.ts).
    // Bodies arrive as views into the network chunk; a handler that keeps one would pin
    // the whole chunk, but copying every body would cost more than it saves. Handlers that
    // store data beyond the call should copy it (documented in the README).
    const call = new InboundCall(this, id, event);
    this.#inbound.set(id, call);
    this.#toDispatch.push(call);
    if (!this.#dispatchScheduled) {
      this.#dispatchScheduled = true;
      setImmediate(dispatchSession, this);
    }
  }

  /** @internal setImmediate's entry into #dispatchRead. */
  dispatchRead(): void {
    this.#dispatchRead();
  }

  /**
   * Runs the handlers of the events read in this turn of the event loop, once everything read
   * in it is decoded (setImmediate: after the I/O phase): an event whose CANCEL arrived in the
   * same turn is not run at all. That is common after reading was paused (read-gate.ts):
   * events waited in the kernel past their callers' deadlines, and each one's cancel follows
   * it. One setImmediate per turn that read events, not per event.
   */
  #dispatchRead(): void {
    this.#dispatchScheduled = false;
    const calls = this.#toDispatch;
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]!;
      if (this.#inbound.get(call.id) !== call) continue; // cancelled, or the pipe is gone
      let result: Promise<Reply>;
      try {
        result = this.#handler(call.event, this.peer, call);
      } catch (err) {
        call.onError(err);
        continue;
      }
      result.then(
        (reply) => call.onReply(reply),
        (err: unknown) => call.onError(err),
      );
    }
    calls.length = 0;
  }

  /** @internal an inbound event's handler finished. */
  finishInbound(call: InboundCall, reply: Reply): void {
    if (this.#inbound.get(call.id) !== call) return; // cancelled, or the pipe is gone
    this.#inbound.delete(call.id);
    if (channels.eventSettled.hasSubscribers) {
      channels.eventSettled.publish({
        role: this.role,
        direction: 'inbound',
        peer: this.peer.name,
        outcome: replyOutcome(reply.code),
        durationMs: performance.now() - call.startedAt,
        handler: call.event.method,
      });
    }
    if (this.#state === 'closed') return;
    this.#writeReply(call.id, reply.data.byteLength > this.#sendBodyLimit ? replyTooLarge(reply.data.byteLength, this.#sendBodyLimit) : reply);
    this.#checkDrained();
  }

  #writeReply(id: number, reply: Reply): void {
    this.#writer.writeReply(encodeReplyFrame(id, reply));
    this.#readGate.afterResponse();
  }

  #onCancel(id: number, reason: string): void {
    const call = this.#inbound.get(id);
    if (call === undefined) return; // already answered: the cancel crossed the reply
    this.#inbound.delete(id);
    call.abort(new RestpipeError(ErrorCode.ABORTED, `the caller cancelled the event${reason ? `: ${peerText(reason)}` : ''}`));
    this.#checkDrained();
  }

  #onGoAway(goAway: { code: GoAwayCode; reason: string }): void {
    const reason = peerText(goAway.reason) || GoAwayCode[goAway.code] || 'no reason given';
    this.#peerGoAwayCode ??= goAway.code;
    if (goAway.code === GoAwayCode.SHUTDOWN && this.#state !== 'hello') {
      // The peer's goaway is either its own close or its answer to ours.
      if (!this.#localGoAwaySent) {
        this.#limitPeerLog('goaway', (extra) => this.#log.info({ reason, ...extra }, 'the peer is closing the pipe; finishing in-flight events'));
      }
      this.#peerGoAwayReceived = true;
      this.#onPeerGoAway?.(this, reason);
      this.#startDraining('the peer is closing the pipe');
      this.#checkDrained();
      return;
    }
    // Any other goaway ends the pipe at once; the peer has already given up on it.
    const what = goAwayDescription(goAway.code);
    this.#limitPeerLog('goaway', (extra) => this.#log.warn({ code: GoAwayCode[goAway.code] ?? goAway.code, reason, ...extra }, `the peer closed the pipe: ${what}`));
    this.#peerGoAwayReceived = true;
    this.#onPeerGoAway?.(this, reason);
    // A goaway before the hello (the server refused our certificate, speaks another version, …)
    // must reach handshake() with the peer's reason, not as a plain broken pipe: take the waiter
    // before #finish() rejects it with pipe_broken.
    const waiter = this.#helloWaiter;
    this.#helloWaiter = undefined;
    this.#finish(`the peer closed the pipe (${what}): ${reason}`, goAway.code === GoAwayCode.REPLACED);
    if (waiter !== undefined) {
      const code =
        goAway.code === GoAwayCode.VERSION_MISMATCH
          ? ErrorCode.VERSION_MISMATCH
          : goAway.code === GoAwayCode.UNAUTHORIZED
            ? ErrorCode.TLS_REFUSED
            : goAway.code === GoAwayCode.PROTOCOL_ERROR
              ? ErrorCode.PROTOCOL_ERROR
              : ErrorCode.NO_CONNECTION;
      const peer = this.role === 'client' ? 'server' : 'client';
      waiter.reject(new RestpipeError(code, `the ${peer} closed the pipe before its hello: ${reason.startsWith(what) ? reason : `${what}: ${reason}`}`));
    }
  }

  #startDraining(reason: string): void {
    if (this.#state === 'closed') return;
    this.#state = 'draining';
    if (!this.#localGoAwaySent) {
      this.#localGoAwaySent = true;
      this.#writer.writeControl(encodeFrame(FrameType.GOAWAY, 0, encodeGoAway({ code: GoAwayCode.SHUTDOWN, reason })));
    }
  }

  /** Both sides said goaway and nothing is in flight: the pipe has nothing left to do. */
  #checkDrained(): void {
    if (
      this.#state === 'draining' &&
      this.#localGoAwaySent &&
      this.#peerGoAwayReceived &&
      this.#outbound.size === 0 &&
      this.#inbound.size === 0
    ) {
      this.#finish('closed by goaway after in-flight events finished', true);
    }
  }

  #onAbandoned(entry: PendingEvent): void {
    // Tell the far side only about events it got; a queued frame of a settled event is dropped.
    if (entry.sent && this.#state !== 'closed' && this.#state !== 'hello') {
      this.#writer.writeControl(encodeFrame(FrameType.CANCEL, entry.id, encodeCancel('')));
    }
    this.#checkDrained();
  }

  #notUsableError(): RestpipeError {
    if (this.#state === 'closed') {
      return new RestpipeError(ErrorCode.PIPE_BROKEN, `pipe to '${this.peer.name}' is closed: ${this.#closeInfo?.reason ?? 'closed'}`);
    }
    if (this.#peerGoAwayReceived) {
      return new RestpipeError(ErrorCode.PIPE_BROKEN, `pipe to '${this.peer.name}' is closing (the peer said goaway)`);
    }
    if (this.#state === 'hello') return new RestpipeError(ErrorCode.NO_CONNECTION, `pipe to '${this.peer.name}' is not open yet`);
    return new RestpipeError(ErrorCode.CLOSED, `pipe to '${this.peer.name}' is closing`);
  }

  #observeOutbound(entry: PendingEvent): void {
    entry.startedAt = performance.now();
    entry.onSettled = this.#onOutboundSettled;
  }

  /** Publishes an observed outbound event's outcome as it settles (one function per session, no closures per event). */
  readonly #onOutboundSettled = (entry: PendingEvent, reply: Reply | undefined, err: Error | undefined): void => {
    const outcome = reply !== undefined ? replyOutcome(reply.code) : ((err as RestpipeError | undefined)?.code ?? 'error');
    channels.eventSettled.publish({ role: this.role, direction: 'outbound', peer: this.peer.name, outcome, durationMs: performance.now() - entry.startedAt });
  };

  /** The one place a session ends; idempotent. */
  #finish(reason: string, graceful: boolean): void {
    if (this.#state === 'closed') return;
    const wasHello = this.#state === 'hello';
    this.#state = 'closed';
    const info: CloseInfo = { reason, graceful, at: new Date() };
    this.#closeInfo = info;
    clearTimeout(this.#helloTimer);
    clearTimeout(this.#graceTimer);
    this.#heartbeat.stop();
    this.#readGate.close();
    this.#decoder.stop();

    const broken = new RestpipeError(ErrorCode.PIPE_BROKEN, `pipe to '${this.peer.name}' broke: ${reason}`);
    this.#outbound.failAll(broken);
    for (const call of this.#inbound.values()) call.abort(broken);
    this.#inbound.clear();
    this.#toDispatch.length = 0;
    this.#helloWaiter?.reject(broken);
    this.#helloWaiter = undefined;

    // Let frames already written (a goaway, final replies) reach the peer, then close.
    this.#writer.uncorkIfCorked();
    this.#writer.close();
    // A peer that never closes its side must not hold the socket.
    endAndLinger(this.#socket, CLOSE_LINGER_MS);
    if (!wasHello && channels.pipeState.hasSubscribers) {
      channels.pipeState.publish({ role: this.role, peer: this.peer.name, state: 'closed', reason });
    }
    this.#onClose?.(this, info);
    this.#resolveClosed(info);
  }
}

function writeAlways(_kind: string, write: (extra: { suppressed?: number }) => void): void {
  write({});
}

function dispatchSession(session: PipeSession): void {
  session.dispatchRead();
}

function frameName(type: number): string {
  for (const [name, value] of Object.entries(FrameType)) if (value === type) return name;
  return `0x${type.toString(16)}`;
}

function replyOutcome(code: number): string {
  if (code === ReturnCode.OK) return 'ok';
  if (code === ReturnCode.NO_HANDLER) return 'no_handler';
  return 'handler_error';
}

function goAwayDescription(code: GoAwayCode): string {
  switch (code) {
    case GoAwayCode.PROTOCOL_ERROR: return 'protocol error';
    case GoAwayCode.VERSION_MISMATCH: return 'protocol version mismatch';
    case GoAwayCode.REPLACED: return 'replaced by a newer connection with the same identity';
    case GoAwayCode.HELLO_TIMEOUT: return 'hello timeout';
    case GoAwayCode.HEARTBEAT_TIMEOUT: return 'heartbeat timeout';
    case GoAwayCode.UNAUTHORIZED: return 'certificate refused';
    case GoAwayCode.SHUTDOWN: return 'shutting down';
    default: return 'unspecified';
  }
}

/** Socket errors worth a short name in logs. */
export function describeSocketError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code;
  return code !== undefined && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}

/** The reply for an event the receiving node had no room for (its max-inflight). */
function busyReply(limit: number): Reply {
  return errorReply(ReturnCode.BUSY, ErrorCode.TOO_MANY_IN_FLIGHT, `the receiving node already handles ${limit} events from this pipe`);
}

function replyTooLarge(bytes: number, limit: number): Reply {
  return errorReply(ReturnCode.REPLY_TOO_LARGE, ErrorCode.BODY_TOO_LARGE, `reply body of ${bytes} bytes exceeds the limit of ${limit}`);
}

/** The dispatcher turns handler failures into replies; this catches a failing dispatcher itself. */
function internalErrorReply(err: unknown): Reply {
  return exceptionReply(err instanceof Error ? err : new Error(String(err)));
}
