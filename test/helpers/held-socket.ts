// A socket stand-in for unit tests of the frame writer: it holds every write until released,
// so a test decides when "the kernel" takes bytes (writableLength and the writer's flushedBytes
// move only then).
import { Writable } from 'node:stream';

/** A Writable that completes no write until `release()`, and what was written to it. */
export interface HeldSocket {
  readonly socket: Writable;
  readonly written: Buffer[];
  /** Completes every write handed to the stand-in so far. */
  release(): void;
}

/** A stand-in that holds everything written until `release()`. */
export function heldSocket(): HeldSocket {
  const written: Buffer[] = [];
  let pending: (() => void)[] = [];
  const socket = new Writable({
    highWaterMark: 1,
    write(chunk: Buffer, _enc, cb) {
      written.push(chunk);
      pending.push(cb);
    },
  });
  return {
    socket,
    written,
    release() {
      const cbs = pending;
      pending = [];
      for (const cb of cbs) cb();
    },
  };
}
