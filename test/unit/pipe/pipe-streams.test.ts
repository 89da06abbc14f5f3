import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ProtocolError } from '../../../src/errors.js';
import { PipeStreams } from '../../../src/pipe/pipe-streams.js';
import type { SendStream } from '../../../src/stream/send-stream.js';
import { FrameFlag } from '../../../src/wire/frame.js';
import { decodeWindowUpdate } from '../../../src/wire/messages.js';
import { waitUntil } from '../../helpers/wait.js';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * Two PipeStreams joined back to back in memory: each side's DATA and WINDOW_UPDATE frames reach
 * the other one turn of the event loop later, in order, as a socket would deliver them.
 */
function link(settings = { initialWindowBytes: 256 * KiB, maxWindowBytes: 16 * MiB, pipeWindowBytes: 32 * MiB }) {
  const stats = { dataFrames: 0, dataBytes: 0, updates: 0, pipeUpdates: 0, maxBuffered: 0 };
  const queues: { a: (() => void)[]; b: (() => void)[] } = { a: [], b: [] };
  let flushing = false;
  const schedule = (): void => {
    if (flushing) return;
    flushing = true;
    setImmediate(() => {
      flushing = false;
      for (const q of [queues.a, queues.b]) for (const f of q.splice(0)) f();
    });
  };
  const make = (self: 'a' | 'b'): PipeStreams => {
    const other = (): PipeStreams => (self === 'a' ? b : a);
    const toOther = (f: () => void): void => {
      queues[self === 'a' ? 'b' : 'a'].push(f);
      schedule();
    };
    return new PipeStreams(
      settings,
      { ...settings, maxChunkBytes: 64 * KiB },
      { headsBelowBytes: 256 * KiB, dataBelowBytes: 64 * KiB, maxQueuedHeadBytes: 8 * MiB },
      {
        socketQueuedBytes: 0,
        writeHead: () => undefined,
        writeData(stream: SendStream, chunk: Uint8Array, end: boolean, blocked: boolean) {
          stats.dataFrames++;
          stats.dataBytes += chunk.byteLength;
          const copy = Buffer.from(chunk);
          const flags = (stream.isReply ? FrameFlag.REPLY : 0) | (end ? FrameFlag.END_STREAM : 0) | (blocked ? FrameFlag.BLOCKED : 0);
          toOther(() => {
            other().onData(stream.id, flags, copy);
            stats.maxBuffered = Math.max(stats.maxBuffered, other().bufferedBytes);
          });
        },
      },
      {
        writeControl(parts) {
          const frame = Buffer.concat(parts);
          const id = frame.readUInt32BE(6);
          if (id === 0) stats.pipeUpdates++;
          else stats.updates++;
          toOther(() => other().onWindowUpdate(id, frame[1]!, decodeWindowUpdate(frame.subarray(10))));
        },
        progress: () => undefined,
      },
    );
  };
  const a = make('a');
  const b = make('b');
  return { a, b, stats };
}

/** `bytes` in 64 KiB chunks, as a file or the bench's blob gives them: the window's multiples. */
function alignedSource(bytes: number): Readable {
  let left = bytes;
  const chunk = Buffer.alloc(64 * KiB, 0x5a);
  return new Readable({
    read() {
      const n = Math.min(left, chunk.length);
      left -= n;
      this.push(n === 0 ? null : chunk.subarray(0, n));
    },
  });
}

function source(bytes: number, seed = 1): Readable {
  let left = bytes;
  let n = seed;
  return new Readable({
    read() {
      if (left === 0) {
        this.push(null);
        return;
      }
      const size = Math.min(left, 16 * KiB + (n % 50_000));
      left -= size;
      const chunk = Buffer.alloc(size);
      for (let i = 0; i < size; i += 4096) chunk[i] = (n = (n * 1103515245 + 12345) & 0x7fffffff) & 0xff;
      this.push(chunk);
    },
  });
}

function sha(): { sink: Writable; digest: () => string; bytes: () => number } {
  const h = createHash('sha256');
  let bytes = 0;
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      h.update(c);
      bytes += c.length;
      cb();
    },
  });
  return { sink, digest: () => h.digest('hex'), bytes: () => bytes };
}

async function digestOf(bytes: number, seed: number): Promise<string> {
  const d = sha();
  await pipeline(source(bytes, seed), d.sink);
  return d.digest();
}

describe('PipeStreams: two nodes back to back', () => {
  it('carries a body whole and in order, with credit batched, never past the window', async () => {
    const { a, b, stats } = link();
    const { body, stream } = a.openOutgoing(7, true, undefined, () => assert.fail('aborted'));
    const incoming = b.openIncoming(7, false, { onAbandoned: () => assert.fail('abandoned') });
    a.scheduler.attach(stream);
    const got = sha();
    await Promise.all([pipeline(source(5 * MiB, 3), body), pipeline(incoming, got.sink)]);
    assert.equal(got.bytes(), 5 * MiB);
    assert.equal(got.digest(), await digestOf(5 * MiB, 3));
    assert.ok(stats.updates < stats.dataFrames / 2, `${stats.updates} updates for ${stats.dataFrames} chunks: batched`);
    assert.ok(stats.maxBuffered <= 16 * MiB);
    assert.deepEqual([a.size, b.size], [{ incoming: 0, outgoing: 0 }, { incoming: 0, outgoing: 0 }], 'nothing left behind');
  });

  it('a reader that stops holds the sender at the stream window; it resumes when the reader does', async () => {
    const { a, b, stats } = link();
    const { body, stream } = a.openOutgoing(1, true, undefined, () => undefined);
    const incoming = b.openIncoming(1, false);
    a.scheduler.attach(stream);
    const sending = pipeline(source(4 * MiB), body);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(stats.dataBytes, 256 * KiB, 'exactly the initial window, and nothing more');
    assert.equal(b.bufferedBytes, 256 * KiB);
    const got = sha();
    await Promise.all([sending, pipeline(incoming, got.sink)]);
    assert.equal(got.bytes(), 4 * MiB);
  });

  it('a fast reader makes the window grow (the sender was starved), within the max', async () => {
    const { a, b, stats } = link();
    const { body, stream } = a.openOutgoing(1, true, undefined, () => undefined);
    const incoming = b.openIncoming(1, false);
    a.scheduler.attach(stream);
    const got = sha();
    await Promise.all([pipeline(source(64 * MiB), body), pipeline(incoming, got.sink)]);
    // With a 256 KiB window that never grew, 64 MiB take 512 updates; growth needs far fewer.
    assert.ok(stats.updates < 200, `${stats.updates} stream updates`);
  });

  it('grows the window for a source of 64 KiB chunks too (its credit runs out at a chunk boundary)', async () => {
    const { a, b, stats } = link();
    const { body, stream } = a.openOutgoing(1, true, undefined, () => undefined);
    const incoming = b.openIncoming(1, false);
    a.scheduler.attach(stream);
    const got = sha();
    await Promise.all([pipeline(alignedSource(64 * MiB), body), pipeline(incoming, got.sink)]);
    assert.equal(got.bytes(), 64 * MiB);
    assert.ok(stats.updates < 200, `${stats.updates} stream updates (512 with a window that never grew)`);
  });

  it('shares the pipe among many streams: every one completes, none starves', async () => {
    const { a, b } = link();
    const done: Promise<unknown>[] = [];
    const order: number[] = [];
    for (let i = 1; i <= 10; i++) {
      const { body, stream } = a.openOutgoing(i, true, undefined, () => undefined);
      const incoming = b.openIncoming(i, false);
      a.scheduler.attach(stream);
      const got = sha();
      done.push(pipeline(source(2 * MiB, i), body));
      done.push(pipeline(incoming, got.sink).then(() => order.push(i)));
    }
    await Promise.all(done);
    assert.equal(order.length, 10);
  });

  it('a reply body goes the other way with the reply flag (keys do not collide with the same id)', async () => {
    const { a, b } = link();
    // Event 5 sent by a (its request body a→b) and event 5 sent by b (whose reply body goes a→b too).
    const req = a.openOutgoing(5, true, undefined, () => undefined);
    const reqIn = b.openIncoming(5, false);
    const rep = a.openOutgoing(5, false, undefined, () => undefined);
    const repIn = b.openIncoming(5, true);
    a.scheduler.attach(req.stream);
    a.scheduler.attach(rep.stream);
    const g1 = sha();
    const g2 = sha();
    await Promise.all([pipeline(source(MiB, 1), req.body), pipeline(source(MiB, 2), rep.body), pipeline(reqIn, g1.sink), pipeline(repIn, g2.sink)]);
    assert.equal(g1.digest(), await digestOf(MiB, 1));
    assert.equal(g2.digest(), await digestOf(MiB, 2));
  });

  it('a reader that leaves gives its bytes back to the pipe; later DATA is dropped and counted', async () => {
    const { a, b } = link();
    const { body, stream } = a.openOutgoing(1, true, undefined, () => undefined);
    let abandoned = false;
    const incoming = b.openIncoming(1, false, { onAbandoned: () => (abandoned = true) });
    a.scheduler.attach(stream);
    void pipeline(source(MiB), body).catch(() => undefined);
    // The sender fills the reader's window (256 KiB) and stops there.
    await waitUntil(() => b.bufferedBytes === 256 * KiB, 5_000, 'the window filled');
    incoming.destroy();
    assert.equal(abandoned, true);
    assert.equal(b.bufferedBytes, 0, 'the unread bytes went back to the pipe window');
    assert.deepEqual(b.size, { incoming: 0, outgoing: 0 });
  });

  it('a reader that destroys the body from its data listener (a buffered handler over --max-body) breaks nothing', async () => {
    const { a, b } = link();
    const { body, stream } = a.openOutgoing(1, true, undefined, () => undefined);
    const incoming = b.openIncoming(1, false);
    a.scheduler.attach(stream);
    void pipeline(source(MiB), body).catch(() => undefined);
    let got = 0;
    // As collectBody does: the destroy happens inside the push that delivered the chunk.
    incoming.on('data', (c: Buffer) => {
      got += c.length;
      if (got > 100 * KiB) incoming.destroy();
    });
    await waitUntil(() => incoming.destroyed, 5_000, 'the reader left');
    assert.equal(b.bufferedBytes, 0, 'its bytes went back to the pipe window');
    assert.deepEqual(b.size, { incoming: 0, outgoing: 0 });
  });

  it('ending an event stops its outgoing body at once and fails its incoming one', async () => {
    const { a, b, stats } = link();
    const { body, stream } = a.openOutgoing(1, true, undefined, () => undefined);
    const incoming = b.openIncoming(1, false);
    a.scheduler.attach(stream);
    const sending = pipeline(source(4 * MiB), body);
    const reading = pipeline(incoming, new Writable({ write: (_c, _e, cb) => setTimeout(cb, 1) }));
    await new Promise((r) => setTimeout(r, 20));
    const boom = new Error('cancelled');
    a.end(1, true, boom);
    b.end(1, false, boom);
    const sentAtEnd = stats.dataBytes;
    await assert.rejects(reading, boom);
    body.destroy(boom);
    await assert.rejects(sending);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(stats.dataBytes, sentAtEnd, 'not a byte after the end');
    assert.ok(b.lateDataBytes >= 0);
  });

  it('DATA beyond the credit, past body_length, after the end, or short of body_length is a protocol error', () => {
    const { b } = link({ initialWindowBytes: 1024, maxWindowBytes: 1024, pipeWindowBytes: 64 * KiB });
    b.openIncoming(1, false);
    assert.throws(() => b.onData(1, 0, Buffer.alloc(1025)), (e: unknown) => e instanceof ProtocolError && /stream window/.test(e.reason));
    b.openIncoming(2, false, { declared: 10 });
    assert.throws(() => b.onData(2, 0, Buffer.alloc(11)), /ran to 11 bytes, its head said 10/);
    b.openIncoming(3, false, { declared: 10 });
    assert.throws(() => b.onData(3, FrameFlag.END_STREAM, Buffer.alloc(9)), /ended after 9 bytes, its head said 10/);
    b.openIncoming(4, false).resume();
    b.onData(4, FrameFlag.END_STREAM, Buffer.alloc(0));
    const { b: c } = link({ initialWindowBytes: 1024, maxWindowBytes: 1024, pipeWindowBytes: 4096 });
    for (let i = 1; i <= 4; i++) c.openIncoming(i, false);
    for (let i = 1; i <= 4; i++) c.onData(i, 0, Buffer.alloc(1024));
    assert.throws(() => c.onData(9, 0, Buffer.alloc(1)), (e: unknown) => e instanceof ProtocolError && /pipe window/.test(e.reason), 'even for an unknown stream');
  });

  it('a WINDOW_UPDATE of 0, or past the peer\'s window, is a protocol error; one for a finished body is ignored', () => {
    const { a } = link();
    assert.throws(() => a.onWindowUpdate(0, 0, 1), ProtocolError, 'the pipe credit is already at its window');
    assert.throws(() => a.onWindowUpdate(3, FrameFlag.REPLY, 0), ProtocolError);
    a.onWindowUpdate(3, FrameFlag.REPLY, 1000);
    const { stream } = a.openOutgoing(3, true, undefined, () => undefined);
    assert.throws(() => a.onWindowUpdate(3, FrameFlag.REPLY, 16 * MiB), ProtocolError);
    assert.equal(stream.window.credit, 256 * KiB);
  });
});
