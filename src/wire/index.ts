/// <reference types="node" preserve="true" />
// Kept in the published .d.ts so that TypeScript 6 and later load @types/node for it (see src/index.ts).
/**
 * The wire codec, public on `restpipe/wire` for fuzzers, benchmarks and bridges: framing
 * (SPEC §7) and the protobuf messages. No sockets here.
 */
export * from './frame.js';
export { FrameDecoder, SPLIT_DATA_MIN_BYTES, type FrameSink, type SplitDataSink, type SplitReplySink } from './frame-decoder.js';
export { encodeFrame, encodeHeader } from './frame-encoder.js';
export * from './messages.js';
export { ErrorCode, ProtocolError, RestpipeError } from '../errors.js';
