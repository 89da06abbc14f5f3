import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Lingering close for an answer given before the request's body was read (413, or a refusal
 * of a request that carries a body).
 *
 * Node ends such a connection with `socket.destroySoon()`: FIN, then `close()` as soon as the
 * answer is flushed. The caller is usually still sending, so the kernel finds unread bytes at
 * `close()` and sends a RST, and a RST that reaches the caller before it has read our answer
 * discards it: the caller sees ECONNRESET instead of the 413 (found by the 70 MB body test,
 * about one run in three). nginx (`lingering_close`) and Go's net/http (`closeWriteAndWait`)
 * avoid this the same way as here: close our side only, keep reading and discarding what
 * still comes, and close for good when the caller closes or after `lingerMs`.
 *
 * Nothing is buffered meanwhile (the request is resumed with no reader keeping data), and the
 * bound holds against a caller that never stops sending.
 */
export function lingerBeforeClose(req: IncomingMessage, lingerMs: number): void {
  const socket = req.socket as Socket & { destroySoon(): void };
  socket.destroySoon = function lingeringDestroySoon(this: Socket): void {
    // A body reader that stopped at the limit paused the request (and with it the socket).
    req.resume();
    endAndLinger(this, lingerMs);
  };
}

/**
 * Sends FIN after what is already written (plus `last`, if given), keeps reading, and
 * destroys the socket when the peer closes its side or after `lingerMs`, whichever is first.
 */
export function endAndLinger(socket: Socket, lingerMs: number, last?: string): void {
  if (socket.writable) {
    if (last === undefined) socket.end();
    else socket.end(last);
  }
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  socket.once('end', () => socket.destroy());
  socket.resume();
}
