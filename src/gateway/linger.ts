import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { endAndLinger } from '../linger.js';

/**
 * Lingering close for an answer given before the request's body was read (413, or a refusal
 * of a request that carries a body).
 *
 * Node ends such a connection with `socket.destroySoon()`: FIN, then `close()` as soon as the
 * answer is flushed. The caller is usually still sending, so the kernel finds unread bytes at
 * `close()` and sends a RST, and a RST that reaches the caller before it has read our answer
 * discards it: the caller sees ECONNRESET instead of the 413 (found by the 70 MB body test,
 * about one run in three). So our side is closed with `endAndLinger(…, { discardReads })`
 * (src/linger.ts): keep reading and discarding what still comes, and close for good when the
 * caller closes or after `lingerMs`.
 *
 * Nothing is buffered meanwhile (the request is resumed with no reader keeping data), and the
 * bound holds against a caller that never stops sending.
 */
export function lingerBeforeClose(req: IncomingMessage, lingerMs: number): void {
  const socket = req.socket as Socket & { destroySoon(): void };
  socket.destroySoon = function lingeringDestroySoon(this: Socket): void {
    // A body reader that stopped at the limit paused the request (and with it the socket).
    req.resume();
    endAndLinger(this, lingerMs, { discardReads: true });
  };
}
