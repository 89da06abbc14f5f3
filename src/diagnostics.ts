import diagnosticsChannel from 'node:diagnostics_channel';
import { ReturnCode } from './event.js';

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
}

/** A pipe opened (hello exchanged) or closed. */
export interface PipeStateMessage {
  role: 'server' | 'client';
  peer: string;
  state: 'open' | 'closed';
  reason?: string;
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
  rulesRefused: diagnosticsChannel.channel('restpipe:rules:refused'),
} as const;

/** A reply's outcome as EventSettledMessage names it: ok, no_handler, forbidden (the access rules), or handler_error for any other code. */
export function replyOutcome(code: number): string {
  if (code === ReturnCode.OK) return 'ok';
  if (code === ReturnCode.NO_HANDLER) return 'no_handler';
  if (code === ReturnCode.FORBIDDEN) return 'forbidden';
  return 'handler_error';
}
