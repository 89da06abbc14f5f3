/**
 * The frame layout of SPEC §7: a 10-byte big-endian header, then the payload.
 *
 *   offset 0  u8   type
 *   offset 1  u8   flags (bit 0 = reply, bit 1 = end of stream)
 *   offset 2  u32  payload length
 *   offset 6  u32  message id
 */
export const HEADER_BYTES = 10;

export const FrameType = {
  HEARTBEAT: 0x01,
  EVENT: 0x02,
  HELLO: 0x03,
  CANCEL: 0x04,
  GOAWAY: 0x05,
  /** v2: one chunk of a body (SPEC §9). */
  DATA: 0x06,
  /** v2: more credit for a body stream, or (id 0) for the pipe. */
  WINDOW_UPDATE: 0x07,
  HEARTBEAT_REPLY: 0x80,
  EVENT_REPLY: 0x81,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const FrameFlag = {
  /**
   * The frame comes from the node that answers the event, so its id is one the receiver of the
   * frame allocated (EVENT_REPLY, HEARTBEAT_REPLY; and in v2 the reply body's DATA, the request
   * body's WINDOW_UPDATE, and a reset CANCEL).
   */
  REPLY: 0x01,
  /** v2: no more of this body: on a head, the body was inline; on DATA, this is the last chunk. */
  END_STREAM: 0x02,
  /**
   * v2, on DATA: this chunk used the last of the stream's credit and the body is not finished
   * (QUIC's STREAM_DATA_BLOCKED, RFC 9000 §19.13, as a flag): the window held the sender back.
   */
  BLOCKED: 0x04,
} as const;

/** The largest chunk of body in one DATA frame (SPEC §9). */
export const MAX_CHUNK_BYTES = 64 * 1024;

/** The largest body sent inline in an event's or a reply's head; larger ones are streamed. */
export const MAX_INLINE_BYTES = 64 * 1024;

/** Largest payload of a frame that carries no body (hello, heartbeat, cancel, goaway). */
export const MAX_CONTROL_PAYLOAD_BYTES = 64 * 1024;

/** Room for an event's noun, mimetype, query and headers beside its body, within one frame. */
export const EVENT_METADATA_ALLOWANCE_BYTES = 64 * 1024;

/**
 * The largest frame payload a v2 node accepts (its Hello.max_frame_bytes): an inline body or a
 * chunk, plus the head's metadata. Bodies no longer have to fit in a frame.
 */
export const STREAM_FRAME_PAYLOAD_BYTES = MAX_INLINE_BYTES + EVENT_METADATA_ALLOWANCE_BYTES;

/** Name of a frame type for logs and errors. */
export function frameTypeName(type: number): string {
  switch (type) {
    case FrameType.HEARTBEAT: return 'HEARTBEAT';
    case FrameType.EVENT: return 'EVENT';
    case FrameType.HELLO: return 'HELLO';
    case FrameType.CANCEL: return 'CANCEL';
    case FrameType.GOAWAY: return 'GOAWAY';
    case FrameType.DATA: return 'DATA';
    case FrameType.WINDOW_UPDATE: return 'WINDOW_UPDATE';
    case FrameType.HEARTBEAT_REPLY: return 'HEARTBEAT_REPLY';
    case FrameType.EVENT_REPLY: return 'EVENT_REPLY';
    default: return `0x${type.toString(16).padStart(2, '0')}`;
  }
}

/** Whether a frame of this type may carry body bytes (and so may be as large as the frame limit). */
export function carriesBody(type: number): boolean {
  return type === FrameType.EVENT || type === FrameType.EVENT_REPLY || type === FrameType.DATA;
}

/** Whether the type is one of the reply types, which must set the reply flag. */
export function isReplyType(type: number): boolean {
  return type === FrameType.HEARTBEAT_REPLY || type === FrameType.EVENT_REPLY;
}

/** The flags a frame of this type gets by default (v1's only rule): REPLY for the reply types. */
export function defaultFlags(type: number): number {
  return isReplyType(type) ? FrameFlag.REPLY : 0;
}

/**
 * Why `flags` are not allowed on a frame of `type`, or undefined when they are: the reply types
 * must set REPLY; DATA, WINDOW_UPDATE and CANCEL may (it says whose event the id is); no other
 * type may. Other bits (END_STREAM where it means nothing, bits no version defines) are ignored,
 * as HTTP/2 ignores flags a frame type does not define (RFC 9113 §4.1).
 */
export function flagsProblem(type: number, flags: number): string | undefined {
  const reply = (flags & FrameFlag.REPLY) !== 0;
  const mayReply = type === FrameType.DATA || type === FrameType.WINDOW_UPDATE || type === FrameType.CANCEL;
  if (!mayReply && reply !== isReplyType(type)) return `reply flag ${reply ? 'set' : 'clear'}`;
  return undefined;
}

export function isKnownFrameType(type: number): type is FrameType {
  return (
    type === FrameType.HEARTBEAT ||
    type === FrameType.EVENT ||
    type === FrameType.HELLO ||
    type === FrameType.CANCEL ||
    type === FrameType.GOAWAY ||
    type === FrameType.DATA ||
    type === FrameType.WINDOW_UPDATE ||
    type === FrameType.HEARTBEAT_REPLY ||
    type === FrameType.EVENT_REPLY
  );
}
