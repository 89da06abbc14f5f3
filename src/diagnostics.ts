import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingHttpHeaders } from 'node:http';
import { ReturnCode, type ParsedEvent, type Reply } from './event.js';

/**
 * What the library publishes for metrics and logs to observe (undici's pattern): metrics
 * subscribe, the pipe publishes only when someone listens, so observability off costs a
 * boolean check per event. Channel names are public and stable.
 */

/** An outbound event settled (reply, error, timeout) or an inbound event was handled. */
export interface EventSettledMessage {
  /** The role of the node whose pipe settled the event (a process may run both, as `demo` does). */
  role: 'server' | 'client';
  direction: 'outbound' | 'inbound';
  /** The peer's node name. */
  peer: string;
  /** ok | handler_error | no_handler | the ErrorCode that ended it (pipe_broken, event_timeout, aborted, …). */
  outcome: string;
  durationMs: number;
  /** The handler method, inbound only (the original's `message.received.handle.<handler>.timing`). */
  handler?: string;
  /**
   * Inbound only: the event as handled and the reply that goes out (references, nothing is
   * copied to publish them; a subscriber that keeps part of a body copies that part).
   */
  event?: ParsedEvent;
  reply?: Reply;
}

/** A pipe opened (hello exchanged) or closed. */
export interface PipeStateMessage {
  role: 'server' | 'client';
  peer: string;
  state: 'open' | 'closed';
  reason?: string;
  /** The peer's IP address. */
  address?: string;
}

/** A client's dial attempt ended. */
export interface DialMessage {
  server: string;
  outcome: 'connected' | 'failed';
  attempt: number;
  reason?: string;
}

/** A TLS peer was refused, or its pipe broke the protocol. */
export interface RefusalMessage {
  reason: string;
  address: string;
  name?: string;
}

/** A client's new pipe replaced its previous one (same CN; a reconnect, or another holder of its key). */
export interface ReplacedMessage {
  /** The CN. */
  name: string;
  address: string;
  previousAddress: string;
}

/**
 * An event request on a gateway (`/server/NOUN`, `/client/NAME/NOUN`), published twice as one
 * object: on `gatewayEventStart` when the request has been routed (a subscriber may then set
 * {@link captureBodyBytes} to have the first bytes of both bodies kept), and on
 * `gatewayEventEnd` once its response has been written, or it ended without one (the caller
 * hung up, the gateway closed): the remaining fields are filled in by then.
 */
export interface GatewayEventMessage {
  /** The role of the node whose gateway this is. */
  role: 'server' | 'client';
  /** When the request was routed (epoch ms). */
  startedAt: number;
  method: string;
  /** The request target as sent (path and query). */
  url: string;
  /** The request's headers as Node parsed them (a reference: not copied). */
  requestHeaders: IncomingHttpHeaders;
  /** The NAME of `/client/NAME/NOUN` (server node); undefined on a client node. */
  target: string | undefined;
  verb: string;
  noun: string;
  query: string;
  /** Set by a start subscriber: how many bytes of each body to keep (0: none). */
  captureBodyBytes: number;
  // --- filled in at the end -------------------------------------------------------------
  /** The HTTP status written; undefined when the request ended without a response. */
  status?: number;
  /** The reply's return code when the far side answered. */
  returnCode?: number;
  /** The JSON error code when the gateway answered with an error (SPEC §4). */
  errorCode?: string;
  /** The response's headers as written (name, value, name, value, …). */
  responseHeaders?: readonly string[];
  requestBytes?: number;
  replyBytes?: number;
  durationMs?: number;
  /** The first {@link captureBodyBytes} of each body, when asked for. */
  requestBody?: BodyHeadTap;
  replyBody?: BodyHeadTap;
}

/**
 * A small bounded tee: keeps a copy of the first `limit` bytes of what passes through `add`
 * (one chunk, or many when bodies are streams) and counts the rest without keeping it. The
 * body itself is never held or delayed.
 */
export class BodyHeadTap {
  readonly #limit: number;
  readonly #chunks: Buffer[] = [];
  #kept = 0;
  /** Every byte seen, kept or not. */
  bytes = 0;

  constructor(limit: number) {
    this.#limit = limit;
  }

  /** A chunk of the body passed. */
  add(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    const room = this.#limit - this.#kept;
    if (room <= 0 || chunk.byteLength === 0) return;
    // A copy: the chunk may be a view into a larger network buffer that must not be pinned.
    const part = Buffer.from(chunk.subarray(0, room));
    this.#chunks.push(part);
    this.#kept += part.byteLength;
  }

  /** The bytes kept (at most the limit). */
  head(): Buffer {
    if (this.#chunks.length !== 1) {
      const joined = Buffer.concat(this.#chunks, this.#kept);
      this.#chunks.length = 0;
      this.#chunks.push(joined);
    }
    return this.#chunks[0]!;
  }

  /** Whether bytes were seen beyond those kept. */
  get truncated(): boolean {
    return this.bytes > this.#kept;
  }
}

/** The receiving node's access rules refused an event (or, in audit mode, would have). */
export interface RulesRefusedMessage {
  /** The receiving node's role. */
  role: 'server' | 'client';
  /** The caller's CN. */
  caller: string;
  verb: string;
  /** The noun without its parameters. */
  noun: string;
  /** True in audit mode: the event went on. */
  audit: boolean;
}

export const channels = {
  eventSettled: diagnosticsChannel.channel('restpipe:event:settled'),
  pipeState: diagnosticsChannel.channel('restpipe:pipe:state'),
  dial: diagnosticsChannel.channel('restpipe:client:dial'),
  refusal: diagnosticsChannel.channel('restpipe:server:refusal'),
  replaced: diagnosticsChannel.channel('restpipe:server:replaced'),
  gatewayEventStart: diagnosticsChannel.channel('restpipe:gateway:event:start'),
  gatewayEventEnd: diagnosticsChannel.channel('restpipe:gateway:event:end'),
  rulesRefused: diagnosticsChannel.channel('restpipe:rules:refused'),
} as const;

/** A reply's outcome as EventSettledMessage names it: ok, no_handler, forbidden (the access rules), or handler_error for any other code. */
export function replyOutcome(code: number): string {
  if (code === ReturnCode.OK) return 'ok';
  if (code === ReturnCode.NO_HANDLER) return 'no_handler';
  if (code === ReturnCode.FORBIDDEN) return 'forbidden';
  if (code === ReturnCode.UPSTREAM_FAILED) return 'upstream_failed';
  return 'handler_error';
}
