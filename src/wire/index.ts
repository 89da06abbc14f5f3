/**
 * The wire codec, public on `restpipe/wire` for fuzzers, benchmarks and bridges: framing
 * (SPEC §7) and the protobuf messages. No sockets here.
 */
export * from './frame.js';
export { FrameDecoder, type FrameSink } from './frame-decoder.js';
export { encodeFrame, encodeHeader } from './frame-encoder.js';
export * from './messages.js';
export { ProtocolError } from '../errors.js';
