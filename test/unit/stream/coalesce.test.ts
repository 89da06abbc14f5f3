import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough, Writable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { coalesceWrites } from '../../../src/stream/coalesce.js';

/** A Writable that records each write it gets as the list of chunks written together. */
function recordingSink(): { sink: Writable; batches: string[][] } {
  const batches: string[][] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      batches.push([chunk.toString()]);
      cb();
    },
    writev(chunks, cb) {
      batches.push(chunks.map((c) => (c.chunk as Buffer).toString()));
      cb();
    },
  });
  return { sink, batches };
}

describe('coalesceWrites', () => {
  it('makes the chunks of one event-loop turn one write, and those of the next turn another', async () => {
    const source = new PassThrough();
    const { sink, batches } = recordingSink();
    coalesceWrites(source, sink);
    source.pipe(sink);
    for (const c of ['a', 'b', 'c', 'd']) source.write(c);
    await nextTurn();
    await nextTurn();
    source.write('e');
    source.end('f');
    await once(sink, 'finish');
    assert.deepEqual(batches, [['a', 'b', 'c', 'd'], ['e', 'f']]);
  });

  it('lets the end flush what waits, and never corks a destroyed destination', async () => {
    const source = new PassThrough();
    const { sink, batches } = recordingSink();
    coalesceWrites(source, sink);
    source.pipe(sink);
    source.write('x');
    source.end('y');
    await once(sink, 'finish');
    assert.deepEqual(batches.flat(), ['x', 'y']);

    const source2 = new PassThrough();
    const { sink: gone } = recordingSink();
    coalesceWrites(source2, gone);
    gone.destroy();
    source2.write('z');
    await nextTurn();
    assert.equal(gone.writableCorked, 0);
  });
});
