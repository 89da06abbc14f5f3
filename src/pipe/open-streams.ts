import type { ResolvedPipeTiming } from '../options/pipe.js';
import type { SchedulerSink } from '../stream/scheduler.js';
import type { SendStream } from '../stream/send-stream.js';
import { FrameFlag, MAX_CHUNK_BYTES } from '../wire/frame.js';
import { encodeDataFrame, type HelloMessage } from '../wire/messages.js';
import type { FrameWriter } from './frame-writer.js';
import { PipeStreams, type PipeStreamsPort } from './pipe-streams.js';

/** What the streams call back in their session (besides PipeStreamsPort's control frames and progress). */
export interface StreamHooks extends PipeStreamsPort {
  /** A DATA frame of a reply this node sends was written (the read gate counts what the peer takes). */
  afterReplyData(): void;
  /** The path's round trip (the heartbeat's smallest), ms; undefined while unknown. */
  rttMs(): number | undefined;
}

/**
 * Event heads go to the socket while it holds less than this; DATA while it holds less than one
 * chunk, so a heartbeat or a cancel written at any moment waits behind at most about one chunk
 * of bulk data (SPEC §9; stream/scheduler.ts).
 */
const HEADS_BELOW_BYTES = 256 * 1024;
const DATA_BELOW_BYTES = MAX_CHUNK_BYTES;

/**
 * The body streams of a pipe whose hellos were exchanged: our windows from our timing, the
 * peer's from its hello, every frame through the pipe's one writer. `afterReplyData` runs after
 * each DATA frame of a reply we send (the read gate counts what the peer takes), `progress` when
 * a body moves (the heartbeat's judge of a busy peer), `rttMs` gives the path's round trip (the
 * heartbeat's smallest) that stream windows grow by.
 */
export function openPipeStreams(
  timing: ResolvedPipeTiming,
  peer: HelloMessage,
  writer: FrameWriter,
  hooks: StreamHooks,
): PipeStreams {
  return new PipeStreams(
    { initialWindowBytes: timing.streamWindowBytes, maxWindowBytes: timing.maxStreamWindowBytes, pipeWindowBytes: timing.pipeWindowBytes, rttMs: () => hooks.rttMs() },
    {
      initialWindowBytes: peer.initialStreamWindow!,
      maxWindowBytes: peer.maxStreamWindow!,
      pipeWindowBytes: peer.pipeWindow!,
      // A DATA frame's payload is the chunk and a few bytes of its protobuf tag and length.
      maxChunkBytes: Math.min(MAX_CHUNK_BYTES, peer.maxFrameBytes - 8),
    },
    { headsBelowBytes: HEADS_BELOW_BYTES, dataBelowBytes: DATA_BELOW_BYTES, maxQueuedHeadBytes: timing.maxQueuedBytes },
    new WriterSink(writer, hooks),
    hooks,
  );
}

/**
 * The scheduler writes through the pipe's one writer: heads as they are, DATA encoded here. A
 * class rather than an object literal with a getter (a dictionary-mode object of ~280 B per
 * pipe; issue 14, idle memory per pipe).
 */
class WriterSink implements SchedulerSink {
  readonly #writer: FrameWriter;
  readonly #hooks: StreamHooks;

  constructor(writer: FrameWriter, hooks: StreamHooks) {
    this.#writer = writer;
    this.#hooks = hooks;
  }

  get socketQueuedBytes(): number {
    return this.#writer.socketQueuedBytes;
  }

  writeHead(parts: readonly Uint8Array[]): void {
    this.#writer.writeEvent(parts);
  }

  writeData(stream: SendStream, chunk: Uint8Array, last: boolean, blocked: boolean): void {
    const f = (stream.isReply ? FrameFlag.REPLY : 0) | (last ? FrameFlag.END_STREAM : 0) | (blocked ? FrameFlag.BLOCKED : 0);
    this.#writer.writeData(encodeDataFrame(stream.id, f, chunk), !stream.isReply);
    if (stream.isReply) this.#hooks.afterReplyData();
  }
}
