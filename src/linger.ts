import type { Duplex } from 'node:stream';

/**
 * "End the socket, then destroy it after N ms": the one close that lets our last bytes (a
 * goaway, final replies, an error answer) reach a peer that may never close its side.
 *
 * Sends FIN after what is already written (plus `last`, if given) and destroys the socket when
 * it closes by itself or after `lingerMs`, whichever comes first; the timer is unref'd and
 * cleared with the socket, so it holds neither the process nor memory.
 *
 * With `discardReads`, what the peer still sends is read and dropped, and its FIN closes the
 * socket at once. A caller that is still sending (an oversized body, a header flood) would
 * otherwise find unread bytes at close(), which makes the kernel send a RST, and a RST that
 * reaches it before our answer discards the answer. nginx (`lingering_close`) and Go's net/http
 * (`closeWriteAndWait`) do the same. Without it nothing is read: a peer we refused (pipe port)
 * never gets a byte of it parsed.
 */
export function endAndLinger(socket: Duplex, lingerMs: number, { last, discardReads = false }: { last?: string | Uint8Array; discardReads?: boolean } = {}): void {
  if (socket.destroyed) return;
  if (socket.writable) {
    if (last === undefined) socket.end();
    else socket.end(last);
  }
  const timer = setTimeout(destroy, lingerMs, socket);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  if (discardReads) {
    socket.once('end', () => socket.destroy());
    socket.resume();
  }
}

function destroy(socket: Duplex): void {
  socket.destroy();
}
