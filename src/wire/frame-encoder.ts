import { HEADER_BYTES, defaultFlags, type FrameType } from './frame.js';

/**
 * The 10-byte header for a frame (SPEC §7).
 * @param flags @default REPLY for the reply types, else 0
 */
export function encodeHeader(type: FrameType, payloadBytes: number, id: number, flags: number = defaultFlags(type)): Buffer {
  const header = Buffer.allocUnsafe(HEADER_BYTES);
  header[0] = type;
  header[1] = flags;
  header.writeUInt32BE(payloadBytes, 2);
  header.writeUInt32BE(id >>> 0, 6);
  return header;
}

/**
 * A whole frame as a list of buffers: the header, then the payload parts as given. Parts are
 * never concatenated, so a body is written from the caller's own memory.
 * @param flags @default REPLY for the reply types, else 0
 */
export function encodeFrame(type: FrameType, id: number, parts: readonly Uint8Array[], flags: number = defaultFlags(type)): Uint8Array[] {
  let length = 0;
  for (const part of parts) length += part.byteLength;
  return [encodeHeader(type, length, id, flags), ...parts];
}
