/** The wire messages as the rest of restpipe sees them (messages.ts converts them to and from protobuf). */

export interface HelloMessage {
  protocolVersion: number;
  nodeName: string;
  role: 'server' | 'client';
  maxFrameBytes: number;
  heartbeatIntervalMs: number;
  /** v2: the receive window each body stream the sender receives starts with; 0 from a v1 peer. */
  initialStreamWindow?: number;
  /** v2: the largest a stream window of the sender may grow to; 0 from a v1 peer. */
  maxStreamWindow?: number;
  /** v2: the sender's receive window for the whole pipe; 0 from a v1 peer. */
  pipeWindow?: number;
  /** v2: the inline body bytes of the peer's events in flight the sender takes; 0 from a v1 peer. */
  maxInlineInflightBytes?: number;
}

/**
 * HTTP headers as they travel: a flat list of name, value, name, value… (as Node's
 * `rawHeaders`), names in lower case; a name may repeat.
 */
export type HeaderList = readonly string[];

export interface WireEvent {
  verb: string;
  noun: string;
  mimetype: string;
  /** The inline body: the whole body when the head ends the stream, else empty. */
  data: Uint8Array;
  /**
   * The inline body as parts, in order, when it is held so (the chunks an HTTP body came in):
   * `data` is then empty. The encoders write the parts without joining them.
   */
  dataParts?: readonly Uint8Array[];
  /** How long the sender waits for the reply; 0 = unknown. */
  timeoutMs: number;
  query: string;
  /** v2: the request's headers; absent when there are none. */
  headers?: HeaderList;
  /** v2: the whole body's size, when the sender knows it; absent otherwise. */
  bodyLength?: number;
}

export interface WireReply {
  code: number;
  mimetype: string;
  /** The inline body: the whole body when the head ends the stream, else empty. */
  data: Uint8Array;
  /**
   * The inline body as parts, in order, when it is held so (decodeReplyParts: views of the
   * network reads it arrived in): `data` is then empty. The encoders write the parts.
   */
  dataParts?: readonly Uint8Array[];
  status?: number;
  /** v2: the reply's headers; absent when there are none. */
  headers?: HeaderList;
  /** v2: the whole body's size, when the sender knows it; absent otherwise. */
  bodyLength?: number;
}
