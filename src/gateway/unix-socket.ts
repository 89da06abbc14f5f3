import { lstat, unlink } from 'node:fs/promises';
import net from 'node:net';
import { invalidOption } from '../options.js';

/**
 * A unix socket path left behind by a process that died is removed, but only when nothing
 * answers on it (a live gateway's socket is never stolen) and only when it is a socket (a
 * mistyped path never deletes a file).
 */
export async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!isSocket) throw invalidOption(`gateway socket path ${path} exists and is not a socket; refusing to replace it`);
  const inUse = await new Promise<boolean>((resolve, reject) => {
    const probe = net.connect(path);
    const done = (value: boolean | Error): void => {
      clearTimeout(timer);
      probe.destroy();
      if (value instanceof Error) reject(value);
      else resolve(value);
    };
    const timer = setTimeout(done, 1_000, true); // something holds it but does not accept: leave it
    probe.once('connect', () => done(true));
    probe.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOENT') done(false);
      else done(err);
    });
  });
  if (inUse) throw invalidOption(`gateway socket path ${path} is in use by another process`);
  await unlink(path).catch(ignoreNotFound);
}

/** For `unlink(…).catch(ignoreNotFound)`: a file already gone is fine. */
export function ignoreNotFound(err: NodeJS.ErrnoException): void {
  if (err.code !== 'ENOENT') throw err;
}
