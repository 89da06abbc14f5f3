import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SendScheduler, type SchedulerSink } from '../../../src/stream/scheduler.js';
import { SendStream } from '../../../src/stream/send-stream.js';
import { SendWindow } from '../../../src/stream/window.js';

const KiB = 1024;
const CHUNK = 64 * KiB;

/** A socket stand-in: counts what is "in" it until drain() empties it, and logs every frame. */
class FakeSink implements SchedulerSink {
  socketQueuedBytes = 0;
  readonly log: string[] = [];
  writeHead(parts: readonly Uint8Array[]): void {
    const label = Buffer.from(parts[0]!).toString();
    this.log.push(`H:${label}`);
    this.socketQueuedBytes += parts.reduce((n, p) => n + p.byteLength, 0);
  }
  writeData(stream: SendStream, chunk: Uint8Array, end: boolean, blocked: boolean): void {
    this.log.push(`D${stream.isReply ? 'r' : ''}:${stream.id}:${chunk.byteLength}${end ? ':END' : ''}${blocked ? ':BLOCKED' : ''}`);
    this.socketQueuedBytes += chunk.byteLength;
  }
}

// The queue logic is tested with no per-turn bound (dataBytesPerTurn: Infinity); the bound has a test of its own.
function setup(limits: Partial<{ headsBelowBytes: number; dataBelowBytes: number; maxQueuedHeadBytes: number; dataBytesPerTurn: number }> = {}, pipeCredit = 32 * 1024 * KiB) {
  const sink = new FakeSink();
  const scheduler = new SendScheduler(
    sink,
    { headsBelowBytes: 256 * KiB, dataBelowBytes: CHUNK, maxChunkBytes: CHUNK, maxQueuedHeadBytes: 1024 * KiB, dataBytesPerTurn: Infinity, ...limits },
    new SendWindow(pipeCredit, 32 * 1024 * KiB),
  );
  const drain = (): void => {
    sink.socketQueuedBytes = 0;
    scheduler.pump();
  };
  /** Drains until nothing more is written. */
  const drainAll = (): void => {
    for (let i = 0; i < 10_000; i++) {
      const before = sink.log.length;
      drain();
      if (sink.log.length === before) return;
    }
    throw new Error('never settles');
  };
  return { sink, scheduler, drain, drainAll };
}

function stream(id: number, credit = 16 * 1024 * KiB, declared?: number): SendStream {
  return new SendStream(id, false, new SendWindow(credit, 16 * 1024 * KiB), declared);
}

function label(s: string): Uint8Array[] {
  return [Buffer.from(s)];
}

const noop = (): void => {};

describe('SendScheduler', () => {
  it('writes at most dataBytesPerTurn of DATA per turn of the event loop, then goes on in the next', async () => {
    const { sink, scheduler } = setup({ dataBelowBytes: Infinity, dataBytesPerTurn: 2 * CHUNK });
    const s = stream(1);
    scheduler.attach(s);
    for (let i = 0; i < 5; i++) s.offer(Buffer.alloc(CHUNK), noop);
    s.finish(noop);
    assert.equal(sink.log.length, 2, 'two chunks in this turn');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(sink.log.length, 4, 'two more in the next');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(sink.log.slice(4), ['D:1:65536:END']);
  });

  it('sends one chunk per stream in turn (round robin), never draining one stream first', () => {
    const { sink, scheduler, drainAll } = setup();
    const streams = [1, 2, 3].map((id) => stream(id));
    sink.socketQueuedBytes = CHUNK; // busy: nothing goes until it drains
    for (const s of streams) {
      scheduler.attach(s);
      for (let i = 0; i < 3; i++) s.offer(Buffer.alloc(CHUNK), noop);
      s.finish(noop);
    }
    drainAll();
    assert.deepEqual(sink.log, [
      'D:1:65536', 'D:2:65536', 'D:3:65536',
      'D:1:65536', 'D:2:65536', 'D:3:65536',
      'D:1:65536:END', 'D:2:65536:END', 'D:3:65536:END',
    ]);
  });

  it('writes DATA only while the socket holds less than about one chunk', () => {
    const { sink, scheduler, drain } = setup();
    const s = stream(1);
    scheduler.attach(s);
    for (let i = 0; i < 4; i++) s.offer(Buffer.alloc(CHUNK), noop);
    assert.equal(sink.log.length, 1, 'one chunk, then the socket is "full"');
    drain();
    assert.equal(sink.log.length, 2);
    sink.socketQueuedBytes = CHUNK - 1;
    scheduler.pump();
    assert.equal(sink.log.length, 3, 'below the mark: one more');
    scheduler.pump();
    assert.equal(sink.log.length, 3);
  });

  it('heads go before DATA, and a DATA frame never overtakes a queued head', () => {
    const { sink, scheduler, drainAll } = setup({ headsBelowBytes: 100 });
    const a = stream(1);
    scheduler.queueHead(label('head-1'), { sent: false, settled: false }, a);
    a.offer(Buffer.alloc(CHUNK), noop);
    sink.socketQueuedBytes = 1_000; // busy now
    const b = stream(2);
    scheduler.queueHead(label('head-2'), { sent: false, settled: false }, b);
    b.offer(Buffer.alloc(10), noop);
    a.offer(Buffer.alloc(10), noop);
    drainAll();
    assert.deepEqual(sink.log.slice(0, 3), ['H:head-1', 'D:1:65536', 'H:head-2']);
    assert.ok(sink.log.indexOf('D:2:10') > sink.log.indexOf('H:head-2'));
  });

  it('a queued head of a settled event is never written, and the queue is bounded', () => {
    const { sink, scheduler, drainAll } = setup({ maxQueuedHeadBytes: 20 });
    sink.socketQueuedBytes = 1024 * KiB;
    const settled = { sent: false, settled: false };
    scheduler.queueHead(label('0123456789'), settled);
    assert.ok(scheduler.hasRoomFor(10));
    scheduler.queueHead(label('abcdefghij'), { sent: false, settled: false });
    assert.equal(scheduler.hasRoomFor(10), false, 'full');
    settled.settled = true;
    assert.ok(scheduler.hasRoomFor(10), 'settled heads are pruned before refusing');
    drainAll();
    assert.deepEqual(sink.log, ['H:abcdefghij']);
    assert.equal(settled.sent, false);
  });

  it('a stream out of its own credit waits alone; its WINDOW_UPDATE wakes it', () => {
    const { sink, scheduler, drainAll } = setup();
    const slow = stream(1, 100 * KiB);
    const fast = stream(2);
    scheduler.attach(slow);
    scheduler.attach(fast);
    sink.socketQueuedBytes = CHUNK;
    slow.offer(Buffer.alloc(256 * KiB), noop);
    for (let i = 0; i < 3; i++) fast.offer(Buffer.alloc(CHUNK), noop);
    drainAll();
    assert.deepEqual(sink.log, ['D:1:65536', 'D:2:65536', 'D:1:36864:BLOCKED', 'D:2:65536', 'D:2:65536']);
    slow.window.grant(256 * KiB);
    scheduler.wake(slow);
    drainAll();
    assert.deepEqual(sink.log.slice(5), ['D:1:65536', 'D:1:65536', 'D:1:28672']);
    assert.equal(slow.pendingBytes, 0);
  });

  it('with the pipe out of credit every stream waits, in order; a bare end still goes', () => {
    const { sink, scheduler, drainAll } = setup({}, 100 * KiB);
    const a = stream(1);
    const b = stream(2);
    const ender = stream(3);
    scheduler.attach(a);
    scheduler.attach(b);
    scheduler.attach(ender);
    sink.socketQueuedBytes = CHUNK;
    a.offer(Buffer.alloc(CHUNK), noop);
    b.offer(Buffer.alloc(CHUNK), noop);
    drainAll();
    assert.deepEqual(sink.log, ['D:1:65536', 'D:2:36864']);
    assert.equal(scheduler.pipeCredit.credit, 0);
    ender.finish(noop);
    drainAll();
    assert.deepEqual(sink.log.slice(2), [], 'the ring stands still behind b, which waits for the pipe');
    scheduler.pipeCredit.grant(100 * KiB);
    drainAll();
    assert.deepEqual(sink.log.slice(2), ['D:2:28672', 'D:3:0:END']);
  });

  it('a detached (cancelled) stream sends nothing more, at once', () => {
    const { sink, scheduler, drainAll } = setup();
    const s = stream(1);
    scheduler.attach(s);
    sink.socketQueuedBytes = CHUNK;
    for (let i = 0; i < 10; i++) s.offer(Buffer.alloc(CHUNK), noop);
    drainAll();
    const sent = sink.log.length;
    assert.equal(sent, 10);
    const t = stream(2);
    scheduler.attach(t);
    sink.socketQueuedBytes = CHUNK;
    for (let i = 0; i < 10; i++) t.offer(Buffer.alloc(CHUNK), noop);
    sink.socketQueuedBytes = 0;
    scheduler.pump(); // one chunk of t
    t.abort();
    scheduler.detach(t);
    drainAll();
    assert.deepEqual(sink.log.slice(10), ['D:2:65536']);
    assert.equal(scheduler.readyStreams, 0);
  });

  it('calls a writer back only after its chunk reached the sink, so it may reuse the memory', () => {
    const { sink, scheduler, drainAll } = setup();
    const s = stream(1);
    scheduler.attach(s);
    sink.socketQueuedBytes = CHUNK;
    const events: string[] = [];
    s.offer(Buffer.alloc(100 * KiB), () => events.push(`done after ${sink.log.length} frames`));
    drainAll();
    assert.deepEqual(events, ['done after 2 frames']);
  });
});

describe('SendStream', () => {
  it('marks the last chunk END when the end is known before it goes, else sends a bare END', () => {
    const { sink, scheduler, drainAll } = setup();
    const s = stream(1);
    scheduler.attach(s);
    sink.socketQueuedBytes = CHUNK;
    s.offer(Buffer.alloc(10), noop);
    s.finish(noop);
    drainAll();
    const t = stream(2);
    scheduler.attach(t);
    t.offer(Buffer.alloc(10), noop);
    drainAll();
    t.finish(noop);
    drainAll();
    assert.deepEqual(sink.log, ['D:1:10:END', 'D:2:10', 'D:2:0:END']);
  });

  it('holds a body to its declared length: END on the chunk that completes it, errors past or short of it', () => {
    const { sink, scheduler, drainAll } = setup();
    const s = stream(1, 16 * 1024 * KiB, 20);
    scheduler.attach(s);
    sink.socketQueuedBytes = CHUNK;
    s.offer(Buffer.alloc(12), noop);
    s.offer(Buffer.alloc(8), noop);
    drainAll();
    assert.deepEqual(sink.log, ['D:1:12', 'D:1:8:END']);
    let finished: unknown = 'no';
    s.finish((err) => (finished = err));
    assert.equal(finished, undefined, 'finish after the last chunk: nothing more to send');
    let over: Error | null | undefined;
    const t = stream(2, 100, 5);
    t.offer(Buffer.alloc(6), (err) => (over = err));
    assert.match(String(over), /longer than its declared length of 5/);
    let short: Error | null | undefined;
    t.offer(Buffer.alloc(3), noop);
    t.finish((err) => (short = err));
    assert.match(String(short), /ended after 3 of its declared 5 bytes/);
  });
});
