// Beyond issue 5 item 2: the same chaos bar as chaos-cuts.test.ts, with a harsher mix of faults
// for 12 s: FIN cuts, RST resets, and black holes and stalls (the proxy stops reading) of
// 0.2–1.4 s, which the pipe can only detect through its heartbeats while requests keep coming.
// Same invariants (helpers/chaos.ts): one response each from {200, 502, 503, 504} within
// connect-wait + event-timeout, no event executed twice, service back within handshake-timeout +
// reconnect-max of the faults stopping.
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { CHAOS_TIMING as TIMING, runChaos } from '../helpers/chaos.js';
import { startFaultPair, type FaultPair } from '../helpers/fault-nodes.js';

let pair: FaultPair | undefined;
before(async () => {
  pair = await startFaultPair(TIMING);
});
after(async () => {
  await pair?.close();
});

test('12 s of cuts, resets, black holes and stalls under load both ways: one response each, allowed statuses, bounded time, no double execution, service back within handshake-timeout + reconnect-max', { timeout: 60_000 }, async (t) => {
  await runChaos(
    pair!,
    {
      timing: TIMING,
      chaosMs: 12_000,
      injectFault: async (p) => {
        const r = Math.random();
        if (r < 0.3) p.proxy.cut();
        else if (r < 0.5) p.proxy.reset();
        else {
          p.proxy.setMode(r < 0.75 ? 'blackhole' : 'pause');
          await sleep(200 + Math.random() * 1200);
          p.proxy.setMode('pass');
        }
      },
      // Unlike a cut, a black hole can leave a dial stuck in its TLS handshake (its ClientHello
      // was swallowed), so service may take handshake-timeout (1 s in startFaultPair) +
      // reconnect-max + margin to come back.
      recoveryMs: 1_000 + TIMING.reconnectMaxMs + 300,
      minFaults: 8,
    },
    (figures) => t.diagnostic(`mixed chaos figures: ${JSON.stringify(figures)}`),
  );
});
