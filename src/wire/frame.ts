/**
 * The frame layout of SPEC §7: a 10-byte big-endian header, then the payload.
 *
 *   offset 0  u8   type
 *   offset 1  u8   flags (bit 0 = reply)
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
  HEARTBEAT_REPLY: 0x80,
  EVENT_REPLY: 0x81,
} as const;
export type FrameType = (typeof FrameType)[keyof typeof FrameType];

export const FrameFlag = {
  REPLY: 0x01,
} as const;

/** Largest payload of a frame that carries no body (hello, heartbeat, cancel, goaway). */
export const MAX_CONTROL_PAYLOAD_BYTES = 64 * 1024;

/** Room for an event's noun, mimetype and query beside its body, within one frame. */
export const EVENT_METADATA_ALLOWANCE_BYTES = 64 * 1024;

/** Name of a frame type for logs and errors. */
export function frameTypeName(type: number): string {
  switch (type) {
    case FrameType.HEARTBEAT: return 'HEARTBEAT';
    case FrameType.EVENT: return 'EVENT';
    case FrameType.HELLO: return 'HELLO';
    case FrameType.CANCEL: return 'CANCEL';
    case FrameType.GOAWAY: return 'GOAWAY';
    case FrameType.HEARTBEAT_REPLY: return 'HEARTBEAT_REPLY';
    case FrameType.EVENT_REPLY: return 'EVENT_REPLY';
    default: return `0x${type.toString(16).padStart(2, '0')}`;
  }
}

/** Whether a frame of this type may carry a body (and so may be as large as the body limit). */
export function carriesBody(type: number): boolean {
  return type === FrameType.EVENT || type === FrameType.EVENT_REPLY;
}

/** Whether the type is one of the reply types (which must, and only they may, set the reply flag). */
export function isReplyType(type: number): boolean {
  return type === FrameType.HEARTBEAT_REPLY || type === FrameType.EVENT_REPLY;
}

export function isKnownFrameType(type: number): type is FrameType {
  return (
    type === FrameType.HEARTBEAT ||
    type === FrameType.EVENT ||
    type === FrameType.HELLO ||
    type === FrameType.CANCEL ||
    type === FrameType.GOAWAY ||
    type === FrameType.HEARTBEAT_REPLY ||
    type === FrameType.EVENT_REPLY
  );
}
