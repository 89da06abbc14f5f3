// Time bounds for tests on a busy machine (2 cores shared with other test runs and other
// engineers' work): a test's "within" bound is the configured timers it waits for, plus one
// heartbeat tick where a tick decides, plus this margin; never a bare number of milliseconds.

/**
 * What a loaded machine may add beyond a configured timer (scheduling, GC, TLS on a busy CPU).
 * RP_TEST_MARGIN_MS overrides it (a slower CI machine).
 */
export const MARGIN_MS = Number(process.env['RP_TEST_MARGIN_MS'] ?? 1_000);

/** The heartbeat's tick for these timings, as src/pipe/heartbeat.ts computes it. */
export function heartbeatTick(timing: { heartbeatIntervalMs: number; heartbeatTimeoutMs: number }): number {
  return Math.max(5, Math.min(timing.heartbeatIntervalMs, Math.floor(timing.heartbeatTimeoutMs / 4)));
}

/** "Within": the timers waited for, plus `tickMs` (0 when no tick decides), plus the margin. */
export function within(timersMs: number, tickMs = 0): number {
  return timersMs + tickMs + MARGIN_MS;
}

/** "Without waiting for" a timer of `timerMs`: clearly below it (it must be longer than the margin). */
export function clearlyBefore(timerMs: number): number {
  if (timerMs <= 2 * MARGIN_MS) throw new Error(`a timer of ${timerMs} ms is too short to tell from the margin (${MARGIN_MS} ms)`);
  return timerMs - MARGIN_MS;
}
