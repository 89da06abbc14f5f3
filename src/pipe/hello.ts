import { ErrorCode, ProtocolError, RestpipeError } from '../errors.js';
import { formatSeconds } from '../text.js';
import { EVENT_METADATA_ALLOWANCE_BYTES, FrameType } from '../wire/frame.js';
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

  constructor(role: 'server' | 'client', localName: string, limits: { maxBodyBytes: number; heartbeatIntervalMs: number; helloTimeoutMs: number }, port: HelloPort) {
    this.#role = role;
    this.#timeoutMs = limits.helloTimeoutMs;
    this.#port = port;
    this.#local = {
      protocolVersion: PROTOCOL_VERSION,
      nodeName: localName,
      role,
      maxFrameBytes: limits.maxBodyBytes + EVENT_METADATA_ALLOWANCE_BYTES,
      heartbeatIntervalMs: limits.heartbeatIntervalMs,
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
    this.#peer = hello;
    this.#takeWaiter()?.resolve(hello);
    return hello;
  }

  /**
   * The largest body we may send this peer: ours, or less when its hello says it takes smaller
   * frames.
   */
  sendBodyLimit(maxBodyBytes: number): number {
    const peerMax = this.#peer?.maxFrameBytes ?? 0;
    return peerMax > 0 ? Math.min(maxBodyBytes, peerMax - EVENT_METADATA_ALLOWANCE_BYTES) : maxBodyBytes;
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
