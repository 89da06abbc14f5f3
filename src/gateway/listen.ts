import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { STREAMED_SOCKET_HIGH_WATER_BYTES } from '../stream/coalesce.js';
import { privateSocketPath, removeStaleSocket } from './unix-socket.js';

/**
 * Listens on a TCP address or a unix socket path; a unix socket appears at its path only once
 * it has its mode (0660: nginx typically runs as another user in the socket owner's group).
 * Returns the bound address (the real port when 0 was asked for) or the path.
 */
export async function listenOn(server: Server, listen: { host: string; port: number } | { path: string }): Promise<{ host: string; port: number } | { path: string }> {
  if ('path' in listen) await removeStaleSocket(listen.path);
  const unix = 'path' in listen ? await privateSocketPath(listen.path) : undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      const onListening = (): void => {
        server.removeListener('error', onError);
        resolve();
      };
      if (unix !== undefined) server.listen(unix.bindPath, onListening);
      else if ('port' in listen) server.listen(listen.port, listen.host, onListening);
    });
  } catch (err) {
    await unix?.discard();
    throw err;
  }
  if ('path' in listen) {
    await unix!.publish(0o660);
    return { path: listen.path };
  }
  const a = server.address() as AddressInfo;
  return { host: a.address, port: a.port };
}

/**
 * The gateway's node:http server with its timeouts. Node's requestTimeout would bound a whole
 * request, however big its body: it is off, a streamed body being bounded by its event's
 * progress timer in the pipe instead, and a body read whole (inline) by a timer of the gateway's.
 */
export function createHttpServer(headersTimeoutMs: number, keepAliveTimeoutMs: number): Server {
  const server = http.createServer({
    headersTimeout: headersTimeoutMs,
    requestTimeout: 0,
    highWaterMark: STREAMED_SOCKET_HIGH_WATER_BYTES,
    keepAliveTimeout: keepAliveTimeoutMs,
    // Node checks both timeouts on this interval (default 30 s, which would let a 10 s
    // headers timeout take 40 s). A sweep over the connection list is cheap.
    connectionsCheckingInterval: Math.min(1_000, Math.max(50, Math.floor(headersTimeoutMs / 4))),
  });
  server.headersTimeout = headersTimeoutMs;
  server.requestTimeout = 0;
  server.keepAliveTimeout = keepAliveTimeoutMs;
  return server;
}
