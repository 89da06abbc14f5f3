import type { Readable, Writable } from 'node:stream';

/**
 * How much a socket that streamed bodies are written to buffers before `write()` says wait: the
 * gateway's callers' sockets and the forwarder's upstream sockets (Node's default is 16 KiB). A
 * body from the pipe arrives as its TLS reads deliver it, 16 KiB at a time; with a 16 KiB mark
 * every piece filled the socket's buffer, so `pipe()` paused the body after each one and
 * {@link coalesceWrites} had nothing to batch: one 16 KiB send(2) per turn. With room for several
 * DATA frames the pieces of a turn leave in one writev: a 512 MiB download through the bench's
 * gateway, 8 runs each, alternating: median 290 → 346 MiB/s, the gateway's CPU 1.73 → 1.49 s.
 * A reader that stops reading holds at most this much more here (its stream's window aside).
 */
export const STREAMED_SOCKET_HIGH_WATER_BYTES = 256 * 1024;

/**
 * Batches what `source` writes into `dest` during one turn of the event loop into one write.
 * Call it before `source.pipe(dest)` (or `pipeline`). A body arriving from the pipe comes as one
 * 64 KiB chunk per DATA frame, several frames per turn; written one by one, each chunk is a
 * send(2) of its own, and on loopback a send also runs the receiver's side of TCP. Corking at
 * the first chunk of a turn and uncorking once the turn's I/O is done (setImmediate) makes them
 * one writev: a 512 MiB download through the bench's gateway cost that node 1.25–2.1 s of CPU
 * with a write per chunk and 0.93–1.3 s batched. A chunk waits at most until the end of its turn.
 */
export function coalesceWrites(source: Readable, dest: Writable): void {
  let corked = false;
  const uncork = (): void => {
    corked = false;
    dest.uncork();
  };
  source.on('data', () => {
    if (corked || dest.destroyed) return;
    corked = true;
    dest.cork();
    setImmediate(uncork);
  });
}
