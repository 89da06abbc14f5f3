import { pipeline } from 'node:stream';
import { channels, replyOutcome } from '../diagnostics.js';
import { ErrorCode, ProtocolError, RestpipeError } from '../errors.js';
import { ReturnCode, parseEventWithBody, type EventHandlerFn, type ParsedEvent, type PeerInfo, type Reply, type SignalSource } from '../event.js';
import { headerListProblem } from '../http-headers.js';
import { errorReply, exceptionReply } from '../replies.js';
import { formatSeconds, peerText } from '../text.js';
import { MAX_INLINE_BYTES } from '../wire/frame.js';
import { CancelCode, type CancelMessage, type WireEvent, type WireReply } from '../wire/messages.js';
import type { PipeStreams } from './pipe-streams.js';

/** What the inbound calls need from their session. */
export interface InboundPort {
  /** Writes a reply's head for event `id` now: the whole reply (`end`), or the head of a streamed one. */
  writeReply(id: number, reply: WireReply, end: boolean): void;
  /** Writes a reset of event `id`'s reply (a CANCEL with the reply flag) now. */
  writeReset(id: number, reason: string): void;
  /** An event finished or was cancelled: the session may have drained. */
  settled(): void;
}

const EMPTY = new Uint8Array(0);

/**
 * An inbound event being handled. Its reply goes out unless it was cancelled or its deadline
 * passed. It is the handler's signal source: the AbortController is made only for a handler
 * that asks for its signal (most never do), already aborted if the event was.
 */
class InboundCall implements SignalSource {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  readonly startedAt: number;
  /** Bytes of its inline body, counted against this node's inline budget. */
  inlineBytes = 0;
  /** When its deadline passes (performance.now()), once armed; a call past it is never started. */
  deadlineAt = Infinity;
  timer: NodeJS.Timeout | undefined;
  /** Its reply's head went out (its body may still be streaming). */
  replied = false;

  constructor(
    readonly calls: InboundCalls,
    readonly id: number,
    readonly event: ParsedEvent,
    readonly timeoutMs: number,
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

  get aborted(): boolean {
    return this.#aborted;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }

  onReply(reply: Reply): void {
    this.calls.finish(this, reply);
  }

  onError(err: unknown): void {
    // The dispatcher turns handler failures into replies; this catches a failing dispatcher itself.
    this.calls.finish(this, exceptionReply(err instanceof Error ? err : new Error(String(err))));
  }
}

/**
 * The events a peer sends on one pipe (SPEC §1, §5, §9): admission (this node's in-flight limit:
 * over it, a busy reply at once; the inline budget: over it, a protocol error), the one parse of
 * the peer's event (parseInboundEvent), the body (inline, or a stream that the dispatcher reads
 * or hands to a streaming handler), dispatch in batches per read, the deadline (counted from the
 * request's end to the reply's head: at it the handler's signal fires and no reply goes out; an
 * event past it is never started), the caller's cancel (the signal fires, the bodies end, no
 * reply goes out), and the reply (whole when small, else a head and a stream that the far side
 * sees reset if its source fails).
 */
export class InboundCalls {
  readonly #role: 'server' | 'client';
  readonly #peer: PeerInfo;
  readonly #maxInflight: number;
  readonly #maxInlineInflight: number;
  readonly #handler: EventHandlerFn;
  readonly #port: InboundPort;
  // Made on first use (an idle pipe's empty Map and its table are ~250 B; issue 14).
  #calls: Map<number, InboundCall> | undefined;
  /** Events decoded from the current read, run when it is all decoded (#dispatchRead). */
  readonly #toDispatch: InboundCall[] = [];
  #dispatchScheduled = false;
  #streams: PipeStreams | undefined;
  #inlineInFlight = 0;

  constructor(
    role: 'server' | 'client',
    peer: PeerInfo,
    limits: { maxInflight: number; maxInlineInflightBytes: number },
    handler: EventHandlerFn,
    port: InboundPort,
  ) {
    this.#role = role;
    this.#peer = peer;
    this.#maxInflight = limits.maxInflight;
    this.#maxInlineInflight = limits.maxInlineInflightBytes;
    this.#handler = handler;
    this.#port = port;
  }

  /** The pipe opened: its streams. */
  open(streams: PipeStreams): void {
    this.#streams = streams;
  }

  /** Events being handled (their reply's body may still be streaming). */
  get size(): number {
    return this.#calls?.size ?? 0;
  }

  /** Whether event `id` is being handled (a peer may not reuse its id meanwhile). */
  has(id: number): boolean {
    return this.#calls?.has(id) === true;
  }

  /**
   * A peer's event arrived: refused at once (busy, unparsable) or queued for this read's
   * dispatch. `end`: its body was all inline; else it follows in DATA frames.
   * @throws ProtocolError for headers that may not travel, or inline bodies past this node's budget.
   */
  receive(id: number, wire: WireEvent, end: boolean): void {
    if (wire.headers !== undefined) {
      const problem = headerListProblem(wire.headers);
      if (problem !== undefined) throw new ProtocolError(`EVENT with ${problem}`);
    }
    const inline = end ? wire.data.byteLength : 0;
    if (this.#inlineInFlight + inline > this.#maxInlineInflight) {
      throw new ProtocolError(`EVENT with ${inline} bytes inline while ${this.#inlineInFlight} are in flight; this node takes ${this.#maxInlineInflight}`);
    }
    if ((this.#calls?.size ?? 0) >= this.#maxInflight) {
      // Its body, if it streams, is dropped as it comes (its event is not here), and the reply
      // tells the caller to stop sending it.
      this.#port.writeReply(id, errorReply(ReturnCode.BUSY, ErrorCode.TOO_MANY_IN_FLIGHT, `the receiving node already handles ${this.#maxInflight} events from this pipe`), true);
      return;
    }
    const event = parseInboundEvent(wire);
    if (isRefusal(event)) {
      this.#port.writeReply(id, event, true);
      return;
    }
    // Bodies arrive as views into the network chunk; a handler that keeps one would pin the
    // whole chunk, but copying every body would cost more than it saves. Handlers that store
    // data beyond the call should copy it (documented in the README).
    const call = new InboundCall(this, id, event, wire.timeoutMs);
    (this.#calls ??= new Map()).set(id, call);
    if (end) {
      call.inlineBytes = inline;
      this.#inlineInFlight += inline;
      this.#armDeadline(call);
    } else {
      event.data = EMPTY;
      event.body = this.#streams!.openIncoming(id, false, {
        declared: wire.bodyLength,
        // The deadline counts from the request's end: a long upload is not a late one.
        onEnd: () => this.#armDeadline(call),
      });
      if (wire.bodyLength !== undefined) event.length = wire.bodyLength;
    }
    this.#toDispatch.push(call);
    if (!this.#dispatchScheduled) {
      this.#dispatchScheduled = true;
      setImmediate(dispatchCalls, this);
    }
  }

  /**
   * @internal setImmediate's work: runs the handlers of the events read in this turn of the
   * event loop, once everything read in it is decoded (after the I/O phase), so an event whose
   * CANCEL arrived in the same turn is not run at all. That is common after reading was paused
   * (read-gate.ts): events waited in the kernel past their callers' deadlines, and each one's
   * cancel follows it. One setImmediate per turn that read events, not per event. An event whose
   * deadline passed before it could start is not started.
   */
  dispatchRead(): void {
    this.#dispatchScheduled = false;
    const calls = this.#toDispatch;
    const now = performance.now();
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]!;
      if (this.#calls?.get(call.id) !== call) continue; // cancelled, or the pipe is gone
      if (now >= call.deadlineAt) {
        this.#expire(call);
        continue;
      }
      let result: Promise<Reply>;
      try {
        result = this.#handler(call.event, this.#peer, call);
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

  /**
   * @internal an event's handler finished: its reply goes out (whole, or its head and then its
   * body as a stream), unless it was cancelled, its deadline passed, or the pipe ended.
   */
  finish(call: InboundCall, reply: Reply): void {
    if (this.#calls?.get(call.id) !== call || call.replied) return; // cancelled, expired, or the pipe is gone
    clearTimeout(call.timer);
    call.replied = true;
    if (channels.eventSettled.hasSubscribers) {
      channels.eventSettled.publish({
        role: this.#role,
        direction: 'inbound',
        peer: this.#peer.name,
        outcome: replyOutcome(reply.code),
        durationMs: performance.now() - call.startedAt,
        handler: call.event.method,
        event: call.event,
        reply,
      });
    }
    const head: WireReply = { code: reply.code, mimetype: reply.mimetype, data: EMPTY };
    if (reply.status !== undefined) head.status = reply.status;
    if (reply.headers !== undefined && reply.headers.length > 0) head.headers = reply.headers;
    const { body, data } = reply;
    if (body === undefined && data.byteLength <= MAX_INLINE_BYTES) {
      head.data = data;
      // A reply to HEAD declares the length of a body it does not carry.
      if (reply.length !== undefined && reply.length !== data.byteLength) head.bodyLength = reply.length;
      this.#port.writeReply(call.id, head, true);
      this.#complete(call);
      return;
    }
    // A reply body that does not fit in a frame, or a stream: its head now, then DATA as the
    // caller's credit allows (SPEC §9).
    const length = body === undefined ? data.byteLength : reply.length;
    if (length !== undefined) head.bodyLength = length;
    this.#port.writeReply(call.id, head, false);
    const out = this.#streams!.openOutgoing(call.id, false, length, (err) => this.#reset(call, err));
    out.stream.onWritten = (end) => {
      if (end) this.#complete(call);
    };
    this.#streams!.scheduler.attach(out.stream);
    if (body === undefined) {
      out.stream.offer(data, ignore);
      out.stream.finish(ignore);
    } else {
      pipeline(body, out.body, ignore);
    }
  }

  /** The caller cancelled event `id` (a CANCEL without the reply flag): its handler's signal fires, its bodies end, no reply goes out. */
  cancel(id: number, message: CancelMessage): void {
    const call = this.#calls?.get(id);
    if (call === undefined) return; // already answered: the cancel crossed the reply
    // The handler's signal says `aborted` either way (the event was given up); the message says why.
    const reason = message.reason ? `: ${peerText(message.reason)}` : '';
    const why = message.code === CancelCode.TIMEOUT ? "the caller's deadline passed" : 'the caller cancelled the event';
    this.#drop(call, new RestpipeError(ErrorCode.ABORTED, `${why}${reason}`));
  }

  /** The pipe ended: every handler's signal fires with `err`; nothing more is dispatched or replied. */
  end(err: Error): void {
    for (const call of this.#calls?.values() ?? []) {
      clearTimeout(call.timer);
      call.abort(err);
    }
    this.#calls?.clear();
    this.#toDispatch.length = 0;
    this.#inlineInFlight = 0;
  }

  #armDeadline(call: InboundCall): void {
    if (call.timeoutMs === 0 || this.#calls?.get(call.id) !== call) return;
    call.deadlineAt = performance.now() + call.timeoutMs;
    call.timer = setTimeout(expireCall, call.timeoutMs, this, call);
    call.timer.unref();
  }

  /** @internal its deadline passed before its reply's head: nobody waits for a reply any more. */
  expire(call: InboundCall): void {
    if (this.#calls?.get(call.id) !== call || call.replied) return;
    this.#expire(call);
  }

  #expire(call: InboundCall): void {
    this.#drop(call, new RestpipeError(ErrorCode.ABORTED, `the caller's deadline of ${formatSeconds(call.timeoutMs)} passed before the reply`));
  }

  /** Ends a call that gets no (more) reply: signal, bodies, its share of the budget. */
  #drop(call: InboundCall, err: RestpipeError): void {
    this.#calls?.delete(call.id);
    clearTimeout(call.timer);
    this.#inlineInFlight -= call.inlineBytes;
    call.abort(err);
    this.#streams?.end(call.id, false, err);
    this.#port.settled();
  }

  /** The reply is all out. */
  #complete(call: InboundCall): void {
    if (this.#calls?.get(call.id) !== call) return;
    this.#calls.delete(call.id);
    this.#inlineInFlight -= call.inlineBytes;
    // A request body nobody read to its end is not wanted any more.
    this.#streams?.end(call.id, false, repliedFirst);
    this.#port.settled();
  }

  /** The reply's source failed after its head went out: the caller's reply body ends with an error. */
  #reset(call: InboundCall, err: Error | null): void {
    if (this.#calls?.get(call.id) !== call) return;
    const reason = err === null ? 'the reply stream was destroyed' : `the reply stream failed: ${err.message}`;
    this.#port.writeReset(call.id, reason);
    this.#drop(call, new RestpipeError(ErrorCode.STREAM_RESET, reason));
  }
}

function dispatchCalls(calls: InboundCalls): void {
  calls.dispatchRead();
}

function expireCall(calls: InboundCalls, call: InboundCall): void {
  calls.expire(call);
}

function ignore(): void {}

/**
 * The one parse of a peer's event, where its wire message is decoded (a peer may be hostile):
 * the parsed event, which everything after trusts, or the reply that refuses it. A verb or a
 * noun no handler can have is refused with return code 255 (no handler) and a JSON error body
 * naming the problem (`method_not_allowed`, `bad_request`); the event is never dispatched.
 */
export function parseInboundEvent(wire: WireEvent): ParsedEvent | Reply {
  try {
    const event = parseEventWithBody(wire.verb, wire.noun, wire.query, wire.mimetype, wire.data);
    if (wire.headers !== undefined) event.headers = wire.headers;
    return event;
  } catch (err) {
    const e = err as RestpipeError;
    return errorReply(ReturnCode.NO_HANDLER, e.code, e.message);
  }
}

/** True for what {@link parseInboundEvent} returns to refuse an event. */
export function isRefusal(parsed: ParsedEvent | Reply): parsed is Reply {
  return 'code' in parsed;
}

/** Why a request body still arriving is cut when its event's reply went out first. */
function repliedFirst(): RestpipeError {
  return new RestpipeError(ErrorCode.ABORTED, 'the reply was sent before the request body was read');
}
