import { ErrorCode, RestpipeError } from './errors.js';

/** Which states each state may move to; a state with no entry (or []) is final. */
export type StateMoves<S extends string> = { readonly [K in S]: readonly S[] };

/** Options of {@link StateMachine}. */
export interface StateMachineOptions<S extends string> {
  /** The clock `since` reads, ms. @default Date.now */
  now?: () => number;
  /** Called after every move, with the state left and the state entered (logging, status events). */
  onMove?: (from: S, to: S) => void;
}

/**
 * An object's state, moved only through {@link move}, which refuses a move its table does not
 * allow (grpc-js `transitionToState`). Each owner (a pipe session, a client, a server) has one,
 * so its states and their order are written down in one table instead of spread over flag
 * checks, and a bug that would move it wrongly fails loudly at the move instead of quietly later.
 */
export class StateMachine<S extends string> {
  readonly #what: string;
  readonly #moves: StateMoves<S>;
  readonly #now: () => number;
  readonly #onMove: ((from: S, to: S) => void) | undefined;
  #state: S;
  #since: number;

  /** @param what names the owner in the error of an illegal move (`pipe session`, `client`). */
  constructor(what: string, initial: S, moves: StateMoves<S>, options: StateMachineOptions<S> = {}) {
    this.#what = what;
    this.#moves = moves;
    this.#now = options.now ?? Date.now;
    this.#onMove = options.onMove;
    this.#state = initial;
    this.#since = this.#now();
  }

  get state(): S {
    return this.#state;
  }

  /** When the current state was entered, by the clock. */
  get since(): number {
    return this.#since;
  }

  /** Whether the state is `a` (or `b`). On the hot path (every frame): no array, no allocation. */
  is(a: S, b?: S): boolean {
    return this.#state === a || (b !== undefined && this.#state === b);
  }

  /** Whether the table allows moving from the current state to `next`. */
  canMove(next: S): boolean {
    return this.#moves[this.#state].includes(next);
  }

  /**
   * Moves to `next`.
   * @throws RestpipeError `internal_error` for a move the table does not allow (a bug).
   */
  move(next: S): void {
    const from = this.#state;
    if (!this.canMove(next)) {
      throw new RestpipeError(ErrorCode.INTERNAL_ERROR, `${this.#what}: illegal state move ${from} → ${next}`);
    }
    this.#state = next;
    this.#since = this.#now();
    this.#onMove?.(from, next);
  }
}
