import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FuzzFailure, runFuzz, type DecoderLike } from '../../../fuzz/fuzz-lib.js';
import { FrameDecoder, type FrameSink } from '../../../src/wire/frame-decoder.js';

// A bounded, fixed-seed slice of `npm run fuzz`, so that every test run replays the corpus and
// some fifty thousand mutated inputs. The long runs are `npm run fuzz`.
describe('wire fuzzing, short', () => {
  it('finds nothing in the corpus and 50,000 inputs (seed 20240601)', { timeout: 30_000 }, () => {
    const report = runFuzz({ inputs: 50_000, seed: 20240601 });
    assert.equal(report.inputs, 50_000);
    assert.ok(report.corpusEntries >= 10, `only ${report.corpusEntries} corpus entries replayed`);
    assert.ok(report.validStreams > 5_000);
    assert.ok(report.framesDecoded > 50_000);
    assert.ok(report.messagesDecoded > 10_000);
    // Every way the decoder refuses a stream is reached, so the inputs are not all trivially bad.
    const reasons = [...report.errorsByReason.keys()].join('\n');
    for (const expected of [
      /^frame: unknown frame type/m,
      /^frame: frame type \w+ with reply flag set/m,
      /^frame: frame type \w+ with reply flag clear/m,
      /^frame: EVENT frame length N exceeds limit N/m,
      /^frame: HELLO frame length N exceeds limit N/m,
      /^message: undecodable EVENT payload/m,
      /^message: HELLO with unknown role/m,
    ]) {
      assert.match(reasons, expected);
    }
  });

  it('is reproducible: the same seed gives the same counts', () => {
    const a = runFuzz({ inputs: 3_000, seed: 7, corpusDir: null });
    const b = runFuzz({ inputs: 3_000, seed: 7, corpusDir: null });
    assert.deepEqual({ ...a, elapsedMs: 0 }, { ...b, elapsedMs: 0 });
  });

  // The fuzzer itself is tested against decoders with planted bugs: a fuzzer that cannot fail
  // proves nothing. Without the corpus, so that the generated inputs must find them.
  const planted: Array<[string, (max: number, sink: FrameSink) => DecoderLike, RegExp]> = [
    ['ignores the limit', (_max, sink) => new FrameDecoder(0xffffffff, sink), /bytes between pushes|bytes mid-push|expected a frame error/],
    [
      'throws a TypeError on some input',
      (max, sink) => {
        const d = new FrameDecoder(max, sink);
        return {
          push(chunk) {
            if (chunk.includes(0xee)) throw new TypeError('planted');
            d.push(chunk);
          },
          get bufferedBytes() {
            return d.bufferedBytes;
          },
        };
      },
      /threw TypeError: planted, not a ProtocolError/,
    ],
    [
      'delivers a frame twice',
      (max, sink) => {
        let n = 0;
        return new FrameDecoder(max, (...frame) => {
          sink(...frame);
          if (++n === 2) sink(...frame);
        });
      },
      /decoded \d+ frames, encoded \d+|expected \d+ frames, got \d+/,
    ],
  ];
  for (const [name, createDecoder, message] of planted) {
    it(`reports a decoder that ${name}, with the seed and the input`, () => {
      assert.throws(
        () => runFuzz({ inputs: 20_000, seed: 1, corpusDir: null, createDecoder }),
        (err: unknown) => {
          assert.ok(err instanceof FuzzFailure);
          assert.match(err.message, message);
          assert.equal(err.seed, 1);
          assert.ok(err.inputLabel.length > 0);
          return true;
        },
      );
    });
  }
});
