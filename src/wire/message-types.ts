/** The wire messages as the rest of restpipe sees them (messages.ts converts them to and from protobuf). */

export interface HelloMessage {
  protocolVersion: number;
  nodeName: string;
  role: 'server' | 'client';
  maxFrameBytes: number;
  heartbeatIntervalMs: number;
}

export interface WireEvent {
  verb: string;
  noun: string;
  mimetype: string;
  data: Uint8Array;
  /** How long the sender waits for the reply; 0 = unknown. */
  timeoutMs: number;
  query: string;
}

export interface WireReply {
  code: number;
  mimetype: string;
  data: Uint8Array;
  status?: number;
}
