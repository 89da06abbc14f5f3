import { ErrorCode, ProtocolError, RestpipeError } from '../errors.js';
import { formatSeconds } from '../text.js';
import { FrameType, STREAM_FRAME_PAYLOAD_BYTES } from '../wire/frame.js';
import { encodeFrame } from '../wire/frame-encoder.js';
import { GoAwayCode, PROTOCOL_VERSION, encodeHello, type HelloMessage } from '../wire/messages.js';

/** What the hello needs from its session. */
export interface HelloPort {
  /** Writes a control frame now. */
  writeControl(parts: readonly Uint8Array[]): void;
  /** The hello failed on our side: end the pipe with this reason, telling the peer `code`. */
  fail(reason: string, code: GoAwayCode): void;
}

/**
 * The first frame each way (SPEC §7): this node's hello out, the peer's in, within the hello
 * timeout. The peer's hello must speak our protocol version (else both sides are told why,
 * naming both versions) and come from the other role. Until it has arrived, nothing else but a
 * goaway is accepted (the session refuses other frames as a protocol error), and a goaway
 * (the server refused our certificate, speaks another version) reaches `start()`'s caller with
 * the peer's reason rather than as a plain broken pipe.
 *
 * One timer (the hello timeout), cleared when the hello arrives or the pipe ends.
 */
export class HelloExchange {
  readonly #role: 'server' | 'client';
  readonly #local: HelloMessage;
  readonly #timeoutMs: number;
  readonly #port: HelloPort;
  #waiter: { resolve: (h: HelloMessage) => void; reject: (e: Error) => void } | undefined;
  #timer: NodeJS.Timeout | undefined;
  #started = false;
  #peer: HelloMessage | undefined;

  constructor(
    role: 'server' | 'client',
    localName: string,
    limits: {
      heartbeatIntervalMs: number;
      helloTimeoutMs: number;
      streamWindowBytes: number;
      maxStreamWindowBytes: number;
      pipeWindowBytes: number;
      maxInlineInflightBytes: number;
    },
    port: HelloPort,
  ) {
    this.#role = role;
    this.#timeoutMs = limits.helloTimeoutMs;
    this.#port = port;
    this.#local = {
      protocolVersion: PROTOCOL_VERSION,
      nodeName: localName,
      role,
      maxFrameBytes: STREAM_FRAME_PAYLOAD_BYTES,
      heartbeatIntervalMs: limits.heartbeatIntervalMs,
      initialStreamWindow: limits.streamWindowBytes,
      maxStreamWindow: limits.maxStreamWindowBytes,
      pipeWindow: limits.pipeWindowBytes,
      maxInlineInflightBytes: limits.maxInlineInflightBytes,
    };
  }

  /** The peer's hello, once it arrived and was accepted. */
  get peer(): HelloMessage | undefined {
    return this.#peer;
  }

  /**
   * Sends this node's hello and waits for the peer's, within the hello timeout.
   * @throws RestpipeError version_mismatch, tls_refused, protocol_error, no_connection (the
   *   peer's goaway before its hello) or pipe_broken (the pipe ended before it).
   */
  start(): Promise<HelloMessage> {
    if (this.#started) return Promise.reject(new RestpipeError(ErrorCode.INTERNAL_ERROR, 'handshake() called twice'));
    this.#started = true;
    const done = new Promise<HelloMessage>((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
    this.#port.writeControl(encodeFrame(FrameType.HELLO, 0, encodeHello(this.#local)));
    this.#timer = setTimeout(() => {
      this.#port.fail(`no hello from the peer within ${formatSeconds(this.#timeoutMs)}`, GoAwayCode.HELLO_TIMEOUT);
    }, this.#timeoutMs);
    this.#timer.unref();
    return done;
  }

  /**
   * The peer's hello arrived (the session calls this only before the pipe is open). Returns it
   * when accepted; undefined when it speaks another version (the pipe is then failed and
   * `start()` rejects with version_mismatch).
   * @throws ProtocolError for a hello from a node of our own role.
   */
  receive(hello: HelloMessage): HelloMessage | undefined {
    clearTimeout(this.#timer);
    if (hello.protocolVersion !== PROTOCOL_VERSION) {
      const reason = `peer speaks protocol version ${hello.protocolVersion}, this node speaks ${PROTOCOL_VERSION}`;
      const waiter = this.#takeWaiter();
      this.#port.fail(reason, GoAwayCode.VERSION_MISMATCH);
      waiter?.reject(new RestpipeError(ErrorCode.VERSION_MISMATCH, reason));
      return undefined;
    }
    if (hello.role === this.#role) throw new ProtocolError(`HELLO from a ${hello.role} to a ${this.#role}`);
    const problem = streamSettingsProblem(hello);
    if (problem !== undefined) throw new ProtocolError(`HELLO with ${problem}`);
    this.#peer = hello;
    this.#takeWaiter()?.resolve(hello);
    return hello;
  }

  /**
   * The peer said goaway before its hello: `start()` rejects with its reason, as the error its
   * code says (version_mismatch, tls_refused for a refused certificate, protocol_error, else
   * no_connection), not as the broken pipe the end of the pipe would make of it.
   */
  refusedByPeer(code: GoAwayCode, reason: string): void {
    const waiter = this.#takeWaiter();
    if (waiter === undefined) return;
    const what = goAwayDescription(code);
    const peer = this.#role === 'client' ? 'server' : 'client';
    waiter.reject(new RestpipeError(helloRefusalCode(code), `the ${peer} closed the pipe before its hello: ${reason.startsWith(what) ? reason : `${what}: ${reason}`}`));
  }

  /** The pipe ended: clears the timer; a `start()` still waiting rejects with `err`. */
  end(err: Error): void {
    clearTimeout(this.#timer);
    this.#takeWaiter()?.reject(err);
  }

  #takeWaiter(): { resolve: (h: HelloMessage) => void; reject: (e: Error) => void } | undefined {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    return waiter;
  }
}

/** The smallest frame a v2 peer may say it takes: a head's metadata and a useful chunk. */
const MIN_FRAME_BYTES = 4 * 1024;
const MAX_WINDOW_BYTES = 2 ** 31 - 1;

/** Why a v2 peer's window and frame settings are unusable, or undefined. */
function streamSettingsProblem(h: HelloMessage): string | undefined {
  const initial = h.initialStreamWindow ?? 0;
  const max = h.maxStreamWindow ?? 0;
  const pipe = h.pipeWindow ?? 0;
  if (h.maxFrameBytes < MIN_FRAME_BYTES) return `max_frame_bytes ${h.maxFrameBytes} (at least ${MIN_FRAME_BYTES})`;
  if (initial < 1024 || initial > MAX_WINDOW_BYTES) return `initial_stream_window ${initial} (1024 to 2^31-1)`;
  if (max < initial || max > MAX_WINDOW_BYTES) return `max_stream_window ${max} (${initial} to 2^31-1)`;
  if (pipe < initial || pipe > MAX_WINDOW_BYTES) return `pipe_window ${pipe} (${initial} to 2^31-1)`;
  return undefined;
}

/** What a goaway before the hello means to the one waiting for it. */
function helloRefusalCode(code: GoAwayCode): ErrorCode {
  switch (code) {
    case GoAwayCode.VERSION_MISMATCH: return ErrorCode.VERSION_MISMATCH;
    case GoAwayCode.UNAUTHORIZED: return ErrorCode.TLS_REFUSED;
    case GoAwayCode.PROTOCOL_ERROR: return ErrorCode.PROTOCOL_ERROR;
    default: return ErrorCode.NO_CONNECTION;
  }
}

/** A goaway code in words, for logs and errors. */
export function goAwayDescription(code: GoAwayCode): string {
  switch (code) {
    case GoAwayCode.PROTOCOL_ERROR: return 'protocol error';
    case GoAwayCode.VERSION_MISMATCH: return 'protocol version mismatch';
    case GoAwayCode.REPLACED: return 'replaced by a newer connection with the same identity';
    case GoAwayCode.HELLO_TIMEOUT: return 'hello timeout';
    case GoAwayCode.HEARTBEAT_TIMEOUT: return 'heartbeat timeout';
    case GoAwayCode.UNAUTHORIZED: return 'certificate refused';
    case GoAwayCode.SHUTDOWN: return 'shutting down';
    default: return 'unspecified';
  }
}
