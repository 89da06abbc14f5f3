import { ErrorCode, RestpipeError } from '../errors.js';
import { ConnectWaiters } from '../pipe/connect-wait.js';
import { formatSeconds } from '../text.js';

/** What the registry needs of a pipe. */
export interface RegisteredPipe {
  readonly peer: { name: string; address: string };
  readonly isUsable: boolean;
}

/**
 * The server's connected clients: one pipe per CN, also searchable by address. A new pipe for
 * a CN replaces the old one at once (the original refused it until the old one timed out);
 * removal is compare-and-delete, so a late close of a replaced pipe cannot evict its successor.
 * Senders can wait (connect-wait) for a client that is not connected yet. It also remembers the
 * names that have had a pipe since the server started (bounded: a CA issuing endless names
 * cannot grow it).
 */
export class ClientRegistry<P extends RegisteredPipe> {
  readonly #byName = new Map<string, P>();
  readonly #waiters = new ConnectWaiters<P>();
  readonly #known = new Set<string>();

  get size(): number {
    return this.#byName.size;
  }

  get(name: string): P | undefined {
    return this.#byName.get(name);
  }

  pipes(): P[] {
    return [...this.#byName.values()];
  }

  /** Pipes whose peer address is `address`; several clients may share one (NAT). */
  findByAddress(address: string): P[] {
    return this.pipes().filter((p) => p.peer.address === address);
  }

  /** Registers a pipe; returns the pipe it replaced, which the caller closes. */
  add(pipe: P): P | undefined {
    const name = pipe.peer.name;
    const previous = this.#byName.get(name);
    this.#byName.set(name, pipe);
    if (this.#known.size < MAX_KNOWN_NAMES) this.#known.add(name);
    this.#waiters.resolve(name, pipe);
    return previous;
  }

  /** Whether `name` has a pipe now or had one at any time since the server started. */
  knows(name: string): boolean {
    return this.#byName.has(name) || this.#known.has(name);
  }

  /** Removes `pipe` only if it is still the one registered for its name. */
  removeIf(pipe: P): boolean {
    const name = pipe.peer.name;
    if (this.#byName.get(name) !== pipe) return false;
    this.#byName.delete(name);
    return true;
  }

  /**
   * The usable pipe for `name`, waiting up to `timeoutMs` for one to be registered.
   * @throws RestpipeError no_connection or aborted.
   */
  waitFor(name: string, timeoutMs: number, signal?: AbortSignal): Promise<P> {
    const current = this.#byName.get(name);
    if (current?.isUsable === true) return Promise.resolve(current);
    return this.#waiters.wait(name, timeoutMs, signal, () => noConnection(name, timeoutMs));
  }

  /** Fails every waiter (the server is closing). */
  failWaiters(err: Error): void {
    this.#waiters.failAll(err);
  }

  /** Waiters pending, for leak checks. */
  get waiterCount(): number {
    return this.#waiters.size;
  }
}

/** How many client names knows() remembers beyond those connected. */
const MAX_KNOWN_NAMES = 100_000;

function noConnection(name: string, timeoutMs: number): RestpipeError {
  return new RestpipeError(ErrorCode.NO_CONNECTION, `no pipe to client '${name}' within ${formatSeconds(timeoutMs)}`);
}
