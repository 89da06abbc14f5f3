// Bodies as streams through one real TLS pipe, both ways, with the library's API (SPEC §9): a
// request body given as a stream reaches a streaming handler as it arrives; a handler's stream
// reaches send({ stream: true }) as it is produced; buffered handlers and buffered replies keep
// working over the 64 KiB inline limit; an abnormal end is an error for the reader, never a clean
// end; a caller that gives up mid-stream fires the far handler's signal; and a body the reader
// abandons is stopped and leaves nothing in flight.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import { buffer as readAll } from 'node:stream/consumers';

import { hasErrorCode, reply, streaming, type HandlerContext, type PostData, type Reply, type RestpipeClient, type RestpipeServer, type StreamReply } from 'restpipe';
import { DIRECTIONS, sendWay, startTestBed, type Direction, type TestBed } from '../helpers/nodes.js';
import { waitUntil } from '../helpers/wait.js';

const MiB = 1024 * 1024;

/** `bytes` bytes of a known pattern, made as they are read (never whole in memory). */
function pattern(bytes: number, seed = 1): Readable {
  let left = bytes;
  let x = seed;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, 48 * 1024 + (x % 30_000));
      left -= n;
      const chunk = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) chunk[i] = (x = (x * 1103515245 + 12345) & 0x7fffffff) >>> 16;
      this.push(chunk);
    },
  });
}

async function sha256(stream: AsyncIterable<Buffer | Uint8Array>): Promise<{ hex: string; bytes: number }> {
  const h = createHash('sha256');
  let bytes = 0;
  for await (const c of stream) {
    h.update(c);
    bytes += c.byteLength;
  }
  return { hex: h.digest('hex'), bytes };
}

const events = new (class extends (await import('node:events')).EventEmitter {})();

function handlers(side: string): Record<string, unknown> {
  return {
    // The body as it arrives; the reply says what came.
    post_hash: streaming(async (ctx: HandlerContext) => ({ side, ...(await sha256(ctx.body)) })),
    // A generated body of N bytes, as a stream.
    get_pattern: (_c: HandlerContext, _p: PostData, bytes: string, seed = '1') => reply({ data: pattern(Number(bytes), Number(seed)), length: Number(bytes) }),
    // A buffered handler: the whole body as ever.
    post_length: (_c: HandlerContext, [, data]: PostData) => ({ length: (data as Buffer).length }),
    post_echo: (_c: HandlerContext, [mimetype, data]: PostData) => reply({ mimetype, data: data as Buffer }),
    // Echoes a streamed body as a streamed reply.
    post_pipe: streaming((ctx: HandlerContext) => reply({ data: ctx.body })),
    // A stream that fails after some bytes.
    get_breaks: () => {
      let sent = 0;
      return new Readable({
        read() {
          if (sent >= 3 * MiB) {
            this.destroy(new Error('the disk went away'));
            return;
          }
          sent += 256 * 1024;
          this.push(Buffer.alloc(256 * 1024, 7));
        },
      });
    },
    // A stream that never ends, and says when its caller left.
    get_endless: (ctx: HandlerContext) => {
      ctx.signal.addEventListener('abort', () => events.emit('aborted', side, ctx.signal.reason));
      return new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024, 1));
        },
      });
    },
    // A streaming handler that never reads its body nor answers until its signal fires.
    post_stall: streaming((ctx: HandlerContext) => {
      events.emit('stall-started', side);
      return new Promise((resolve) => ctx.signal.addEventListener('abort', () => (events.emit('aborted', side, ctx.signal.reason), resolve('late'))));
    }),
  };
}

let bed: TestBed;
let server: RestpipeServer;
let client: RestpipeClient;
/**
 * The digests the bodies must have, computed before any pipe exists: hashing 40 MiB blocks the
 * event loop for a while (the generator pushes synchronously), which would starve the pipes'
 * heartbeats (400 ms here) if they were open.
 */
const expected = new Map<string, { hex: string; bytes: number }>();
before(async () => {
  for (const [bytes, seed] of [[40 * MiB, 3], [40 * MiB, 5], [20 * MiB, 9]] as const) expected.set(`${bytes}/${seed}`, await sha256(pattern(bytes, seed)));
  bed = await startTestBed();
  let port: number;
  ({ server, port } = await bed.server({ handlers: handlers('server'), maxBodyBytes: 4 * MiB }));
  client = await bed.connectedClient(server, port, bed.pki.client1, { handlers: handlers('client1'), maxBodyBytes: 4 * MiB });
});
after(async () => {
  await bed?.close();
});

const send = (dir: Direction, ...args: Parameters<RestpipeClient['send']>): Promise<Reply> => sendWay({ server, client }, dir, ...args);
const json = (r: Reply): any => JSON.parse(Buffer.from(r.data).toString());

function inFlight(): unknown {
  return { server: server.client('client1')?.inFlight, client: client.pipe()?.inFlight };
}
const RESTING = JSON.stringify({ server: { outbound: 0, inbound: 0 }, client: { outbound: 0, inbound: 0 } });

for (const dir of DIRECTIONS) {
  describe(dir, () => {
    test('a 40 MiB request body given as a stream reaches a streaming handler whole', async () => {
      const r = await send(dir, { verb: 'post', noun: 'hash', data: pattern(40 * MiB, 3), length: 40 * MiB });
      assert.equal(r.code, 0, Buffer.from(r.data).toString());
      assert.deepEqual({ ...json(r), side: undefined }, { ...expected.get(`${40 * MiB}/3`), side: undefined });
    });

    test('a 40 MiB reply streams to send({ stream: true }) as it is made, with its length', async () => {
      const r = (await send(dir, { verb: 'get', noun: 'pattern//41943040/5' }, { stream: true })) as StreamReply;
      assert.equal(r.code, 0);
      assert.equal(r.length, 40 * MiB);
      assert.ok(r.body !== undefined);
      assert.deepEqual(await sha256(r.body), expected.get(`${40 * MiB}/5`));
      await waitUntil(() => JSON.stringify(inFlight()) === RESTING, 2_000, 'nothing left in flight');
    });

    test('over the inline limit, buffered handlers and buffered replies work as before (up to maxBodyBytes)', async () => {
      const body = Buffer.alloc(3 * MiB + 7, 9);
      const r = await send(dir, { verb: 'post', noun: 'echo', mimetype: 'application/octet-stream', data: body });
      assert.equal(r.code, 0);
      assert.ok(Buffer.from(r.data).equals(body));
      const big = await send(dir, { verb: 'get', noun: `pattern//${5 * MiB}` });
      assert.equal(big.code, 252, 'a reply over maxBodyBytes, asked for whole: 252 as in v1');
      assert.equal(json(big).error.code, 'body_too_large');
      const tooBig = await send(dir, { verb: 'post', noun: 'length', data: pattern(5 * MiB), length: 5 * MiB });
      assert.equal(tooBig.code, 252, 'a request body over the far side\'s --max-body for a buffered handler');
      await waitUntil(() => JSON.stringify(inFlight()) === RESTING, 2_000, 'nothing left in flight');
    });

    test('a stream echoed through a streaming handler comes back whole (both bodies stream at once)', async () => {
      const r = (await send(dir, { verb: 'post', noun: 'pipe', data: pattern(20 * MiB, 9) }, { stream: true })) as StreamReply;
      assert.deepEqual(await sha256(r.body), expected.get(`${20 * MiB}/9`));
    });

    test('a reply stream that fails mid-way is an error for the reader (stream_reset), never a clean end', async () => {
      const r = (await send(dir, { verb: 'get', noun: 'breaks' }, { stream: true })) as StreamReply;
      let ended = false;
      r.body.on('end', () => (ended = true));
      await assert.rejects(readAll(r.body), (err: unknown) => hasErrorCode(err, 'stream_reset') && /the disk went away/.test((err as Error).message));
      assert.equal(ended, false);
      // Buffered, the same failure rejects the send.
      await assert.rejects(send(dir, { verb: 'get', noun: 'breaks' }), (err: unknown) => hasErrorCode(err, 'stream_reset'));
      await waitUntil(() => JSON.stringify(inFlight()) === RESTING, 2_000, 'nothing left in flight');
    });

    test('a reader that abandons an endless reply stops it: the far handler\'s signal fires, nothing stays in flight', async () => {
      const aborted = once(events, 'aborted');
      const r = (await send(dir, { verb: 'get', noun: 'endless' }, { stream: true })) as StreamReply;
      let got = 0;
      for await (const c of r.body) {
        got += (c as Buffer).length;
        if (got > 2 * MiB) break; // leaves the loop: the stream is destroyed
      }
      const [, reason] = await aborted;
      assert.ok(hasErrorCode(reason, 'aborted'), String(reason));
      await waitUntil(() => JSON.stringify(inFlight()) === RESTING, 2_000, 'nothing left in flight');
    });

    test('a caller that gives up mid-upload: the far handler\'s signal fires, the upload stops', async () => {
      const ac = new AbortController();
      const started = once(events, 'stall-started');
      const aborted = once(events, 'aborted');
      let pulled = 0;
      const source = new Readable({
        read() {
          pulled += 64 * 1024;
          this.push(Buffer.alloc(64 * 1024));
        },
      });
      const sending = send(dir, { verb: 'post', noun: 'stall', data: source }, { signal: ac.signal });
      await started;
      await waitUntil(() => pulled > 256 * 1024, 2_000, 'the upload ran into the window');
      const pulledAtWindow = pulled;
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(pulled - pulledAtWindow <= 3 * 64 * 1024, `the source is held at the window (${pulled} then ${pulledAtWindow} bytes pulled)`);
      ac.abort();
      await assert.rejects(sending, (err: unknown) => hasErrorCode(err, 'aborted'));
      await aborted;
      assert.equal(source.destroyed, true, 'the source is let go');
      await waitUntil(() => JSON.stringify(inFlight()) === RESTING, 2_000, 'nothing left in flight');
    });
  });
}
