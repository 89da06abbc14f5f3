import {
  DEFAULT_CONNECT_WAIT_MS,
  DEFAULT_EVENT_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_HELLO_TIMEOUT_MS,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_MAX_INFLIGHT,
  DEFAULT_MAX_INLINE_INFLIGHT_BYTES,
  DEFAULT_MAX_QUEUED_BYTES,
  DEFAULT_MAX_STREAM_WINDOW_BYTES,
  DEFAULT_PIPE_WINDOW_BYTES,
  DEFAULT_STREAM_WINDOW_BYTES,
} from './defaults.js';
import { KEY_NAMING, countOption, durationOption, invalidOption, requireOrder, type OptionNaming } from './validate.js';

/** The largest body a node may buffer (the u32 frame length of v1 less room for metadata; kept as the limit). */
export const MAX_BODY_BYTES_LIMIT = 0xffff_ffff - 2 ** 20;

/** The largest flow-control window (HTTP/2's 2^31−1). */
const MAX_WINDOW = 2 ** 31 - 1;

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
  /**
   * Largest body this node buffers: a request body for a handler that takes it whole (over it:
   * return code 252, HTTP 413) and a reply body for `send()` without `stream: true`. Streamed
   * bodies have no limit. @default 67108864 (64 MiB)
   */
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
  /** The receive window each body stream starts with, bytes (1 KiB to 2^31−1). @default 262144 (256 KiB) */
  streamWindowBytes?: number;
  /** The largest a stream's receive window grows to, bytes (at least streamWindowBytes). @default 16 MiB */
  maxStreamWindowBytes?: number;
  /**
   * The receive window of the whole pipe, bytes (at least streamWindowBytes): the most unread body
   * bytes this node holds per pipe. @default 32 MiB
   */
  pipeWindowBytes?: number;
  /** The inline body bytes of the peer's events in flight at once this node takes per pipe. @default 8 MiB */
  maxInlineInflightBytes?: number;
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
    streamWindowBytes: countOption('streamWindowBytes', o.streamWindowBytes, DEFAULT_STREAM_WINDOW_BYTES, { min: 1024, max: MAX_WINDOW, naming }),
    maxStreamWindowBytes: countOption('maxStreamWindowBytes', o.maxStreamWindowBytes, DEFAULT_MAX_STREAM_WINDOW_BYTES, { min: 1024, max: MAX_WINDOW, naming }),
    pipeWindowBytes: countOption('pipeWindowBytes', o.pipeWindowBytes, DEFAULT_PIPE_WINDOW_BYTES, { min: 1024, max: MAX_WINDOW, naming }),
    maxInlineInflightBytes: countOption('maxInlineInflightBytes', o.maxInlineInflightBytes, DEFAULT_MAX_INLINE_INFLIGHT_BYTES, { min: 0, max: MAX_WINDOW, naming }),
  };
  // A window that cannot grow is fine; one that starts above its maximum, or a pipe window below
  // one stream's, is a mistake.
  if (o.maxStreamWindowBytes === undefined) r.maxStreamWindowBytes = Math.max(r.maxStreamWindowBytes, r.streamWindowBytes);
  if (o.pipeWindowBytes === undefined) r.pipeWindowBytes = Math.max(r.pipeWindowBytes, r.streamWindowBytes);
  if (r.maxStreamWindowBytes < r.streamWindowBytes) throw invalidOption(`${naming.name('maxStreamWindowBytes')} (${r.maxStreamWindowBytes}) must not be below ${naming.name('streamWindowBytes')} (${r.streamWindowBytes})`);
  if (r.pipeWindowBytes < r.streamWindowBytes) throw invalidOption(`${naming.name('pipeWindowBytes')} (${r.pipeWindowBytes}) must not be below ${naming.name('streamWindowBytes')} (${r.streamWindowBytes})`);
  requireOrder({ key: 'heartbeatTimeoutMs', ms: r.heartbeatTimeoutMs }, { key: 'heartbeatIntervalMs', ms: r.heartbeatIntervalMs }, naming);
  return r;
}
