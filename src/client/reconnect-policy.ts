/**
 * How long a client waits before its next dial (SPEC §6): exponential backoff with full jitter,
 * between `minMs` and a cap that doubles with each consecutive failure up to `maxMs`.
 * `attempt` counts consecutive failures (1 after the first). Jitter matters most after a
 * server restart: thousands of clients must not all redial at the same instant.
 * Pure: the random source is injected so tests can pin it.
 */
export function reconnectDelayMs(attempt: number, minMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, minMs * 2 ** Math.min(Math.max(attempt, 1), 30));
  return Math.round(minMs + random() * Math.max(0, cap - minMs));
}
