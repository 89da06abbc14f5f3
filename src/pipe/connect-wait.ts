import { callerAborted } from '../errors.js';

interface Waiter<P> {
  key: string;
  resolve: (pipe: P) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * Senders waiting for a pipe to appear (SPEC §6 connect-wait), by key: the client has one key
 * (its server), the server's registry one per client name. Each waiter settles exactly once:
 * with the pipe, with the error `onTimeout` makes when its time is up, with `aborted` when the
 * caller's signal fires, or with the error of {@link failAll}. Its timer and abort listener go
 * with it, so a waiter leaves nothing behind however it ends.
 */
export class ConnectWaiters<P> {
  readonly #byKey = new Map<string, Set<Waiter<P>>>();
  #size = 0;

  /** Waiters pending (leak checks, status). */
  get size(): number {
    return this.#size;
  }

  /**
   * Waits up to `timeoutMs` for {@link resolve} with `key`. A timeout of 0 (or less) rejects at
   * once with `onTimeout()`; an aborted signal rejects at once with `aborted`.
   */
  wait(key: string, timeoutMs: number, signal: AbortSignal | undefined, onTimeout: () => Error): Promise<P> {
    if (signal?.aborted) return Promise.reject(callerAborted(signal.reason));
    if (timeoutMs <= 0) return Promise.reject(onTimeout());
    return new Promise<P>((resolve, reject) => {
      const waiter: Waiter<P> = { key, resolve, reject, timer: undefined, signal, onAbort: undefined };
      waiter.timer = setTimeout(() => {
        this.#drop(waiter);
        reject(onTimeout());
      }, timeoutMs);
      waiter.timer.unref();
      if (signal !== undefined) {
        waiter.onAbort = () => {
          this.#drop(waiter);
          reject(callerAborted(signal.reason));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      let set = this.#byKey.get(key);
      if (set === undefined) this.#byKey.set(key, (set = new Set()));
      set.add(waiter);
      this.#size++;
    });
  }

  /** Hands `pipe` to every waiter of `key`. */
  resolve(key: string, pipe: P): void {
    const set = this.#byKey.get(key);
    if (set === undefined) return;
    for (const waiter of [...set]) {
      this.#drop(waiter);
      waiter.resolve(pipe);
    }
  }

  /** Fails every waiter (the node is closing). */
  failAll(err: Error): void {
    for (const set of [...this.#byKey.values()]) {
      for (const waiter of [...set]) {
        this.#drop(waiter);
        waiter.reject(err);
      }
    }
  }

  #drop(waiter: Waiter<P>): void {
    const set = this.#byKey.get(waiter.key);
    if (set === undefined || !set.delete(waiter)) return;
    if (set.size === 0) this.#byKey.delete(waiter.key);
    this.#size--;
    clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
  }
}
