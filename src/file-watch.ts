import { watch } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';

/** How long a burst of changes to a watched file is let settle before `onChange` runs once. */
const SETTLE_MS = 100;

/** A watch that can be stopped. */
export interface FileWatch {
  close(): void;
}

/**
 * Calls `onChange` when the file at `path` changes, once per burst of changes. Editors and `mv`
 * replace a file rather than write it (a new inode: a watch on the file itself would go on
 * watching the old one, or stop), so the directory is watched and its events are filtered by
 * the file's name. The watch keeps no process alive. A directory that cannot be watched is
 * reported to `onError` (the owner says how to reload by hand).
 */
export function watchFile(path: string, onChange: () => void, onError: (err: Error) => void): FileWatch {
  let pending: NodeJS.Timeout | undefined;
  const file = basename(path);
  let watcher;
  try {
    watcher = watch(dirname(resolve(path)), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== file) return;
      clearTimeout(pending);
      pending = setTimeout(onChange, SETTLE_MS);
      pending.unref();
    });
  } catch (err) {
    onError(err as Error);
    return { close: () => {} };
  }
  watcher.on('error', onError);
  return {
    close() {
      clearTimeout(pending);
      watcher.close();
    },
  };
}
