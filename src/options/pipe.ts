import {
  DEFAULT_CONNECT_WAIT_MS,
  DEFAULT_EVENT_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_HELLO_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_INFLIGHT,
  DEFAULT_MAX_QUEUED_BYTES,
} from './defaults.js';
import { KEY_NAMING, countOption, durationOption, requireOrder, type OptionNaming } from './validate.js';

/** The largest body a frame can carry: the u32 payload length less room for the event's metadata. */
export const MAX_BODY_BYTES_LIMIT = 0xffff_ffff - 2 ** 20;

/** Options shared by both roles' pipes. Every key is optional; each has the default shown. */
export interface PipeTimingOptions {
  /** @default 5000 */
  heartbeatIntervalMs?: number;
  /** A peer silent this long is dead; must be greater than the interval. @default 10000 */
  heartbeatTimeoutMs?: number;
  /** How long send() waits for a missing pipe; 0 = do not wait. @default 20000 */
  connectWaitMs?: number;
  /** How long send() waits for a reply. @default 60000 */
  eventTimeoutMs?: number;
  /** Largest event body, request or reply. @default 67108864 (64 MiB) */
  maxBodyBytes?: number;
  /** How long each side waits for the other's hello. @default 10000 */
  helloTimeoutMs?: number;
  /** Events in flight per pipe (each direction counted separately), 1 to 1,000,000. @default 4096 */
  maxInflight?: number;
  /**
   * Outbound bytes a pipe holds in its socket before events wait in its queue, and again the
   * most that queue holds before new events are refused (too_many_in_flight, HTTP 503).
   * @default 8 MiB
   */
  maxQueuedBytes?: number;
}

/** {@link PipeTimingOptions} with every default applied and every value checked. */
export type ResolvedPipeTiming = Required<PipeTimingOptions>;

/**
 * Checks a pipe's options and fills in the defaults.
 * @throws RestpipeError `invalid_option` naming the option (as `naming` says) and the problem.
 */
export function resolvePipeTiming(o: PipeTimingOptions, naming: OptionNaming = KEY_NAMING): ResolvedPipeTiming {
  const r: ResolvedPipeTiming = {
    heartbeatIntervalMs: durationOption('heartbeatIntervalMs', o.heartbeatIntervalMs, DEFAULT_HEARTBEAT_INTERVAL_MS, { naming }),
    heartbeatTimeoutMs: durationOption('heartbeatTimeoutMs', o.heartbeatTimeoutMs, DEFAULT_HEARTBEAT_TIMEOUT_MS, { naming }),
    connectWaitMs: durationOption('connectWaitMs', o.connectWaitMs, DEFAULT_CONNECT_WAIT_MS, { allowZero: true, naming }),
    eventTimeoutMs: durationOption('eventTimeoutMs', o.eventTimeoutMs, DEFAULT_EVENT_TIMEOUT_MS, { naming }),
    maxBodyBytes: countOption('maxBodyBytes', o.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, { max: MAX_BODY_BYTES_LIMIT, naming }),
    helloTimeoutMs: durationOption('helloTimeoutMs', o.helloTimeoutMs, DEFAULT_HELLO_TIMEOUT_MS, { naming }),
    maxInflight: countOption('maxInflight', o.maxInflight, DEFAULT_MAX_INFLIGHT, { min: 1, max: 1_000_000, naming }),
    maxQueuedBytes: countOption('maxQueuedBytes', o.maxQueuedBytes, DEFAULT_MAX_QUEUED_BYTES, { min: 1, max: 2 ** 40, naming }),
  };
  requireOrder({ key: 'heartbeatTimeoutMs', ms: r.heartbeatTimeoutMs }, { key: 'heartbeatIntervalMs', ms: r.heartbeatIntervalMs }, naming);
  return r;
}
