/**
 * The log of access-rule refusals, bounded whatever the callers do. A caller holds a valid
 * certificate but may be hostile: it can send ten thousand forbidden events a second, each
 * with a different noun. So a refusal is logged once per (caller, verb, noun) per window, and
 * when the window ends one line per such key says how many more there were. The keys of a
 * window are capped, in all and per caller; past a cap the refusals of that caller (or of
 * everyone, past the total cap) are only counted, and reported in one line at the window's end.
 * So a window writes at most 2 × (MAX_KEYS + MAX_CALLERS) + 1 lines, however large the flood.
 */

/** What is logged of one refusal: the key's parts and the line to write the first time. */
export interface RefusalEntry {
  readonly caller: string;
  readonly verb: string;
  readonly noun: string;
}

/** Where the lines go; `D` is what the first line of a key says beyond the key (the rule that refused). */
export interface RefusalLogSink<D> {
  /** The first refusal of a key in a window. */
  first(entry: RefusalEntry, detail: D): void;
  /** At the window's end: `count` more refusals of this key after its first line. */
  repeated(entry: RefusalEntry, count: number, windowMs: number): void;
  /** At the window's end: refusals counted but not logged, past the caps (caller undefined: all callers). */
  overflow(caller: string | undefined, count: number, windowMs: number): void;
}

/** Distinct (caller, verb, noun) keys logged per window. */
export const MAX_KEYS = 256;
/** Distinct keys logged per caller per window: one caller cannot use up the others' share. */
export const MAX_KEYS_PER_CALLER = 16;
/** Callers whose overflow is counted by name per window; the rest count together. */
export const MAX_CALLERS = 64;

interface KeyState {
  readonly entry: RefusalEntry;
  repeats: number;
}

/** See the module's description. */
export class RefusalLog<D> {
  readonly #windowMs: number;
  readonly #sink: RefusalLogSink<D>;
  readonly #keys = new Map<string, KeyState>();
  readonly #keysPerCaller = new Map<string, number>();
  readonly #overflowByCaller = new Map<string, number>();
  #overflowOthers = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(windowMs: number, sink: RefusalLogSink<D>) {
    this.#windowMs = windowMs;
    this.#sink = sink;
  }

  /** One refusal: logged (with `detail`) if it is its key's first in this window, else counted. */
  refused(caller: string, verb: string, noun: string, detail: D): void {
    if (this.#timer === undefined) {
      // A window starts with its first refusal; a quiet node has no timer.
      this.#timer = setTimeout(() => this.flush(), this.#windowMs);
      this.#timer.unref();
    }
    const key = `${caller}\0${verb}\0${noun}`;
    const known = this.#keys.get(key);
    if (known !== undefined) {
      known.repeats++;
      return;
    }
    const callerKeys = this.#keysPerCaller.get(caller) ?? 0;
    if (this.#keys.size < MAX_KEYS && callerKeys < MAX_KEYS_PER_CALLER) {
      const entry = { caller, verb, noun };
      this.#keys.set(key, { entry, repeats: 0 });
      this.#keysPerCaller.set(caller, callerKeys + 1);
      this.#sink.first(entry, detail);
      return;
    }
    const overflow = this.#overflowByCaller.get(caller);
    if (overflow !== undefined) this.#overflowByCaller.set(caller, overflow + 1);
    else if (this.#overflowByCaller.size < MAX_CALLERS) this.#overflowByCaller.set(caller, 1);
    else this.#overflowOthers++;
  }

  /** Ends the window now: reports every count and forgets the keys. Also what close() does. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const state of this.#keys.values()) if (state.repeats > 0) this.#sink.repeated(state.entry, state.repeats, this.#windowMs);
    for (const [caller, count] of this.#overflowByCaller) this.#sink.overflow(caller, count, this.#windowMs);
    if (this.#overflowOthers > 0) this.#sink.overflow(undefined, this.#overflowOthers, this.#windowMs);
    this.#keys.clear();
    this.#keysPerCaller.clear();
    this.#overflowByCaller.clear();
    this.#overflowOthers = 0;
  }

  /** Reports what is pending and leaves no timer. */
  close(): void {
    this.flush();
  }
}
