// Issue 5 item 2 (RELIABILITY F8, "chaos-no-hang"): the fault proxy between a client node and the
// server node cuts every pipe connection (FIN or RST, at random) every 0.2–0.8 s for 20 s, while
// callers keep a steady load of requests going through both REST gateways (client → server and
// server → client).
//
// Proves, over real HTTP, real TLS and real sockets (the checks are in helpers/chaos.ts):
// - every request ends with exactly one response, its status one of 200, 502, 503, 504, and none
//   later than connect-wait + event-timeout (+ a stated margin for a loaded 2-core machine);
// - no event is executed twice (the handlers count executions per request id), and every 200
//   carries the reply of its own request;
// - service is back within a second of the faults stopping: every request started from then on
//   ends 200.
import { after, before, test } from 'node:test';

import { CHAOS_TIMING as TIMING, runChaos } from '../helpers/chaos.js';
import { startFaultPair, type FaultPair } from '../helpers/fault-nodes.js';

let pair: FaultPair | undefined;
before(async () => {
  pair = await startFaultPair(TIMING);
});
after(async () => {
  await pair?.close();
});

test('repeated cuts for 20 s under load both ways: one response each, allowed statuses, bounded time, no double execution, service back within 1 s', { timeout: 60_000 }, async (t) => {
  await runChaos(
    pair!,
    {
      timing: TIMING,
      chaosMs: 20_000,
      // Half the cuts close with FIN, half reset (RST): both must end in-flight events at once.
      injectFault: (p) => (Math.random() < 0.5 ? p.proxy.cut() : p.proxy.reset()),
      recoveryMs: 1_000,
      minFaults: 20,
    },
    (figures) => t.diagnostic(`chaos figures: ${JSON.stringify(figures)}`),
  );
});
