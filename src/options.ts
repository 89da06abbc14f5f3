import { ErrorCode, RestpipeError } from './errors.js';

/** Defaults of every timing and limit, named once (SPEC §3 gives the user-visible ones in seconds). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000;
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 10_000;
export const DEFAULT_CONNECT_WAIT_MS = 20_000;
export const DEFAULT_EVENT_TIMEOUT_MS = 60_000;
export const DEFAULT_RECONNECT_MIN_MS = 500;
export const DEFAULT_RECONNECT_MAX_MS = 30_000;
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024;
/**
 * Node has no connect timeout of its own: a black-holed SYN waits ~127 s. 3 s, because Linux
 * resends an unanswered SYN only after doubling delays (1 s, 2 s, 4 s, …): after a partition
 * heals, a dial cut off at 3 s and made again with a fresh SYN connects sooner than one left to
 * wait for the kernel's next retransmit (SPEC §6, issue 14).
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3_000;
/** Node's tls.Server default is 120 s; a stalled handshake must hold nothing that long. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
/** How long close() lets in-flight events finish before destroying the pipe. */
export const DEFAULT_GRACE_MS = 10_000;
/** Events in flight per pipe and direction before send() fails with too_many_in_flight. */
export const DEFAULT_MAX_INFLIGHT = 4_096;
/** The server's idle hook fires this often while no client is connected (the original's 60 s). */
export const DEFAULT_IDLE_HOOK_INTERVAL_MS = 60_000;
/** Outbound bytes queued on a pipe before senders wait for the socket to drain. */
export const DEFAULT_MAX_QUEUED_BYTES = 8 * 1024 * 1024;
export const DEFAULT_SERVER_PORT = 1234;
/** setTimeout's ceiling; longer user-given timeouts are clamped to it. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Options shared by both roles' pipes. Every key is optional; each has the default above. */
export interface PipeTimingOptions {
  /** @default 5000 */
  heartbeatIntervalMs?: number;
  /** A peer silent this long is dead. @default 10000 */
  heartbeatTimeoutMs?: number;
  /** How long send() waits for a missing pipe. @default 20000 */
  connectWaitMs?: number;
  /** How long send() waits for a reply. @default 60000 */
  eventTimeoutMs?: number;
  /** Largest event body, request or reply. @default 67108864 (64 MiB) */
  maxBodyBytes?: number;
  /** How long each side waits for the other's hello. @default 10000 */
  helloTimeoutMs?: number;
  /** Events in flight per pipe (each direction counted separately). @default 4096 */
  maxInflight?: number;
  /**
   * Outbound bytes a pipe holds in its socket before events wait in its queue, and again the
   * most that queue holds before new events are refused (too_many_in_flight, HTTP 503).
   * @default 8 MiB
   */
  maxQueuedBytes?: number;
}

export interface ResolvedPipeTiming {
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  connectWaitMs: number;
  eventTimeoutMs: number;
  maxBodyBytes: number;
  helloTimeoutMs: number;
  maxInflight: number;
  maxQueuedBytes: number;
}

export function resolvePipeTiming(o: PipeTimingOptions): ResolvedPipeTiming {
  const r: ResolvedPipeTiming = {
    heartbeatIntervalMs: durationOption('heartbeatIntervalMs', o.heartbeatIntervalMs, DEFAULT_HEARTBEAT_INTERVAL_MS),
    heartbeatTimeoutMs: durationOption('heartbeatTimeoutMs', o.heartbeatTimeoutMs, DEFAULT_HEARTBEAT_TIMEOUT_MS),
    connectWaitMs: durationOption('connectWaitMs', o.connectWaitMs, DEFAULT_CONNECT_WAIT_MS, { allowZero: true }),
    eventTimeoutMs: durationOption('eventTimeoutMs', o.eventTimeoutMs, DEFAULT_EVENT_TIMEOUT_MS),
    maxBodyBytes: countOption('maxBodyBytes', o.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 0xffff_ffff - 2 ** 20),
    helloTimeoutMs: durationOption('helloTimeoutMs', o.helloTimeoutMs, DEFAULT_HELLO_TIMEOUT_MS),
    maxInflight: countOption('maxInflight', o.maxInflight, DEFAULT_MAX_INFLIGHT, 1_000_000, 1),
    maxQueuedBytes: countOption('maxQueuedBytes', o.maxQueuedBytes, DEFAULT_MAX_QUEUED_BYTES, 2 ** 40, 1),
  };
  if (r.heartbeatTimeoutMs <= r.heartbeatIntervalMs) {
    throw invalidOption(
      `heartbeatTimeoutMs (${r.heartbeatTimeoutMs}) must be greater than heartbeatIntervalMs (${r.heartbeatIntervalMs})`,
    );
  }
  return r;
}

export function invalidOption(message: string): RestpipeError {
  return new RestpipeError(ErrorCode.INVALID_OPTION, message);
}

/** A duration in ms: finite, not negative (zero only where it means "do not wait"), clamped to a timer's range. */
export function durationOption(
  name: string,
  value: number | undefined,
  fallback: number,
  { allowZero = false }: { allowZero?: boolean } = {},
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (value === 0 && !allowZero)) {
    throw invalidOption(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} number of milliseconds, got ${String(value)}`);
  }
  return Math.min(Math.ceil(value), MAX_TIMER_MS);
}

/** A whole count in [min, max]. */
export function countOption(name: string, value: number | undefined, fallback: number, max: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(`${name} must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}
