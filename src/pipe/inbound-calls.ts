import type { RestpipeError } from '../errors.js';
import { ReturnCode, parseEventHead, type ParsedEvent, type Reply } from '../event.js';
import { errorReply } from '../replies.js';
import type { WireEvent } from '../wire/messages.js';

/**
 * The one parse of a peer's event, where its wire message is decoded (a peer may be hostile):
 * the parsed event, which everything after trusts, or the reply that refuses it. A verb or a
 * noun no handler can have is refused with return code 255 (no handler) and a JSON error body
 * naming the problem (`method_not_allowed`, `bad_request`); the event is never dispatched.
 */
export function parseInboundEvent(wire: WireEvent): ParsedEvent | Reply {
  try {
    return { ...parseEventHead(wire.verb, wire.noun, wire.query), mimetype: wire.mimetype, data: wire.data };
  } catch (err) {
    const e = err as RestpipeError;
    return errorReply(ReturnCode.NO_HANDLER, e.code, e.message);
  }
}

/** True for what {@link parseInboundEvent} returns to refuse an event. */
export function isRefusal(parsed: ParsedEvent | Reply): parsed is Reply {
  return 'code' in parsed;
}
