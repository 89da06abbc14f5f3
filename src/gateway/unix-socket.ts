import { chmod, lstat, mkdtemp, rename, rm, unlink } from 'node:fs/promises';
import net from 'node:net';
import { basename, dirname, join } from 'node:path';
import { invalidOption } from '../options/validate.js';

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

/**
 * Where to bind a unix socket so that it appears at its final path already with its final
 * mode: it is created inside a fresh private directory (mode 0700, beside the final path so the
 * rename stays on one file system), chmod-ed there, and only then renamed into place. Binding at
 * the final path and chmod-ing afterwards left a window in which the socket had the process
 * umask's mode: under `umask 000` any local user could connect in it, and the connection kept
 * working after the chmod. (A umask around listen() would also change the mode of files other
 * code creates meanwhile on libuv's threads.)
 */
export async function privateSocketPath(path: string): Promise<{ bindPath: string; publish(mode: number): Promise<void>; discard(): Promise<void> }> {
  const dir = await mkdtemp(join(dirname(path), `.${basename(path).slice(0, 20)}-`));
  const bindPath = join(dir, 's');
  const discard = (): Promise<void> => rm(dir, { recursive: true, force: true });
  return {
    bindPath,
    async publish(mode) {
      try {
        await chmod(bindPath, mode);
        await rename(bindPath, path);
      } finally {
        await discard();
      }
    },
    discard,
  };
}
