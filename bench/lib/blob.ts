import { Readable } from 'node:stream';

const BLOB_CHUNK = Buffer.alloc(64 * 1024, 0x5a);

/** `bytes` bytes for the stream benchmarks: one 64 KiB buffer again and again (no copy per chunk). */
export function blob(bytes: number): Readable {
  let left = bytes;
  return new Readable({
    highWaterMark: BLOB_CHUNK.length,
    read() {
      const n = Math.min(left, BLOB_CHUNK.length);
      left -= n;
      this.push(n === 0 ? null : n === BLOB_CHUNK.length ? BLOB_CHUNK : BLOB_CHUNK.subarray(0, n));
    },
  });
}
