/**
 * A dependency-free mutation fuzzer for the wire codec: the frame decoder and the protobuf
 * message decoders (RELIABILITY §5.7: Jazzer.js does not run here, so this is a plain loop).
 *
 * Every generated input is derived from (seed, index) alone, so one failing input can be re-run
 * on its own (`--seed S --index N`) without replaying the inputs before it.
 *
 * What it asserts:
 * - only ProtocolError escapes the frame decoder and the message decoders;
 * - after a ProtocolError the decoder holds nothing and throws that same error again;
 * - the decoder never buffers more than max + header + the slice being pushed, and between
 *   pushes no more than max(max, header) (it judges the header before buffering a payload);
 * - a valid, unmutated stream fed in any slicing decodes to exactly the frames encoded, and
 *   each payload taken from the message pool decodes without error;
 * - each corpus entry meets its `# expect:` line in every slicing tried.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FrameDecoder,
  FrameType,
  GoAwayCode,
  HEADER_BYTES,
  MAX_CONTROL_PAYLOAD_BYTES,
  PROTOCOL_VERSION,
  ProtocolError,
  carriesBody,
  CancelCode,
  FrameFlag,
  decodeCancel,
  decodeCancelMessage,
  decodeData,
  decodeEvent,
  decodeGoAway,
  decodeHello,
  decodeReply,
  decodeWindowUpdate,
  encodeCancel,
  encodeDataFrame,
  encodeEvent,
  encodeWindowUpdateFrame,
  encodeGoAway,
  encodeHeader,
  encodeHello,
  encodeReply,
  frameTypeName,
  type FrameSink,
} from '../src/wire/index.js';

/** What the fuzzer needs of a decoder; a test may pass a deliberately broken one. */
export interface DecoderLike {
  push(chunk: Buffer): void;
  readonly bufferedBytes: number;
}

export interface FuzzOptions {
  /** Generated inputs to run (the corpus is replayed first and not counted). Default 1,000,000. */
  inputs?: number;
  /** Any u32. Default 1. */
  seed?: number;
  /** Stop after this many seconds even if `inputs` are not all run. Default: no time limit. */
  seconds?: number;
  /** Run only the generated input with this index (for reproducing a failure). */
  index?: number;
  /** Directory of `.hex` corpus entries; null skips the corpus. Default: fuzz/corpus of this repo. */
  corpusDir?: string | null;
  /** Builds the decoder under test. Default: the real FrameDecoder. */
  createDecoder?: (maxPayloadBytes: number, sink: FrameSink) => DecoderLike;
}

export interface FuzzReport {
  seed: number;
  inputs: number;
  streamInputs: number;
  validStreams: number;
  messageInputs: number;
  corpusEntries: number;
  framesDecoded: number;
  messagesDecoded: number;
  elapsedMs: number;
  /** ProtocolError reasons with numbers and type bytes blanked, prefixed `frame:` or `message:`. */
  errorsByReason: Map<string, number>;
}

/** A broken invariant, with everything needed to reproduce it. */
export class FuzzFailure extends Error {
  constructor(
    message: string,
    readonly seed: number,
    /** `#<index>` for a generated input, `corpus:<file>` for a corpus entry. */
    readonly inputLabel: string,
    readonly input: Uint8Array,
    readonly maxPayloadBytes: number | null,
    readonly slices: readonly number[],
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FuzzFailure';
  }
}

/** The repo's fuzz/corpus, found from dist/fuzz/ (compiled) or fuzz/ (source). */
export function defaultCorpusDir(): string {
  const here = fileURLToPath(new URL('.', import.meta.url));
  const fromDist = join(here, '..', '..', 'fuzz', 'corpus');
  return existsSync(fromDist) ? fromDist : join(here, 'corpus');
}

// ---------------------------------------------------------------------------------------------
// Random numbers: sfc32, small and fast, and seedable per input.

class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d = 1;

  constructor(seed: number, stream: number) {
    this.#a = seed >>> 0;
    this.#b = stream >>> 0;
    this.#c = 0x9e3779b9 ^ Math.imul(stream, 0x85ebca6b);
    // Twelve rounds mix seeds that differ in one bit into unrelated states.
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, n). */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) out[i] = this.u32() & 0xff;
    return out;
  }
}

// ---------------------------------------------------------------------------------------------
// Valid material: a pool of encoded messages, built once per seed.

interface PoolEntry {
  type: FrameType;
  payload: Buffer;
  /** The header's flags; the type's default (REPLY for the reply types) when absent. */
  flags?: number;
}

const VERBS = ['get', 'post', 'put', 'delete', 'patch'] as const;
const NOUN_ALPHABET = ['a', 'z', '/', '%', '2', '0', 'é', '日', '🐈', ' ', '?', '\u0000'] as const;
const MAX_CHOICES = [0, 1, 9, 10, 11, 64, 300, 1024, 4096, 65535, 65536, 65537, 1 << 20] as const;
const DEFAULT_CORPUS_MAX = 1 << 20;

function text(rng: Rng, maxLength: number): string {
  let s = '';
  for (let n = rng.int(maxLength + 1); n > 0; n--) s += rng.pick(NOUN_ALPHABET);
  return s;
}

function bodyBytes(rng: Rng): Buffer {
  const r = rng.int(100);
  // Mostly small bodies so that most streams fit the small limits; a few big enough to span
  // many slices and to exceed the control-frame limit.
  const n = r < 80 ? rng.int(65) : r < 99 ? rng.int(1025) : 65536 + rng.int(8192);
  return rng.bytes(n);
}

function concat(parts: readonly Uint8Array[]): Buffer {
  return Buffer.concat(parts);
}

function buildPool(seed: number): PoolEntry[] {
  const rng = new Rng(seed, 0xffffffff);
  const pool: PoolEntry[] = [];
  for (let i = 0; i < 96; i++) {
    const payload = concat(
      encodeEvent({
        verb: rng.pick(VERBS),
        noun: text(rng, 24),
        mimetype: rng.int(2) === 0 ? 'application/json' : text(rng, 8),
        data: bodyBytes(rng),
        timeoutMs: rng.int(3) === 0 ? rng.u32() : rng.int(60_000),
        query: text(rng, 12),
        ...v2Fields(rng),
      }),
    );
    pool.push({ type: FrameType.EVENT, payload, flags: rng.int(2) === 0 ? FrameFlag.END_STREAM : 0 });
  }
  for (let i = 0; i < 64; i++) {
    const status = rng.int(2) === 0 ? undefined : rng.int(3) === 0 ? rng.u32() : 100 + rng.int(500);
    const payload = concat(
      encodeReply({
        code: rng.pick([0, 251, 255, rng.u32()]),
        mimetype: text(rng, 8),
        data: bodyBytes(rng),
        ...(status === undefined ? {} : { status }),
        ...v2Fields(rng),
      }),
    );
    pool.push({ type: FrameType.EVENT_REPLY, payload, flags: FrameFlag.REPLY | (rng.int(2) === 0 ? FrameFlag.END_STREAM : 0) });
  }
  for (let i = 0; i < 48; i++) {
    const flags = rng.int(4);
    pool.push({ type: FrameType.DATA, payload: concat(encodeDataFrame(1, flags, bodyBytes(rng))).subarray(HEADER_BYTES), flags });
    const increment = rng.int(3) === 0 ? rng.u32() : rng.int(1 << 20);
    pool.push({ type: FrameType.WINDOW_UPDATE, payload: concat(encodeWindowUpdateFrame(1, flags & FrameFlag.REPLY, increment)).subarray(HEADER_BYTES), flags: flags & FrameFlag.REPLY });
  }
  for (let i = 0; i < 16; i++) {
    const payload = concat(
      encodeHello({
        protocolVersion: rng.int(2) === 0 ? PROTOCOL_VERSION : rng.u32(),
        nodeName: text(rng, 16),
        role: rng.int(2) === 0 ? 'server' : 'client',
        maxFrameBytes: rng.u32(),
        heartbeatIntervalMs: rng.int(100_000),
      }),
    );
    pool.push({ type: FrameType.HELLO, payload });
    pool.push({ type: FrameType.CANCEL, payload: concat(encodeCancel(text(rng, 20), rng.int(5) as CancelCode)), flags: rng.int(2) });
    pool.push({
      type: FrameType.GOAWAY,
      payload: concat(encodeGoAway({ code: rng.int(9) as GoAwayCode, reason: text(rng, 20) })),
    });
    pool.push({ type: FrameType.HEARTBEAT, payload: Buffer.alloc(0) });
    pool.push({ type: FrameType.HEARTBEAT_REPLY, payload: Buffer.alloc(0) });
  }
  return pool;
}

/** Headers and a body length (v2), or neither. */
function v2Fields(rng: Rng): { headers?: string[]; bodyLength?: number } {
  const out: { headers?: string[]; bodyLength?: number } = {};
  if (rng.int(2) === 0) {
    const headers: string[] = [];
    for (let n = 1 + rng.int(4); n > 0; n--) headers.push(text(rng, 12), text(rng, 24));
    out.headers = headers;
  }
  if (rng.int(2) === 0) out.bodyLength = rng.int(3) === 0 ? rng.u32() * 2 ** 20 + rng.int(2 ** 20) : rng.int(1 << 24);
  return out;
}

function frameLimit(type: number, max: number): number {
  return carriesBody(type) ? max : Math.min(max, MAX_CONTROL_PAYLOAD_BYTES);
}

/** Decodes a payload as the message its frame type names; heartbeats carry none. */
function decodeMessage(type: number, payload: Uint8Array): boolean {
  switch (type) {
    case FrameType.EVENT: decodeEvent(payload); return true;
    case FrameType.EVENT_REPLY: decodeReply(payload); return true;
    case FrameType.HELLO: decodeHello(payload); return true;
    case FrameType.CANCEL: decodeCancelMessage(payload); return true;
    case FrameType.GOAWAY: decodeGoAway(payload); return true;
    case FrameType.DATA: decodeData(payload); return true;
    case FrameType.WINDOW_UPDATE: decodeWindowUpdate(payload); return true;
    default: return false;
  }
}

const MESSAGE_DECODERS = [decodeEvent, decodeReply, decodeHello, decodeCancel, decodeCancelMessage, decodeGoAway, decodeData, decodeWindowUpdate] as const;

// ---------------------------------------------------------------------------------------------
// Mutation.

const INTERESTING_U32 = [
  0, 1, 9, 10, 11, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x10001, 0x7fffffff, 0x80000000, 0xfffffffe,
  0xffffffff,
] as const;

/** A mutated copy of `input`. `headers` are the offsets of the frame headers before mutation. */
function mutate(rng: Rng, input: Buffer, headers: readonly number[], max: number, pool: readonly PoolEntry[]): Buffer {
  let b = input;
  for (let n = 1 + rng.int(4); n > 0; n--) {
    const at = b.length === 0 ? 0 : rng.int(b.length);
    switch (rng.int(10)) {
      case 0: // bit flip
        if (b.length > 0) b[at] = b[at]! ^ (1 << rng.int(8));
        break;
      case 1: // random byte
        if (b.length > 0) b[at] = rng.u32() & 0xff;
        break;
      case 2: // insert random bytes
        b = Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.int(12)), b.subarray(at)]);
        break;
      case 3: // delete a range
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rng.int(12)))]);
        break;
      case 4: { // splice in the tail of another valid payload, or a slice of this input
        const other = rng.int(2) === 0 ? rng.pick(pool).payload : b;
        const from = other.length === 0 ? 0 : rng.int(other.length);
        const piece = other.subarray(from, from + 1 + rng.int(64));
        b = Buffer.concat([b.subarray(0, at), piece, rng.int(2) === 0 ? b.subarray(at) : Buffer.alloc(0)]);
        break;
      }
      case 5: // truncate
        b = b.subarray(0, at);
        break;
      case 6: // length field: around the limits, or anything
      case 7: {
        const h = headers.length > 0 && rng.int(4) !== 0 ? rng.pick(headers) : at;
        if (h + HEADER_BYTES > b.length) break;
        const current = b.readUInt32BE(h + 2);
        const choices = [current + 1, current - 1, max, max + 1, MAX_CONTROL_PAYLOAD_BYTES + 1, rng.u32()];
        const value = rng.int(3) === 0 ? rng.pick(INTERESTING_U32) : rng.pick(choices);
        b.writeUInt32BE(value >>> 0, h + 2);
        break;
      }
      case 8: { // type byte
        const h = headers.length > 0 ? rng.pick(headers) : at;
        if (h < b.length) b[h] = rng.int(2) === 0 ? rng.pick(ALL_TYPES) : rng.u32() & 0xff;
        break;
      }
      default: { // flags byte
        const h = headers.length > 0 ? rng.pick(headers) : at;
        if (h + 1 < b.length) b[h + 1] = b[h + 1]! ^ (rng.int(2) === 0 ? 1 : rng.u32() & 0xff);
        break;
      }
    }
  }
  return b;
}

const ALL_TYPES = Object.values(FrameType);

// ---------------------------------------------------------------------------------------------
// The loop.

interface Decoded {
  type: number;
  flags: number;
  id: number;
  payload: Buffer;
}

/** Blanks numbers and type bytes so that reasons group into a handful of classes. */
function reasonClass(reason: string): string {
  return reason.replace(/0x[0-9a-f]{2}\b|\d+/g, (m) => (m.startsWith('0x') ? '0x..' : 'N'));
}

/**
 * Runs the fuzzer; returns counts, or throws FuzzFailure on the first broken invariant.
 * Synchronous: a million inputs take a few seconds of CPU.
 */
export function runFuzz(options: FuzzOptions = {}): FuzzReport {
  const seed = (options.seed ?? 1) >>> 0;
  const inputs = options.inputs ?? 1_000_000;
  const deadline = options.seconds === undefined ? Infinity : performance.now() + options.seconds * 1000;
  const createDecoder = options.createDecoder ?? ((max, sink) => new FrameDecoder(max, sink));
  const pool = buildPool(seed);
  const report: FuzzReport = {
    seed,
    inputs: 0,
    streamInputs: 0,
    validStreams: 0,
    messageInputs: 0,
    corpusEntries: 0,
    framesDecoded: 0,
    messagesDecoded: 0,
    elapsedMs: 0,
    errorsByReason: new Map(),
  };
  const started = performance.now();

  // Per-input state, reused so that the loop allocates little beyond the inputs themselves.
  let label = '';
  let input: Buffer = Buffer.alloc(0);
  let max = 0;
  const slices: number[] = [];
  const frames: Decoded[] = [];
  let sliceBytes = 0;
  let decoder: DecoderLike | null = null;

  function fail(message: string, cause?: unknown): never {
    throw new FuzzFailure(message, seed, label, Buffer.from(input), max, slices.slice(), { cause });
  }
  const countError = (kind: 'frame' | 'message', err: unknown, context: string): void => {
    if (!(err instanceof ProtocolError)) {
      fail(`${context} threw ${describe(err)}, not a ProtocolError`, err);
    }
    const key = `${kind}: ${reasonClass((err as ProtocolError).reason)}`;
    report.errorsByReason.set(key, (report.errorsByReason.get(key) ?? 0) + 1);
  };
  const sink: FrameSink = (type, flags, id, payload) => {
    // Mid-push the decoder may hold the rest of the current slice besides one frame's worth.
    const held = decoder!.bufferedBytes;
    if (held > max + HEADER_BYTES + sliceBytes) {
      fail(`decoder holds ${held} bytes mid-push; bound is ${max} + ${HEADER_BYTES} + ${sliceBytes}`);
    }
    frames.push({ type, flags, id, payload });
  };

  /**
   * Pushes `input` in slices chosen by `rng` (whole, a byte at a time, small, or any size).
   * Returns the ProtocolError the decoder threw, or null.
   */
  const feed = (rng: Rng): ProtocolError | null => {
    frames.length = 0;
    slices.length = 0;
    decoder = createDecoder(max, sink);
    const mode = rng.int(4);
    let at = 0;
    while (at < input.length) {
      const left = input.length - at;
      const n =
        mode === 0 ? left
        : mode === 1 ? (input.length <= 512 ? 1 : 1 + rng.int(32))
        : mode === 2 ? 1 + rng.int(Math.min(left, 16))
        : 1 + rng.int(left);
      slices.push(n);
      sliceBytes = n;
      try {
        decoder.push(input.subarray(at, at + n));
      } catch (err) {
        if (err instanceof FuzzFailure) throw err;
        countError('frame', err, 'FrameDecoder.push');
        if (decoder.bufferedBytes !== 0) fail(`decoder holds ${decoder.bufferedBytes} bytes after its ProtocolError`);
        try {
          decoder.push(Buffer.from([FrameType.HEARTBEAT]));
          fail('a push after a ProtocolError did not throw');
        } catch (again) {
          if (again instanceof FuzzFailure) throw again;
          if (again !== err) fail(`a push after a ProtocolError threw ${describe(again)}, not the same error`, again);
        }
        return err as ProtocolError;
      }
      const held = decoder.bufferedBytes;
      if (held > Math.max(max, HEADER_BYTES)) {
        fail(`decoder holds ${held} bytes between pushes; bound is max(${max}, ${HEADER_BYTES})`);
      }
      at += n;
    }
    report.framesDecoded += frames.length;
    return null;
  };

  const decodeFrames = (expectAllDecodable: boolean): number => {
    let errors = 0;
    for (const f of frames) {
      try {
        if (decodeMessage(f.type, f.payload)) report.messagesDecoded++;
      } catch (err) {
        if (expectAllDecodable) fail(`a valid ${frameTypeName(f.type)} payload failed to decode`, err);
        countError('message', err, `decoding a ${frameTypeName(f.type)} payload`);
        errors++;
      }
    }
    return errors;
  };

  /** A valid stream of 1..6 frames that all fit `max`; returns it and its header offsets. */
  const validStream = (rng: Rng, expected: Decoded[]): { bytes: Buffer; headers: number[] } => {
    expected.length = 0;
    const parts: Buffer[] = [];
    const headers: number[] = [];
    let offset = 0;
    for (let n = 1 + rng.int(6); n > 0; n--) {
      let entry = rng.pick(pool);
      for (let tries = 0; tries < 3 && entry.payload.length > frameLimit(entry.type, max); tries++) entry = rng.pick(pool);
      if (entry.payload.length > frameLimit(entry.type, max)) entry = { type: FrameType.HEARTBEAT, payload: Buffer.alloc(0) };
      const id = rng.int(4) === 0 ? rng.pick(INTERESTING_U32) : rng.u32();
      const header = encodeHeader(entry.type, entry.payload.length, id, entry.flags);
      headers.push(offset);
      parts.push(header, entry.payload);
      offset += header.length + entry.payload.length;
      expected.push({ type: entry.type, flags: header[1]!, id, payload: entry.payload });
    }
    return { bytes: Buffer.concat(parts, offset), headers };
  };

  const expected: Decoded[] = [];
  const runOne = (index: number): void => {
    const rng = new Rng(seed, index);
    label = `#${index}`;
    max = rng.pick(MAX_CHOICES);
    const kind = rng.int(20);
    if (kind < 2) {
      // Random bytes, half of them starting with a known type so the header checks are reached.
      report.streamInputs++;
      input = rng.bytes(rng.int(128));
      if (input.length > 0 && rng.int(2) === 0) input[0] = rng.pick(ALL_TYPES);
      if (feed(rng) === null) decodeFrames(false);
    } else if (kind < 7) {
      report.streamInputs++;
      report.validStreams++;
      input = validStream(rng, expected).bytes;
      const err = feed(rng);
      if (err !== null) fail(`a valid stream was refused: ${err.reason}`, err);
      if (decoder!.bufferedBytes !== 0) fail(`${decoder!.bufferedBytes} bytes left buffered after a valid stream`);
      if (frames.length !== expected.length) fail(`decoded ${frames.length} frames, encoded ${expected.length}`);
      for (let i = 0; i < frames.length; i++) {
        const got = frames[i]!;
        const want = expected[i]!;
        if (got.type !== want.type || got.flags !== want.flags || got.id !== want.id || !got.payload.equals(want.payload)) {
          const what = got.payload.equals(want.payload) ? '' : ' (payload bytes differ)';
          fail(`frame ${i} decoded as ${show(got)}, encoded as ${show(want)}${what}`);
        }
      }
      decodeFrames(true);
    } else if (kind < 15) {
      report.streamInputs++;
      const stream = validStream(rng, expected);
      input = mutate(rng, stream.bytes, stream.headers, max, pool);
      if (feed(rng) === null) decodeFrames(false);
    } else {
      report.messageInputs++;
      max = 0;
      slices.length = 0;
      const entry = rng.pick(pool);
      input = rng.int(4) === 0 ? rng.bytes(rng.int(48)) : mutate(rng, Buffer.from(entry.payload), [], 0, pool);
      for (const decodeOne of MESSAGE_DECODERS) {
        try {
          decodeOne(input);
          report.messagesDecoded++;
        } catch (err) {
          countError('message', err, decodeOne.name);
        }
      }
    }
    report.inputs++;
  };

  // Capturing stacks is most of the cost of an error, and errors are most of the outcomes here;
  // a single input re-run with `index` keeps them, for the stack of whatever broke.
  const stackTraceLimit = Error.stackTraceLimit;
  if (options.index === undefined) Error.stackTraceLimit = 0;
  try {
    run();
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
  report.elapsedMs = performance.now() - started;
  return report;

  function run(): void {
    if (options.index !== undefined) {
      runOne(options.index);
      return;
    }
    if (options.corpusDir !== null) replayCorpus(options.corpusDir ?? defaultCorpusDir());
    for (let i = 0; i < inputs; i++) {
      if ((i & 255) === 0 && performance.now() > deadline) break;
      runOne(i);
    }
  }

  function replayCorpus(dir: string): void {
    if (!existsSync(dir)) return;
    for (const name of readdirSync(dir).filter((f) => f.endsWith('.hex')).sort()) {
      const entry = parseCorpusEntry(readFileSync(join(dir, name), 'utf8'), name);
      label = `corpus:${name}`;
      input = entry.bytes;
      max = entry.max;
      const rng = new Rng(seed, 0xfffffffe);
      // Every slicing must reach the same verdict: whole, byte by byte, and random ones.
      for (let round = 0; round < 6; round++) {
        const err = feedCorpus(rng, round);
        const messageErrors = err === null ? decodeFrames(false) : 0;
        checkExpectation(entry, err, messageErrors);
      }
      max = 0;
      slices.length = 0;
      for (const decodeOne of MESSAGE_DECODERS) {
        try {
          decodeOne(input);
        } catch (err) {
          countError('message', err, decodeOne.name);
        }
      }
      report.corpusEntries++;
    }
  }

  function feedCorpus(rng: Rng, round: number): ProtocolError | null {
    if (round >= 2) return feed(rng);
    // Round 0 whole, round 1 one byte at a time, whatever the input's size.
    frames.length = 0;
    slices.length = 0;
    decoder = createDecoder(max, sink);
    const step = round === 0 ? Math.max(1, input.length) : 1;
    try {
      for (let at = 0; at < input.length; at += step) {
        slices.push(Math.min(step, input.length - at));
        sliceBytes = step;
        decoder.push(input.subarray(at, at + step));
      }
    } catch (err) {
      if (err instanceof FuzzFailure) throw err;
      countError('frame', err, 'FrameDecoder.push');
      return err as ProtocolError;
    }
    report.framesDecoded += frames.length;
    return null;
  }

  function checkExpectation(entry: CorpusEntry, err: ProtocolError | null, messageErrors: number): void {
    const { expect } = entry;
    if (expect.frameError !== undefined) {
      if (err === null) fail(`expected a frame error containing "${expect.frameError}", got ${frames.length} frames`);
      if (!err.reason.includes(expect.frameError)) fail(`expected a frame error containing "${expect.frameError}", got "${err.reason}"`);
      return;
    }
    if (err !== null) fail(`expected no frame error, got "${err.reason}"`);
    if (expect.frames !== undefined && frames.length !== expect.frames) fail(`expected ${expect.frames} frames, got ${frames.length}`);
    if (decoder!.bufferedBytes !== expect.leftover) fail(`expected ${expect.leftover} bytes left buffered, got ${decoder!.bufferedBytes}`);
    if (expect.messageErrors !== undefined && messageErrors !== expect.messageErrors) {
      fail(`expected ${expect.messageErrors} undecodable payloads, got ${messageErrors}`);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Corpus entries: hex with `#` comments, and directive comments
//   # max: N                     the decoder's maxPayloadBytes (default 1 MiB)
//   # expect: frames=N leftover=N message-errors=N   or   # expect: frame-error=<text>

interface CorpusEntry {
  bytes: Buffer;
  max: number;
  expect: { frames?: number; leftover: number; messageErrors?: number; frameError?: string };
}

export function parseCorpusEntry(source: string, name: string): CorpusEntry {
  let max = DEFAULT_CORPUS_MAX;
  const expect: CorpusEntry['expect'] = { leftover: 0 };
  let hex = '';
  for (const line of source.split('\n')) {
    const hash = line.indexOf('#');
    const comment = hash === -1 ? '' : line.slice(hash + 1).trim();
    hex += (hash === -1 ? line : line.slice(0, hash)).replace(/\s+/g, '');
    const directive = /^(max|expect):\s*(.*)$/.exec(comment);
    if (directive === null) continue;
    if (directive[1] === 'max') {
      max = Number(directive[2]);
      continue;
    }
    const body = directive[2] ?? '';
    const frameError = /^frame-error=(.*)$/.exec(body);
    if (frameError !== null) {
      expect.frameError = frameError[1] ?? '';
      continue;
    }
    for (const pair of body.split(/\s+/).filter(Boolean)) {
      const [key, value] = pair.split('=');
      const n = Number(value);
      if (key === 'frames') expect.frames = n;
      else if (key === 'leftover') expect.leftover = n;
      else if (key === 'message-errors') expect.messageErrors = n;
      else throw new Error(`${name}: unknown expectation "${pair}"`);
    }
  }
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new Error(`${name}: not an even-length hex string`);
  if (!Number.isInteger(max) || max < 0) throw new Error(`${name}: bad max`);
  return { bytes: Buffer.from(hex, 'hex'), max, expect };
}

// ---------------------------------------------------------------------------------------------
// Output helpers.

function describe(err: unknown): string {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return `a non-Error value (${typeof err}): ${String(err)}`;
}

function show(f: Decoded): string {
  return `{type ${frameTypeName(f.type)}, flags ${f.flags}, id ${f.id}, ${f.payload.length} payload bytes}`;
}

/** An xxd-style dump, cut after `limit` bytes. */
export function hexDump(bytes: Uint8Array, limit = 4096): string {
  const lines: string[] = [];
  const shown = Math.min(bytes.length, limit);
  for (let at = 0; at < shown; at += 16) {
    const row = Buffer.from(bytes.subarray(at, Math.min(at + 16, shown)));
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${at.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii}`);
  }
  if (shown < bytes.length) lines.push(`… ${bytes.length - shown} more bytes`);
  return lines.join('\n');
}

/** The report as the lines the CLI prints. */
export function formatReport(r: FuzzReport): string {
  const seconds = r.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(r.inputs / seconds) : r.inputs;
  const lines = [
    `seed ${r.seed}`,
    `inputs run: ${r.inputs.toLocaleString('en')} (frame streams ${r.streamInputs.toLocaleString('en')}, of them valid ${r.validStreams.toLocaleString('en')}; message payloads ${r.messageInputs.toLocaleString('en')}) + ${r.corpusEntries} corpus entries`,
    `time: ${seconds.toFixed(2)} s (${rate.toLocaleString('en')} inputs/s)`,
    `frames decoded: ${r.framesDecoded.toLocaleString('en')}; messages decoded: ${r.messagesDecoded.toLocaleString('en')}`,
    'errors by reason class:',
  ];
  const rows = [...r.errorsByReason].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  for (const [reason, count] of rows) lines.push(`  ${count.toString().padStart(10)}  ${reason}`);
  return lines.join('\n');
}
