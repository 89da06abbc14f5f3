// 10,000 aborted streams (issue 11): a reply body abandoned by its reader after its first
// chunk, an upload given up by its caller mid-body, a reply stream that fails mid-way and a
// handler that throws while reading its body, both ways through one pipe. Afterwards heap
// (after GC), library timers, active handles, the in-flight tables and the socket queues are
// back where they started; every abandoned handler saw its signal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { Readable } from 'node:stream';

import { reply, streaming, type HandlerContext, type RestpipeClient, type RestpipeServer } from 'restpipe';
import { startTestBed, type TestBed } from '../helpers/nodes.js';
import { activeResources, trackLibraryTimers, waitUntil } from '../helpers/wait.js';

const timers = trackLibraryTimers();

const STREAMS = 10_000;
const WINDOW = 32;
const HEAP_BOUND_MIB = 8;
const KiB = 1024;
const gc = (globalThis as { gc?: () => void }).gc;
/** Handlers that watch their signal: started, and signalled. */
let started = 0;
let signalled = 0;

function handlers(): Record<string, unknown> {
  const endless = (ctx: HandlerContext): Readable => {
    started++;
    ctx.signal.addEventListener('abort', () => signalled++, { once: true });
    return new Readable({
      read() {
        this.push(Buffer.alloc(16 * KiB, 1));
      },
    });
  };
  return {
    get_endless: endless,
    // Reads its body for ever (the caller gives up mid-upload).
    post_drain: streaming(async (ctx: HandlerContext) => {
      started++;
      ctx.signal.addEventListener('abort', () => signalled++, { once: true });
      for await (const _c of ctx.body) {
        // keep reading
      }
      return 'whole';
    }),
    // A reply that fails after 256 KiB.
    get_breaks: () => {
      let sent = 0;
      return reply({
        length: 1024 * KiB,
        data: new Readable({
          read() {
            if (sent >= 256 * KiB) this.destroy(new Error('broken source'));
            else {
              sent += 64 * KiB;
              this.push(Buffer.alloc(64 * KiB, 2));
            }
          },
        }),
      });
    },
    // Throws after its first chunk of body.
    post_throws: streaming(async (ctx: HandlerContext) => {
      for await (const _c of ctx.body) throw new Error('handler gave up');
      return 'empty';
    }),
  };
}

let bed: TestBed;
let server: RestpipeServer;
let client: RestpipeClient;
before(async () => {
  bed = await startTestBed();
  ({ server, client } = await bed.pair({ handlers: handlers(), heartbeatIntervalMs: 1_000, heartbeatTimeoutMs: 5_000 }));
});
after(async () => {
  await bed?.close();
  timers.disable();
});

function endlessSource(): Readable {
  return new Readable({
    read() {
      this.push(Buffer.alloc(16 * KiB, 3));
    },
  });
}

/** One aborted stream of kind i % 4, sent one way or the other; resolves with what happened. */
async function abortOne(i: number): Promise<string> {
  const send: RestpipeClient['send'] = i % 2 === 0 ? (e, o) => client.send(e, o) : (e, o) => server.send('client1', e, o);
  switch (i % 4) {
    case 0:
    case 1: {
      const r = await send({ verb: 'get', noun: 'endless' }, { stream: true });
      for await (const _c of r.body!) break; // the reader leaves after its first chunk
      return 'reader left';
    }
    case 2: {
      // Up half the time, down the other: a caller that gives up mid-upload, a reply that breaks.
      if (i % 8 === 2) {
        const ac = new AbortController();
        const sending = send({ verb: 'post', noun: 'drain', data: endlessSource() }, { signal: ac.signal });
        setTimeout(() => ac.abort(), 2);
        return sending.then(() => 'whole?', (e: Error & { code?: string }) => e.code ?? 'error');
      }
      const r = await send({ verb: 'get', noun: 'breaks' }, { stream: true });
      return new Promise((resolve) => {
        r.body!.on('error', (e: Error & { code?: string }) => resolve(e.code ?? 'error'));
        r.body!.on('end', () => resolve('clean end?'));
        r.body!.resume();
      });
    }
    default: {
      const r = await send({ verb: 'post', noun: 'throws', data: endlessSource() });
      return `code ${r.code}`;
    }
  }
}

async function run(count: number): Promise<Record<string, number>> {
  const outcomes: Record<string, number> = {};
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const key = await abortOne(next++).catch((e: Error & { code?: string }) => `threw ${e.code ?? e.message}`);
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, worker));
  return outcomes;
}

async function settled(): Promise<{ heapMiB: number }> {
  await waitUntil(() => {
    const pipe = client.pipe();
    const far = server.client('client1');
    return pipe !== undefined && far !== undefined && pipe.inFlight.outbound + pipe.inFlight.inbound + far.inFlight.outbound + far.inFlight.inbound === 0 && pipe.queuedBytes.socket + far.queuedBytes.socket === 0;
  }, 10_000, 'both ends settled');
  for (let i = 0; i < 4; i++) {
    gc!();
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { heapMiB: process.memoryUsage().heapUsed / 2 ** 20 };
}

test(`${STREAMS} aborted streams: heap, timers, handles and tables back to where they started`, { timeout: 170_000 }, async (t) => {
  assert.ok(gc !== undefined, 'run with --expose-gc (scripts/run-tests.mjs does)');
  setMaxListeners(0);
  await run(400);
  const before = await settled();
  const timersBefore = timers.live();
  const resourcesBefore = activeResources();
  started = 0;
  signalled = 0;

  const t0 = performance.now();
  const outcomes = await run(STREAMS);
  const seconds = (performance.now() - t0) / 1000;
  const afterMem = await settled();
  // What the last writes scheduled (a turn of the writer, a socket's drain) runs out.
  await waitUntil(() => JSON.stringify(activeResources()) === JSON.stringify(resourcesBefore), 2_000, 'handles back').catch(() => undefined);
  const resourcesAfter = activeResources();
  const timersAfter = timers.live();
  t.diagnostic(`stream leak figures: ${JSON.stringify({ streams: STREAMS, seconds: Number(seconds.toFixed(1)), outcomes, started, signalled, heapMiB: { before: before.heapMiB.toFixed(1), after: afterMem.heapMiB.toFixed(1) }, resourcesBefore, resourcesAfter, timers: { before: timersBefore.length, after: timersAfter.length } })}`);

  const expected = { 'reader left': STREAMS / 2, stream_reset: STREAMS / 8, aborted: STREAMS / 8, 'code 251': STREAMS / 4 };
  assert.deepEqual(outcomes, expected);
  // Every endless reply and every drained upload that started saw its caller leave (an upload
  // given up before its head arrived is never started: SPEC §9).
  assert.equal(signalled, started);
  assert.ok(started >= STREAMS / 2 + STREAMS / 8 - 50, `${started} of ${STREAMS / 2 + STREAMS / 8} handlers started`);
  assert.ok(afterMem.heapMiB - before.heapMiB < HEAP_BOUND_MIB, `heap ${before.heapMiB.toFixed(1)} → ${afterMem.heapMiB.toFixed(1)} MiB`);
  assert.deepEqual(timersAfter, timersBefore, 'no library timer left');
  assert.deepEqual(resourcesAfter, resourcesBefore, 'no handle left');
  for (const [who, p] of [['client', client.pipe()!], ['server', server.client('client1')!]] as const) {
    assert.deepEqual(p.inFlight, { outbound: 0, inbound: 0 }, `${who}: nothing in flight`);
  }
});
