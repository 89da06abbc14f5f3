import type { ResolvedPipeTiming } from '../options/pipe.js';
import { FrameFlag, MAX_CHUNK_BYTES } from '../wire/frame.js';
import { encodeDataFrame, type HelloMessage } from '../wire/messages.js';
import type { FrameWriter } from './frame-writer.js';
import { PipeStreams } from './pipe-streams.js';

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
  hooks: { afterReplyData(): void; progress(): void; rttMs(): number | undefined },
): PipeStreams {
  return new PipeStreams(
    { initialWindowBytes: timing.streamWindowBytes, maxWindowBytes: timing.maxStreamWindowBytes, pipeWindowBytes: timing.pipeWindowBytes, rttMs: hooks.rttMs },
    {
      initialWindowBytes: peer.initialStreamWindow!,
      maxWindowBytes: peer.maxStreamWindow!,
      pipeWindowBytes: peer.pipeWindow!,
      // A DATA frame's payload is the chunk and a few bytes of its protobuf tag and length.
      maxChunkBytes: Math.min(MAX_CHUNK_BYTES, peer.maxFrameBytes - 8),
    },
    { headsBelowBytes: HEADS_BELOW_BYTES, dataBelowBytes: DATA_BELOW_BYTES, maxQueuedHeadBytes: timing.maxQueuedBytes },
    {
      get socketQueuedBytes() {
        return writer.socketQueuedBytes;
      },
      writeHead: (parts) => writer.writeEvent(parts),
      writeData: (stream, chunk, last, blocked) => {
        const f = (stream.isReply ? FrameFlag.REPLY : 0) | (last ? FrameFlag.END_STREAM : 0) | (blocked ? FrameFlag.BLOCKED : 0);
        writer.writeData(encodeDataFrame(stream.id, f, chunk), !stream.isReply);
        if (stream.isReply) hooks.afterReplyData();
      },
    },
    {
      writeControl: (parts) => writer.writeControl(parts),
      progress: hooks.progress,
    },
  );
}
