import { ErrorCode, RestpipeError } from '../errors.js';
import { MAX_TIMER_MS } from './defaults.js';

/**
 * The checks every option goes through, library and CLI alike: the CLI parses a flag's text into
 * the library's unit and hands it to the same resolvers, which name it the way the user wrote it
 * (see {@link OptionNaming}). Nothing else in restpipe clamps a timer or bounds a count.
 */

/**
 * How an option is named in an error message: a library caller sees its key and milliseconds
 * (`heartbeatTimeoutMs (2000)`), a CLI user the flag and seconds (`--heartbeat-timeout (2 s)`).
 */
export interface OptionNaming {
  /** The option as the user wrote it: its key, a flag, an environment variable, a config key. */
  name(key: string): string;
  /** A duration in ms as the user gave it: `5000`, or `5 s`. */
  duration(ms: number): string;
  /** The unit of durations the user gives, for messages: `milliseconds` or `seconds`. */
  readonly durationUnit: string;
  /** How the user turns a switch on: `set allowNonLoopback: true`, or `add --http-allow-remote`. */
  turnOn(key: string): string;
}

/** Library callers: option keys and milliseconds. */
export const KEY_NAMING: OptionNaming = {
  name: (key) => key,
  duration: (ms) => String(ms),
  durationUnit: 'milliseconds',
  turnOn: (key) => `set ${key}: true`,
};

/** An `invalid_option` error (the CLI prints its message as one line and exits 2). */
export function invalidOption(message: string): RestpipeError {
  return new RestpipeError(ErrorCode.INVALID_OPTION, message);
}

/**
 * A delay as a timer can hold it: whole milliseconds, at least 1, at most {@link MAX_TIMER_MS}
 * (Node fires a longer one at once). The one clamp every user-given timeout goes through
 * (options, `X-Event-Timeout`, a send()'s `timeoutMs`).
 */
export function clampTimerMs(ms: number): number {
  return Math.min(Math.max(1, Math.ceil(ms)), MAX_TIMER_MS);
}

/** True for a duration a timer can be given: a finite number above zero. */
export function isPositiveDuration(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value > 0;
}

/**
 * A duration in ms: finite, not negative (zero only with `allowZero`, where it means "do not
 * wait"), clamped by {@link clampTimerMs}. `undefined` gives `fallback`.
 * @throws RestpipeError `invalid_option` naming the option.
 */
export function durationOption(
  key: string,
  value: number | undefined,
  fallback: number,
  { allowZero = false, naming = KEY_NAMING }: { allowZero?: boolean; naming?: OptionNaming } = {},
): number {
  if (value === undefined) return fallback;
  if (allowZero && value === 0) return 0;
  if (!isPositiveDuration(value)) {
    const got = typeof value === 'number' && Number.isFinite(value) ? naming.duration(value) : String(value);
    throw invalidOption(`${naming.name(key)}: expected a ${allowZero ? 'non-negative' : 'positive'} number of ${naming.durationUnit}, got ${got}`);
  }
  return clampTimerMs(value);
}

/**
 * A whole count in [min, max]; `undefined` gives `fallback`.
 * @throws RestpipeError `invalid_option` naming the option and the range.
 */
export function countOption(
  key: string,
  value: number | undefined,
  fallback: number,
  { min = 0, max, naming = KEY_NAMING }: { min?: number; max: number; naming?: OptionNaming },
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(`${naming.name(key)}: expected a whole number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** A switch: true or false; `undefined` gives `fallback`. @throws RestpipeError `invalid_option`. */
export function booleanOption(key: string, value: boolean | undefined, fallback: boolean, naming: OptionNaming = KEY_NAMING): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalidOption(`${naming.name(key)}: expected true or false, got ${JSON.stringify(value)}`);
  return value;
}

/** A non-empty string (a path, a name); `undefined` stays undefined. @throws RestpipeError `invalid_option`. */
export function optionalStringOption(key: string, value: string | undefined, naming: OptionNaming = KEY_NAMING): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.trim() === '') throw invalidOption(`${naming.name(key)}: expected a non-empty string, got ${JSON.stringify(value)}`);
  return value;
}

/** A list of non-empty strings, trimmed; `undefined` gives []. @throws RestpipeError `invalid_option`. */
export function stringListOption(key: string, value: readonly string[] | undefined, naming: OptionNaming = KEY_NAMING): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.trim() === '')) {
    throw invalidOption(`${naming.name(key)}: expected a list of non-empty strings`);
  }
  return value.map((v) => v.trim());
}

/** `a` must be greater than `b` (strictly, or not below it with `orEqual`). @throws RestpipeError `invalid_option`. */
export function requireOrder(
  a: { key: string; ms: number },
  b: { key: string; ms: number },
  naming: OptionNaming,
  { orEqual = false }: { orEqual?: boolean } = {},
): void {
  if (orEqual ? a.ms >= b.ms : a.ms > b.ms) return;
  throw invalidOption(
    `${naming.name(a.key)} (${naming.duration(a.ms)}) must ${orEqual ? 'not be below' : 'be greater than'} ${naming.name(b.key)} (${naming.duration(b.ms)})`,
  );
}
