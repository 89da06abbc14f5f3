import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { IncomingBody, OutgoingBody, type IncomingPort, type OutgoingPort } from '../../../src/stream/body-stream.js';
import { SendScheduler } from '../../../src/stream/scheduler.js';
import { SendStream } from '../../../src/stream/send-stream.js';
import { SendWindow } from '../../../src/stream/window.js';

class CountingPort implements IncomingPort {
  consumedBytes = 0;
  abandonedWith: Error | null | undefined;
  consumed(bytes: number): void {
    this.consumedBytes += bytes;
  }
  abandoned(err: Error | null): void {
    this.abandonedWith = err;
  }
}

const chunk = (n: number, fill = 1): Buffer => Buffer.alloc(n, fill);

describe('IncomingBody', () => {
  it('reports nothing while nobody reads, and what each read() takes', () => {
    const port = new CountingPort();
    const body = new IncomingBody(port);
    body.deliver(chunk(100));
    body.deliver(chunk(50));
    assert.equal(port.consumedBytes, 0, 'arrived is not read');
    const first = body.read(30) as Buffer;
    assert.equal(first.length, 30);
    assert.equal(port.consumedBytes, 30);
    assert.equal((body.read() as Buffer).length, 70, 'read() takes the rest of the oldest chunk');
    assert.equal(port.consumedBytes, 100);
    assert.equal((body.read() as Buffer).length, 50);
    assert.equal(port.consumedBytes, 150);
  });

  it('read() and async iteration hand out each chunk as it came, not copies joined', async () => {
    const port = new CountingPort();
    const body = new IncomingBody(port);
    const sent = [chunk(16_384, 1), chunk(16_384, 2), chunk(7, 3), chunk(40_000, 4)];
    for (const c of sent) body.deliver(c);
    body.finish();
    const got: Buffer[] = [];
    for await (const c of body) got.push(c as Buffer);
    assert.equal(got.length, sent.length);
    got.forEach((c, i) => assert.equal(c, sent[i], `chunk ${i} is the delivered buffer itself`));
    assert.equal(port.consumedBytes, 16_384 * 2 + 7 + 40_000);
  });

  it('any mix of deliveries, read(), read(n) and unshift gives every byte in order, and read() never waits on buffered bytes', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let trial = 0; trial < 20; trial++) {
      const port = new CountingPort();
      const body = new IncomingBody(port);
      const sent: Buffer[] = [];
      const got: Buffer[] = [];
      let next = 0;
      for (let step = 0; step < 200; step++) {
        const op = rand(4);
        if (op === 0) {
          const c = Buffer.alloc(1 + rand(5000));
          for (let i = 0; i < c.length; i++) c[i] = (next++ * 7) & 0xff;
          sent.push(c);
          body.deliver(c);
        } else if (op === 1 || (op === 3 && got.length === 0)) {
          const had = body.readableLength;
          const c = body.read() as Buffer | null;
          if (had > 0) assert.ok(c !== null && c.length > 0, `read() gave nothing with ${had} bytes buffered`);
          if (c !== null) got.push(c);
        } else if (op === 2 && body.readableLength > 0) {
          const c = body.read(1 + rand(body.readableLength)) as Buffer;
          got.push(c);
        } else if (op === 3) {
          const last = got.pop()!;
          const keep = rand(last.length);
          if (keep > 0) got.push(last.subarray(0, keep));
          body.unshift(last.subarray(keep));
        }
      }
      body.finish();
      for (let c = body.read() as Buffer | null; c !== null; c = body.read() as Buffer | null) got.push(c);
      assert.ok(Buffer.concat(got).equals(Buffer.concat(sent)), `trial ${trial}: the bytes, in order`);
    }
  });

  it('a paused read() never asks for more than is buffered (after unshift, and with an encoding)', () => {
    const port = new CountingPort();
    const body = new IncomingBody(port);
    body.deliver(chunk(10));
    body.deliver(chunk(10));
    const taken = body.read(4) as Buffer;
    body.unshift(taken.subarray(0, 2));
    let rest = 0;
    for (let c = body.read() as Buffer | null; c !== null; c = body.read() as Buffer | null) rest += c.length;
    assert.equal(rest, 6 + 2 + 10, 'every buffered byte comes out, none waits');
    assert.equal(port.consumedBytes, 20);
    const text = new IncomingBody(new CountingPort());
    text.setEncoding('utf8');
    text.deliver(Buffer.from('héllo '));
    text.deliver(Buffer.from('wörld'));
    assert.equal(text.read(), 'héllo wörld', 'with an encoding, read() joins as Readable does');
  });

  it('in flowing mode, a chunk handed straight to the listener counts as read', () => {
    const port = new CountingPort();
    const body = new IncomingBody(port);
    const seen: number[] = [];
    body.on('data', (c: Buffer) => seen.push(c.length));
    body.deliver(chunk(10)); // buffered: flowing starts on the next tick
    return new Promise<void>((resolve) => {
      setImmediate(() => {
        body.deliver(chunk(20)); // empty buffer, flowing: emitted inside push
        assert.deepEqual(seen, [10, 20]);
        assert.equal(port.consumedBytes, 30);
        resolve();
      });
    });
  });

  it('piped into a slow writer, counts only what the writer took', async () => {
    const port = new CountingPort();
    const body = new IncomingBody(port);
    let release!: () => void;
    const taken: number[] = [];
    const slow = new Writable({
      highWaterMark: 1,
      write(c: Buffer, _e, cb) {
        taken.push(c.length);
        release = () => cb();
      },
    });
    body.pipe(slow);
    for (let i = 0; i < 5; i++) body.deliver(chunk(1000));
    await new Promise((r) => setImmediate(r));
    assert.equal(taken.length, 1, 'the writer holds the first chunk');
    assert.equal(port.consumedBytes, 1000, 'only what left the body counts');
    release();
    await new Promise((r) => setImmediate(r));
    assert.equal(taken.length, 2);
    assert.equal(port.consumedBytes, 2000);
  });

  it('async iteration reads everything and ends cleanly at finish()', async () => {
    const port = new CountingPort();
    const body = new IncomingBody(port);
    body.deliver(chunk(7));
    setImmediate(() => {
      body.deliver(chunk(5));
      body.finish();
    });
    let total = 0;
    for await (const c of body) total += (c as Buffer).length;
    assert.equal(total, 12);
    assert.equal(port.consumedBytes, 12);
    assert.equal(body.isComplete, true);
    assert.equal(port.abandonedWith, undefined, 'a complete body is not abandoned');
  });

  it('an abnormal end is an error to every kind of reader, never a clean end', async () => {
    const port = new CountingPort();
    const body = new IncomingBody(port);
    body.deliver(chunk(3));
    const boom = new Error('pipe broke');
    setImmediate(() => body.fail(boom));
    let ended = false;
    body.on('end', () => (ended = true));
    await assert.rejects(async () => {
      for await (const _ of body) void _;
    }, boom);
    assert.equal(ended, false);
    assert.equal(port.abandonedWith, boom);
    // pipeline to a writer rejects too.
    const b2 = new IncomingBody(new CountingPort());
    setImmediate(() => b2.fail(boom));
    await assert.rejects(pipeline(b2, new PassThrough().resume()), boom);
  });

  it('a consumer that destroys it tells the pipe, and later chunks are ignored', () => {
    const port = new CountingPort();
    const body = new IncomingBody(port);
    body.deliver(chunk(10));
    body.destroy();
    assert.equal(port.abandonedWith, null);
    body.deliver(chunk(10));
    assert.equal(body.receivedBytes, 10);
  });
});

/** An outgoing port whose sends complete only when credit is released by the test. */
class GatedPort implements OutgoingPort {
  readonly offered: number[] = [];
  readonly waiting: (() => void)[] = [];
  finished = false;
  abortedWith: Error | null | undefined;
  offer(bytes: Uint8Array, done: (err?: Error | null) => void): void {
    this.offered.push(bytes.byteLength);
    this.waiting.push(() => done());
  }
  finish(done: (err?: Error | null) => void): void {
    this.finished = true;
    done();
  }
  abort(err: Error | null): void {
    this.abortedWith = err;
  }
  release(): void {
    for (const w of this.waiting.splice(0)) w();
  }
}

describe('OutgoingBody', () => {
  it('pauses the source while the pipe has no credit, and finishes after the last write', async () => {
    const port = new GatedPort();
    const body = new OutgoingBody(port, 16 * 1024);
    let pulled = 0;
    const source = new Readable({
      highWaterMark: 16 * 1024,
      read() {
        pulled++;
        this.push(pulled <= 50 ? Buffer.alloc(16 * 1024) : null);
      },
    });
    const done = pipeline(source, body);
    await new Promise((r) => setTimeout(r, 20));
    const pulledWhileBlocked = pulled;
    assert.ok(pulledWhileBlocked < 6, `the source was paused (pulled ${pulledWhileBlocked} of 50 chunks)`);
    while (!port.finished) {
      port.release();
      await new Promise((r) => setImmediate(r));
    }
    await done;
    assert.equal(port.offered.reduce((a, b) => a + b, 0), 50 * 16 * 1024);
    assert.equal(port.abortedWith, undefined);
  });

  it('a source that fails aborts the body (the pipe then tells the far side)', async () => {
    const port = new GatedPort();
    const body = new OutgoingBody(port);
    const boom = new Error('caller left');
    const source = new Readable({ read() {} });
    const done = pipeline(source, body);
    source.push(Buffer.alloc(10));
    await new Promise((r) => setImmediate(r));
    source.destroy(boom);
    await assert.rejects(done, boom);
    assert.equal(port.abortedWith, boom);
    assert.equal(port.finished, false);
  });

  it('through a SendStream and the scheduler, the bytes arrive whole and in order', async () => {
    const frames: Buffer[] = [];
    let ended = false;
    const sink = {
      socketQueuedBytes: 0,
      writeHead(): void {},
      writeData(_s: SendStream, c: Uint8Array, end: boolean): void {
        frames.push(Buffer.from(c));
        if (end) ended = true;
      },
    };
    const scheduler = new SendScheduler(sink, { headsBelowBytes: 1 << 20, dataBelowBytes: 1 << 16, maxChunkBytes: 1 << 16, maxQueuedHeadBytes: 1 << 20 }, new SendWindow(1 << 24));
    const stream = new SendStream(7, false, new SendWindow(1 << 20, 1 << 24));
    scheduler.attach(stream);
    const body = new OutgoingBody({
      offer: (b, done) => stream.offer(b, done),
      finish: (done) => stream.finish(done),
      abort: () => stream.abort(),
    });
    const input = Buffer.alloc(300_000);
    for (let i = 0; i < input.length; i++) input[i] = (i * 31) & 0xff;
    const writing = pipeline(Readable.from([input.subarray(0, 100_000), input.subarray(100_000)]), body);
    await writing;
    assert.equal(ended, true);
    assert.ok(frames.every((f) => f.length <= 1 << 16), 'no frame above one chunk');
    assert.deepEqual(Buffer.concat(frames), input);
  });
});
