import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
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
