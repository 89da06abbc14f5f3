// 100 streams at once on one pipe plus small events (issue 11): all complete whole, none starves
// (the writer takes one chunk per stream in turn, so every stream has its first bytes long before
// any finishes), and small events keep answering meanwhile, both ways: 100 × 10 MiB, 1 GiB each
// way, through the library's send() (a few seconds; the gateways' own transfers are in
// gateway-streams.test.ts and the bench).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';

import { reply, type HandlerContext, type PostData, type RestpipeClient, type RestpipeServer, type StreamReply } from 'restpipe';
import { DIRECTIONS, sendWay, startTestBed, type TestBed } from '../helpers/nodes.js';

const STREAMS = 100;
const MiB = 1024 * 1024;
const BYTES = 10 * MiB;

function handlers(): Record<string, unknown> {
  return {
    get_time: () => ({ t: Date.now() }),
    get_bytes: (_ctx: HandlerContext, _pd: PostData, n: string, fill: string) => {
      let left = Number(n);
      const chunk = Buffer.alloc(64 * 1024, Number(fill));
      return reply({
        length: left,
        data: new Readable({
          read() {
            const k = Math.min(left, chunk.length);
            left -= k;
            this.push(k === 0 ? null : chunk.subarray(0, k));
          },
        }),
      });
    },
  };
}

let bed: TestBed;
let server: RestpipeServer;
let client: RestpipeClient;
before(async () => {
  bed = await startTestBed();
  ({ server, client } = await bed.pair({ handlers: handlers(), heartbeatIntervalMs: 500, heartbeatTimeoutMs: 5_000 }));
});
after(async () => {
  await bed?.close();
});

for (const dir of DIRECTIONS) {
  test(`${dir}: ${STREAMS} streams of ${BYTES / MiB} MiB at once complete whole, none starves, small events answer meanwhile`, { timeout: 120_000 }, async (t) => {
    const t0 = performance.now();
    const firstByteAt: number[] = [];
    const doneAt: number[] = [];
    const streams = Array.from({ length: STREAMS }, async (_, i) => {
      const r = (await sendWay({ server, client }, dir, { verb: 'get', noun: `bytes//${BYTES}/${i % 250}` }, { stream: true, timeoutMs: 30_000 })) as StreamReply;
      let bytes = 0;
      for await (const c of r.body) {
        const b = c as Buffer;
        if (bytes === 0) firstByteAt[i] = performance.now() - t0;
        assert.equal(b[0], i % 250, 'each stream carries its own bytes');
        bytes += b.length;
      }
      doneAt[i] = performance.now() - t0;
      return bytes;
    });
    let small = 0;
    let smallWorst = 0;
    let running = true;
    const smalls = (async () => {
      while (running) {
        const s0 = performance.now();
        const r = await sendWay({ server, client }, dir, { verb: 'get', noun: 'time' });
        assert.equal(r.code, 0);
        smallWorst = Math.max(smallWorst, performance.now() - s0);
        small++;
      }
    })();
    const sizes = await Promise.all(streams);
    running = false;
    await smalls;
    assert.deepEqual(new Set(sizes), new Set([BYTES]), 'every stream whole');
    const lastFirstByte = Math.max(...firstByteAt);
    const firstDone = Math.min(...doneAt);
    t.diagnostic(`${dir}: last stream's first byte at ${lastFirstByte.toFixed(0)} ms, first stream done at ${firstDone.toFixed(0)} ms, all done at ${Math.max(...doneAt).toFixed(0)} ms; ${small} small events, slowest ${smallWorst.toFixed(0)} ms`);
    assert.ok(lastFirstByte < firstDone, 'every stream had its first bytes before any stream finished: none waited for the others');
    assert.ok(small >= 10, `${small} small events answered during the streams`);
  });
}
