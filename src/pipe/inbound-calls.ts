import { channels, replyOutcome } from '../diagnostics.js';
import { ErrorCode, RestpipeError } from '../errors.js';
import { ReturnCode, parseEventWithBody, type EventHandlerFn, type ParsedEvent, type PeerInfo, type Reply, type SignalSource } from '../event.js';
import { errorReply, exceptionReply } from '../replies.js';
import { peerText } from '../text.js';
import type { WireEvent } from '../wire/messages.js';

/** What the inbound calls need from their session. */
export interface InboundPort {
  /** Writes a reply frame for event `id` now. */
  writeReply(id: number, reply: Reply): void;
  /** The largest reply body the peer takes (its hello may say less than ours). */
  replyBodyLimit(): number;
  /** An event finished or was cancelled: the session may have drained. */
  settled(): void;
}

/**
 * An inbound event being handled. Its reply goes out unless it was cancelled. It is the
 * handler's signal source: the AbortController is made only for a handler that asks for its
 * signal (most never do), already aborted if the event was.
 */
class InboundCall implements SignalSource {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  readonly startedAt: number;

  constructor(
    readonly calls: InboundCalls,
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
    this.calls.finish(this, reply);
  }

  onError(err: unknown): void {
    // The dispatcher turns handler failures into replies; this catches a failing dispatcher itself.
    this.calls.finish(this, exceptionReply(err instanceof Error ? err : new Error(String(err))));
  }
}

/**
 * The events a peer sends on one pipe (SPEC §1, §5): admission (this node's in-flight limit:
 * over it, a busy reply at once), the one parse of the peer's event (parseInboundEvent),
 * dispatch in batches per read, the caller's cancel (the handler's signal fires and no reply
 * goes out), and the reply (a canned one when it is over the peer's body limit).
 */
export class InboundCalls {
  readonly #role: 'server' | 'client';
  readonly #peer: PeerInfo;
  readonly #maxInflight: number;
  readonly #handler: EventHandlerFn;
  readonly #port: InboundPort;
  readonly #calls = new Map<number, InboundCall>();
  /** Events decoded from the current read, run when it is all decoded (#dispatchRead). */
  readonly #toDispatch: InboundCall[] = [];
  #dispatchScheduled = false;

  constructor(role: 'server' | 'client', peer: PeerInfo, maxInflight: number, handler: EventHandlerFn, port: InboundPort) {
    this.#role = role;
    this.#peer = peer;
    this.#maxInflight = maxInflight;
    this.#handler = handler;
    this.#port = port;
  }

  /** Events being handled. */
  get size(): number {
    return this.#calls.size;
  }

  /** Whether event `id` is being handled (a peer may not reuse its id meanwhile). */
  has(id: number): boolean {
    return this.#calls.has(id);
  }

  /** A peer's event arrived: refused at once (busy, unparsable) or queued for this read's dispatch. */
  receive(id: number, wire: WireEvent): void {
    if (this.#calls.size >= this.#maxInflight) {
      this.#port.writeReply(id, errorReply(ReturnCode.BUSY, ErrorCode.TOO_MANY_IN_FLIGHT, `the receiving node already handles ${this.#maxInflight} events from this pipe`));
      return;
    }
    const event = parseInboundEvent(wire);
    if (isRefusal(event)) {
      this.#port.writeReply(id, event);
      return;
    }
    // Bodies arrive as views into the network chunk; a handler that keeps one would pin the
    // whole chunk, but copying every body would cost more than it saves. Handlers that store
    // data beyond the call should copy it (documented in the README).
    const call = new InboundCall(this, id, event);
    this.#calls.set(id, call);
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
   * cancel follows it. One setImmediate per turn that read events, not per event.
   */
  dispatchRead(): void {
    this.#dispatchScheduled = false;
    const calls = this.#toDispatch;
    for (let i = 0; i < calls.length; i++) {
      const call = calls[i]!;
      if (this.#calls.get(call.id) !== call) continue; // cancelled, or the pipe is gone
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

  /** @internal an event's handler finished: its reply goes out, unless it was cancelled or the pipe ended. */
  finish(call: InboundCall, reply: Reply): void {
    if (this.#calls.get(call.id) !== call) return; // cancelled, or the pipe is gone
    this.#calls.delete(call.id);
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
    const limit = this.#port.replyBodyLimit();
    const bytes = reply.data.byteLength;
    this.#port.writeReply(
      call.id,
      bytes > limit ? errorReply(ReturnCode.REPLY_TOO_LARGE, ErrorCode.BODY_TOO_LARGE, `reply body of ${bytes} bytes exceeds the limit of ${limit}`) : reply,
    );
    this.#port.settled();
  }

  /** The caller cancelled event `id`: its handler's signal fires and no reply goes out. */
  cancel(id: number, reason: string): void {
    const call = this.#calls.get(id);
    if (call === undefined) return; // already answered: the cancel crossed the reply
    this.#calls.delete(id);
    call.abort(new RestpipeError(ErrorCode.ABORTED, `the caller cancelled the event${reason ? `: ${peerText(reason)}` : ''}`));
    this.#port.settled();
  }

  /** The pipe ended: every handler's signal fires with `err`; nothing more is dispatched or replied. */
  end(err: Error): void {
    for (const call of this.#calls.values()) call.abort(err);
    this.#calls.clear();
    this.#toDispatch.length = 0;
  }
}

function dispatchCalls(calls: InboundCalls): void {
  calls.dispatchRead();
}

/**
 * The one parse of a peer's event, where its wire message is decoded (a peer may be hostile):
 * the parsed event, which everything after trusts, or the reply that refuses it. A verb or a
 * noun no handler can have is refused with return code 255 (no handler) and a JSON error body
 * naming the problem (`method_not_allowed`, `bad_request`); the event is never dispatched.
 */
export function parseInboundEvent(wire: WireEvent): ParsedEvent | Reply {
  try {
    return parseEventWithBody(wire.verb, wire.noun, wire.query, wire.mimetype, wire.data);
  } catch (err) {
    const e = err as RestpipeError;
    return errorReply(ReturnCode.NO_HANDLER, e.code, e.message);
  }
}

/** True for what {@link parseInboundEvent} returns to refuse an event. */
export function isRefusal(parsed: ParsedEvent | Reply): parsed is Reply {
  return 'code' in parsed;
}
