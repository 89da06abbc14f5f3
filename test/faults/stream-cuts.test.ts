// Cuts and resets mid-stream (issue 11, SPEC §9), in both directions, through the fault proxy
// between a client node and the server node, with curl as the HTTP caller: a download cut or
// reset mid-body fails for curl (an error, never a complete-looking short body), an upload cut
// mid-body gets 502 (or a broken connection), the far handler's signal fires, no request runs
// twice, and the pipe comes back and serves.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { Readable } from 'node:stream';

import { streaming, type HandlerContext, type PostData } from 'restpipe';
import { curl, startCurl } from '../helpers/curl.js';
import { startFaultPair, type ExecutionTally, type FaultPair } from '../helpers/fault-nodes.js';
import { waitUntil } from '../helpers/wait.js';

const MiB = 1024 * 1024;
const TIMING = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1_000, connectWaitMs: 2_000, eventTimeoutMs: 3_000, reconnectMinMs: 50, reconnectMaxMs: 300 };
const probe = new EventEmitter();

function handlers(tally: ExecutionTally, node: 'server' | 'client'): Record<string, unknown> {
  const count = (id: string): void => void tally.set(id, (tally.get(id) ?? 0) + 1);
  const watch = (ctx: HandlerContext, id: string): void => {
    probe.emit('started', node, id);
    ctx.signal.addEventListener('abort', () => probe.emit('aborted', node, id, ctx.signal.reason));
  };
  return {
    get_time: () => ({ node }),
    // An endless download: 64 KiB chunks for as long as someone reads.
    get_endless: (ctx: HandlerContext, _pd: PostData, id: string) => {
      count(id);
      watch(ctx, id);
      return new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024, 0x65));
        },
      });
    },
    // An upload read to its end (or its break), counted.
    post_sink: streaming(async (ctx: HandlerContext, _pd: PostData, id: string) => {
      count(id);
      watch(ctx, id);
      let bytes = 0;
      for await (const c of ctx.body) {
        bytes += (c as Buffer).length;
        if (bytes >= MiB) probe.emit('uploading', node, id);
      }
      return { bytes };
    }),
  };
}

let pair: FaultPair;
before(async () => {
  pair = await startFaultPair(TIMING, {}, handlers);
});
after(async () => {
  await pair?.close();
});

const WAYS = [
  { name: 'client node → server', port: () => pair.clientHttp, prefix: '/server', far: 'server' as const, tally: () => pair.serverTally },
  { name: 'server node → client', port: () => pair.serverHttp, prefix: '/client/client1', far: 'client' as const, tally: () => pair.clientTally },
];

function aborted(node: string, id: string): Promise<unknown> {
  return new Promise((resolve) => {
    const on = (n: string, i: string, reason: unknown): void => {
      if (n !== node || i !== id) return;
      probe.off('aborted', on);
      resolve(reason);
    };
    probe.on('aborted', on);
  });
}

let seq = 0;
for (const way of WAYS) {
  describe(way.name, () => {
    for (const fault of ['cut', 'reset'] as const) {
      test(`a download ${fault} mid-body: curl fails, the far handler's signal fires, it ran once, the pipe comes back`, async () => {
        const id = `down-${fault}-${++seq}`;
        const signalled = aborted(way.far, id);
        const run = startCurl(`http://127.0.0.1:${way.port()}${way.prefix}/endless//${id}`);
        await waitUntil(() => run.received >= MiB, 10_000, 'the download is under way');
        pair.proxy[fault]();
        const r = await run.done;
        assert.notEqual(r.code, 0, `curl must report the broken body (got ${r.bytes} bytes, exit ${r.code})`);
        assert.match(r.stderr, /curl: \((18|56|92)\)/);
        await signalled;
        await pair.connected(10_000);
        const after = await curl(`http://127.0.0.1:${way.port()}${way.prefix}/time`);
        assert.equal(after.status, 200, after.head);
        assert.equal(way.tally().get(id), 1, 'the handler ran exactly once');
      });

      test(`an upload ${fault} mid-body: the caller gets 502 or a broken connection, the far handler's signal fires, it ran once`, async () => {
        const id = `up-${fault}-${++seq}`;
        const signalled = aborted(way.far, id);
        const uploading = once(probe, 'uploading', { signal: AbortSignal.timeout(10_000) });
        let sent = 0;
        const body = new Readable({
          read() {
            sent += 64 * 1024;
            this.push(Buffer.alloc(64 * 1024, 0x75));
          },
        });
        const run = startCurl(`http://127.0.0.1:${way.port()}${way.prefix}/sink//${id}`, ['-X', 'POST'], body);
        await uploading;
        pair.proxy[fault]();
        const r = await run.done;
        assert.ok(r.status === 502 || r.code !== 0, `status ${r.status}, exit ${r.code}: ${r.head}`);
        if (r.status === 502) assert.match(r.head, /"pipe_broken"/);
        assert.ok(sent > MiB);
        await signalled;
        await pair.connected(10_000);
        assert.equal(way.tally().get(id), 1, 'the handler ran exactly once');
      });
    }
  });
}
