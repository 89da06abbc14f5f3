import { ProtocolError } from '../errors.js';
import {
  carriesBody,
  frameTypeName,
  HEADER_BYTES,
  flagsProblem,
  isKnownFrameType,
  MAX_CONTROL_PAYLOAD_BYTES,
  FrameType,
} from './frame.js';

/** Receives each whole frame. `payload` may be a view into a network chunk: copy it to keep it long. */
export type FrameSink = (type: FrameType, flags: number, id: number, payload: Buffer) => void;

/**
 * Receives a DATA frame of at least {@link SPLIT_DATA_MIN_BYTES} whose payload spans network
 * chunks, as views of those chunks in order (no copy). Without one, such a frame is copied into
 * one buffer and goes to the {@link FrameSink}.
 */
export type SplitDataSink = (flags: number, id: number, parts: Buffer[]) => void;

/**
 * Receives an EVENT_REPLY frame of at least {@link SPLIT_DATA_MIN_BYTES} whose payload spans
 * network chunks, as views of those chunks in order (no copy; `decodeReplyParts` reads them).
 * Without one, such a frame is copied into one buffer and goes to the {@link FrameSink}.
 */
export type SplitReplySink = (flags: number, id: number, parts: Buffer[]) => void;

/**
 * The smallest DATA (or EVENT_REPLY) payload handed out in parts. A body chunk is 64 KiB and a TLS read at most
 * 16 KiB, so nearly every chunk spans reads; copying each into one buffer was 7–11 % of a
 * receiving node's CPU in the stream bench, and as much again in garbage collection. Views pin
 * the reads they lie in until the body's reader takes them. A read is at most 16 KiB, so beyond
 * its own bytes a frame pins at most the rest of the two reads it starts and ends in: from this
 * size on, at most three times what it carries (a smaller frame that spans two reads could pin
 * 32 KiB for a few bytes: it is copied, as before).
 */
export const SPLIT_DATA_MIN_BYTES = 16 * 1024;

const CONSUMED = Buffer.alloc(0);

const READ_HEADER = 0;
const READ_PAYLOAD = 1;

/**
 * Incremental frame parser: bytes in, frames out, no I/O and no timers. Handles frames split
 * across reads and many frames in one read. The header is judged as soon as its 10 bytes are
 * in (type known, flags allowed for the type, length within the limit), so an oversized or bogus
 * frame is refused before a byte of its payload is buffered.
 *
 * The only error it throws is ProtocolError; after one, every later push throws it again.
 */
export class FrameDecoder {
  readonly #maxPayloadBytes: number;
  readonly #controlLimit: number;
  readonly #sink: FrameSink;
  readonly #splitData: SplitDataSink | undefined;
  readonly #splitReply: SplitReplySink | undefined;
  // Unconsumed input: a list of chunks and an offset into the first, so a frame that lies in
  // one chunk is handed out as a view and only a frame that spans chunks is copied (once).
  // The first live chunk is #chunks[#head]: Array#shift() is O(n) once V8 stops left-trimming
  // a large array, which made a 64 KiB frame fed a byte at a time take seconds.
  readonly #chunks: Buffer[] = [];
  #head = 0;
  #offset = 0;
  #buffered = 0;
  #state = READ_HEADER;
  #type: FrameType = 0x01;
  #flags = 0;
  #length = 0;
  #id = 0;
  #failure: ProtocolError | null = null;
  #stopped = false;

  /**
   * @param maxPayloadBytes the largest payload accepted for any frame; frames that carry no body
   *   (hello, heartbeat, cancel, goaway, window update) are further held to MAX_CONTROL_PAYLOAD_BYTES.
   * @throws RangeError when maxPayloadBytes is not a non-negative integer (NaN would disable the limit).
   */
  constructor(maxPayloadBytes: number, sink: FrameSink, splitData?: SplitDataSink, splitReply?: SplitReplySink) {
    if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 0) {
      throw new RangeError(`maxPayloadBytes must be a non-negative integer, got ${maxPayloadBytes}`);
    }
    this.#maxPayloadBytes = maxPayloadBytes;
    this.#controlLimit = Math.min(maxPayloadBytes, MAX_CONTROL_PAYLOAD_BYTES);
    this.#sink = sink;
    this.#splitData = splitData;
    this.#splitReply = splitReply;
  }

  /** Bytes held waiting for the rest of a frame. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /**
   * The type of the frame whose header has arrived and whose payload has not all arrived yet,
   * or 0 between frames (a session counts such bytes as the peer's progress).
   */
  get partialFrameType(): number {
    return this.#state === READ_PAYLOAD ? this.#type : 0;
  }

  /** Stops delivering frames, also in the middle of a push (the sink closed the pipe). */
  stop(): void {
    this.#stopped = true;
    this.#chunks.length = 0;
    this.#head = 0;
    this.#buffered = 0;
    this.#offset = 0;
  }

  /**
   * Feeds bytes; calls the sink for every frame completed.
   * @throws ProtocolError on an unknown type, flags the type does not allow, or an oversized frame.
   */
  push(chunk: Buffer): void {
    if (this.#failure !== null) throw this.#failure;
    if (this.#stopped || chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    while (!this.#stopped) {
      if (this.#state === READ_HEADER) {
        if (this.#buffered < HEADER_BYTES) return;
        this.#readHeader();
        this.#state = READ_PAYLOAD;
      }
      if (this.#buffered < this.#length) return;
      this.#state = READ_HEADER;
      const split = this.#length >= SPLIT_DATA_MIN_BYTES && !this.#inFirstChunk(this.#length);
      if (split && this.#splitData !== undefined && this.#type === FrameType.DATA) {
        this.#splitData(this.#flags, this.#id, this.#consumeViews(this.#length));
      } else if (split && this.#splitReply !== undefined && this.#type === FrameType.EVENT_REPLY) {
        this.#splitReply(this.#flags, this.#id, this.#consumeViews(this.#length));
      } else {
        this.#sink(this.#type, this.#flags, this.#id, this.#consume(this.#length));
      }
    }
  }

  #readHeader(): void {
    const first = this.#chunks[this.#head]!;
    const header = first.length - this.#offset >= HEADER_BYTES ? first : this.#consumeCopy(HEADER_BYTES);
    const at = header === first ? this.#offset : 0;
    const type = header[at]!;
    const flags = header[at + 1]!;
    const length = header.readUInt32BE(at + 2);
    const id = header.readUInt32BE(at + 6);
    if (header === first) this.#advance(HEADER_BYTES);

    if (!isKnownFrameType(type)) this.#fail(`unknown frame type ${frameTypeName(type)}`);
    const problem = flagsProblem(type, flags);
    if (problem !== undefined) this.#fail(`frame type ${frameTypeName(type)} with ${problem}`);
    // Control frames are also held to the body limit: a peer must send no frame bigger than the
    // max it was told (Hello.max_frame_bytes), and it keeps one bound on what is buffered.
    const limit = carriesBody(type) ? this.#maxPayloadBytes : this.#controlLimit;
    if (length > limit) {
      this.#fail(`${frameTypeName(type)} frame length ${length} exceeds limit ${limit}`);
    }
    this.#type = type as FrameType;
    this.#flags = flags;
    this.#length = length;
    this.#id = id;
  }

  #fail(reason: string): never {
    this.#failure = new ProtocolError(reason);
    this.stop();
    throw this.#failure;
  }

  /** Takes n buffered bytes: a view when they lie in the first chunk, else one copy. */
  #consume(n: number): Buffer {
    const first = this.#chunks[this.#head];
    if (n === 0) return Buffer.alloc(0);
    if (first !== undefined && first.length - this.#offset >= n) {
      const view = first.subarray(this.#offset, this.#offset + n);
      this.#advance(n);
      return view;
    }
    return this.#consumeCopy(n);
  }

  #inFirstChunk(n: number): boolean {
    const first = this.#chunks[this.#head];
    return first !== undefined && first.length - this.#offset >= n;
  }

  /** Takes n buffered bytes as views of the chunks they lie in, in order. */
  #consumeViews(n: number): Buffer[] {
    const parts: Buffer[] = [];
    let taken = 0;
    while (taken < n) {
      const chunk = this.#chunks[this.#head]!;
      const take = Math.min(n - taken, chunk.length - this.#offset);
      parts.push(chunk.subarray(this.#offset, this.#offset + take));
      taken += take;
      this.#advance(take);
    }
    return parts;
  }

  #consumeCopy(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    let written = 0;
    while (written < n) {
      const chunk = this.#chunks[this.#head]!;
      const take = Math.min(n - written, chunk.length - this.#offset);
      chunk.copy(out, written, this.#offset, this.#offset + take);
      written += take;
      this.#advance(take);
    }
    return out;
  }

  #advance(n: number): void {
    this.#offset += n;
    this.#buffered -= n;
    const first = this.#chunks[this.#head]!;
    if (this.#offset === first.length) {
      this.#offset = 0;
      // Let go of a consumed chunk at once: a stream whose frames never end on a chunk boundary
      // never empties the list, and the slot would otherwise pin a whole network read.
      this.#chunks[this.#head] = CONSUMED;
      this.#head++;
      if (this.#head === this.#chunks.length) {
        this.#chunks.length = 0;
        this.#head = 0;
      } else if (this.#head >= 1024 && this.#head * 2 >= this.#chunks.length) {
        // Drop consumed chunks in one splice once they are half the array: amortised O(1) per chunk.
        this.#chunks.splice(0, this.#head);
        this.#head = 0;
      }
    }
  }
}
