import { EventEmitter, on } from 'node:events';
import type { TLSSocket } from 'node:tls';
import { certificateCommonName } from '../certificate.js';
import { channels } from '../diagnostics.js';
import { ErrorCode, RestpipeError } from '../errors.js';
import { validateEventRequest, type EventHandlerFn, type EventRequest, type Reply } from '../event.js';
import { silentLogger, type Logger } from '../log.js';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_GRACE_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_RECONNECT_MAX_MS,
  DEFAULT_RECONNECT_MIN_MS,
  DEFAULT_SERVER_PORT,
  countOption,
  durationOption,
  invalidOption,
  resolvePipeTiming,
  type PipeTimingOptions,
  type ResolvedPipeTiming,
} from '../options.js';
import { formatSeconds } from '../pipe/inflight.js';
import { PipeSession, type CloseInfo, type RequestOptions } from '../pipe/session.js';
import { tlsMinVersionOption, type TlsMinVersion } from '../tls-policy.js';
import { GoAwayCode } from '../wire/messages.js';
import { DialError, dialTls, type ClientTlsMaterial } from './connector.js';
import { reconnectDelayMs } from './reconnect-policy.js';
import { ClientSessions, sessionListener } from './session-cache.js';

/** idle → connecting → handshaking → ready → backoff → connecting … → closed. */
export type ClientState = 'idle' | 'connecting' | 'handshaking' | 'ready' | 'backoff' | 'closed';

/** One status change of a client, as `status()` yields them. */
export interface ClientStatus {
  state: ClientState;
  /** Consecutive failed dials so far. */
  attempt: number;
  /** Why the last dial or pipe failed, when the state follows a failure. */
  reason?: string;
  /** In backoff: how long until the next dial. */
  delayMs?: number;
}

export interface PipeClientOptions extends PipeTimingOptions {
  /** Server host name or IP. @default 'localhost' */
  host?: string;
  /** @default 1234 */
  port?: number;
  /** The name the server's certificate must carry. @default host (none for an IP: its IP SAN is checked) */
  servername?: string;
  tls: ClientTlsMaterial;
  /** Backoff floor. @default 500 */
  reconnectMinMs?: number;
  /** Backoff ceiling. @default 30000 */
  reconnectMaxMs?: number;
  /** TCP connect timeout (`--connect-timeout`). @default 3000 */
  connectTimeoutMs?: number;
  /** TLS handshake timeout. @default 10000 */
  handshakeTimeoutMs?: number;
  /** The lowest TLS version offered (`--tls-min`); suites are fixed (src/tls-policy.ts). @default 'TLSv1.2' */
  tlsMinVersion?: TlsMinVersion;
  /**
   * TLS 1.3 session resumption: keep the session the server gives and offer it on the next
   * dial, which then skips the certificate signatures. The server certificate it restores is
   * checked again (dates, the CA in force now) before it is used; a resumed dial that fails is
   * followed at once by a full handshake. @default true
   */
  tlsResumption?: boolean;
  logger?: Logger;
  /** Random source for backoff jitter (tests pin it). @default Math.random */
  random?: () => number;
}

/** Listener signatures of a client's events; the names are SPEC §5's hooks. */
export interface PipeClientEvents {
  /** A pipe is up. `retryAttempts` failed dials came before it; `lastDisconnected` is when the previous pipe ended (null at first). */
  connect_success: [retryAttempts: number, lastDisconnected: Date | null];
  /** A dial or hello failed; the client will retry. */
  connect_fail: [retryAttempts: number, lastDisconnected: Date | null];
  /** Every state change. */
  status: [status: ClientStatus];
}

interface PipeWaiter {
  resolve: (session: PipeSession) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

/**
 * A client node's side of the pipe: dials the server, keeps one pipe up and fights to keep it
 * so (SPEC §6), and sends events over it. Never gives up and never emits 'error': failures are
 * status changes, log lines and `connect_fail` events.
 */
export class PipeClient extends EventEmitter<PipeClientEvents> {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly #servername: string | undefined;
  #tls: ClientTlsMaterial;
  readonly #timing: ResolvedPipeTiming;
  readonly #reconnectMinMs: number;
  readonly #reconnectMaxMs: number;
  readonly #connectTimeoutMs: number;
  readonly #handshakeTimeoutMs: number;
  readonly #tlsMinVersion: TlsMinVersion;
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #handler: EventHandlerFn;
  /** Issue 14: the TLS session to resume, per server (this client dials one). */
  readonly #sessions: ClientSessions;
  readonly #sessionKey: string;
  #state: ClientState = 'idle';
  #session: PipeSession | undefined;
  /** A pipe between TLS and the server's hello, so close() can end it without waiting for the hello timeout. */
  #handshaking: PipeSession | undefined;
  #attempt = 0;
  #lastDisconnected: Date | null = null;
  #lastFailure: string | undefined;
  #connectedSince: Date | null = null;
  readonly #waiters = new Set<PipeWaiter>();
  #backoffTimer: NodeJS.Timeout | undefined;
  #wakeBackoff: (() => void) | undefined;
  #dialAbort: AbortController | undefined;
  #loop: Promise<void> | undefined;
  /** Successful connections so far (the first one included). */
  connects = 0;

  constructor(options: PipeClientOptions, handler: EventHandlerFn) {
    super();
    this.#timing = resolvePipeTiming(options);
    this.host = options.host ?? 'localhost';
    this.port = countOption('port', options.port, DEFAULT_SERVER_PORT, 65_535, 1);
    this.#servername = options.servername;
    this.#tls = options.tls;
    this.#reconnectMinMs = durationOption('reconnectMinMs', options.reconnectMinMs, DEFAULT_RECONNECT_MIN_MS);
    this.#reconnectMaxMs = durationOption('reconnectMaxMs', options.reconnectMaxMs, DEFAULT_RECONNECT_MAX_MS);
    if (this.#reconnectMaxMs < this.#reconnectMinMs) {
      throw invalidOption(`reconnectMaxMs (${this.#reconnectMaxMs}) must not be below reconnectMinMs (${this.#reconnectMinMs})`);
    }
    this.#connectTimeoutMs = durationOption('connectTimeoutMs', options.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS);
    this.#handshakeTimeoutMs = durationOption('handshakeTimeoutMs', options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS);
    this.#tlsMinVersion = tlsMinVersionOption(options.tlsMinVersion);
    this.#random = options.random ?? Math.random;
    this.#handler = handler;
    this.#sessions = new ClientSessions({ enabled: options.tlsResumption ?? true });
    this.#sessionKey = `${this.host}:${this.port}:${this.#servername ?? ''}`;
    this.name = certificateCommonName(options.tls.cert);
    this.#log = (options.logger ?? silentLogger).child({ role: 'client', dial: `${this.host}:${this.port}` });
  }

  get state(): ClientState {
    return this.#state;
  }

  /** The open pipe, when there is one. */
  get session(): PipeSession | undefined {
    return this.#session;
  }

  /** When the current pipe opened. */
  get connectedSince(): Date | null {
    return this.#connectedSince;
  }

  /** Consecutive failed dials. */
  get attempt(): number {
    return this.#attempt;
  }

  /** Senders waiting (connect-wait) for a pipe; 0 when idle (leak checks, status). */
  get waitingSenders(): number {
    return this.#waiters.size;
  }

  /** Why the last dial or pipe failed. */
  get lastFailure(): string | undefined {
    return this.#lastFailure;
  }

  /** Starts dialing (once); returns at once. The client then reconnects until close(). */
  start(): this {
    if (this.#isClosed()) throw new RestpipeError(ErrorCode.CLOSED, 'the client is closed');
    this.#loop ??= this.#run();
    return this;
  }

  /** Status changes as an async iterator, for tests and operators; ends when `signal` aborts. */
  async *status(signal?: AbortSignal): AsyncGenerator<ClientStatus> {
    try {
      for await (const [status] of on(this, 'status', signal === undefined ? {} : { signal })) {
        yield status as ClientStatus;
      }
    } catch (err) {
      if ((err as Error).name !== 'AbortError') throw err;
    }
  }

  /**
   * Waits until a pipe is open, up to `timeoutMs`.
   * @throws RestpipeError no_connection, closed or aborted.
   */
  async waitReady(timeoutMs = this.#timing.connectWaitMs, signal?: AbortSignal): Promise<void> {
    this.start();
    await this.#usableSession(timeoutMs, signal);
  }

  /**
   * Sends an event to the server and resolves with its reply, whatever the reply's code.
   * While there is no pipe, waits up to connect-wait for one. Rejects with a RestpipeError:
   * bad_request, no_connection, pipe_broken, event_timeout, aborted, too_many_in_flight,
   * body_too_large, closed. Never re-sends (at most once).
   */
  send(event: EventRequest, options: RequestOptions & { connectWaitMs?: number } = {}): Promise<Reply> {
    // Not async: with a pipe open (the hot path) the session's own promise is returned, without
    // a wrapping promise and its extra turns. Every failure is still a rejection.
    try {
      validateEventRequest(event);
      const session = this.#session;
      if (session?.isUsable === true) return session.request(event, options);
      return this.#usableSession(options.connectWaitMs ?? this.#timing.connectWaitMs, options.signal).then((s) => s.request(event, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Replaces the TLS material (a renewed identity): every dial from now on uses it, and an open
   * pipe is closed within `graceMs` (its events finish) so that the client reconnects with it
   * at once rather than at the next failure. The CN must stay the same: it is the node's name.
   * @throws RestpipeError `invalid_option` when the certificate names another node.
   */
  updateTls(material: ClientTlsMaterial, { graceMs = DEFAULT_GRACE_MS }: { graceMs?: number } = {}): void {
    const cn = certificateCommonName(material.cert);
    if (cn !== this.name) throw invalidOption(`the new certificate is for '${cn}', not '${this.name}': a node keeps its name (restart it to change it)`);
    // A new object: the connector caches a SecureContext per material object.
    this.#tls = { key: material.key, cert: material.cert, ca: material.ca };
    // A session resumed now would present the old certificate again.
    this.#sessions.clear();
    void this.#session?.close(graceMs, 'identity reloaded; reconnecting with the new certificate');
  }

  /**
   * Stops reconnecting, lets in-flight events finish within `graceMs` (goaway both ways),
   * then closes the pipe. Waiting senders fail with `closed`.
   */
  async close({ graceMs = DEFAULT_GRACE_MS }: { graceMs?: number } = {}): Promise<void> {
    if (this.#isClosed()) {
      await this.#loop;
      return;
    }
    this.#setState('closed');
    this.#failWaiters(new RestpipeError(ErrorCode.CLOSED, 'the client is closing'));
    this.#dialAbort?.abort();
    this.#handshaking?.destroy('client closed', GoAwayCode.SHUTDOWN);
    clearTimeout(this.#backoffTimer);
    this.#wakeBackoff?.();
    await this.#session?.close(graceMs, 'client shutting down');
    await this.#loop;
    this.removeAllListeners('status');
  }

  async #run(): Promise<void> {
    while (!this.#isClosed()) {
      const { failed, reason, retryNow } = await this.#connectOnce();
      if (this.#isClosed()) break;
      this.#lastFailure = reason;
      if (failed) {
        this.#attempt++;
        this.emit('connect_fail', this.#attempt, this.#lastDisconnected);
      }
      if (retryNow === true) {
        // A resumed session that did not give a pipe was dropped: the full handshake that
        // follows is judged on its own merits, once (it offers no session, so it cannot loop).
        this.#log.info({ attempt: this.#attempt, reason }, `resumed TLS session failed: ${reason}; dialing again at once with a full handshake`);
        continue;
      }
      // Even the first redial after a good pipe is jittered: after a server restart, every
      // client is here at the same instant.
      const delayMs = reconnectDelayMs(Math.max(1, this.#attempt), this.#reconnectMinMs, this.#reconnectMaxMs, this.#random);
      this.#log.warn(
        { attempt: this.#attempt, reason, retryInS: Number((delayMs / 1000).toFixed(3)) },
        `no pipe to the server: ${reason}; retrying in ${formatSeconds(delayMs)}`,
      );
      this.#setState('backoff', { reason, delayMs });
      await new Promise<void>((resolve) => {
        this.#wakeBackoff = resolve;
        this.#backoffTimer = setTimeout(resolve, delayMs);
      });
      this.#wakeBackoff = undefined;
    }
  }

  /**
   * One dial + hello + the life of the pipe. Returns why it ended, and whether that counts as a
   * failed attempt (a dial or hello that failed, or a pipe that never proved healthy).
   */
  async #connectOnce(): Promise<{ failed: boolean; reason: string; retryNow?: boolean }> {
    this.#setState('connecting');
    this.#dialAbort = new AbortController();
    let socket: TLSSocket;
    let serverCn: string;
    let serverCertDer: Buffer | undefined;
    const tls = this.#tls;
    const offered = this.#sessions.offer(this.#sessionKey, tls.ca);
    const onSession = this.#sessions.enabled ? sessionListener() : undefined;
    try {
      ({ socket, serverCn, serverCertDer } = await dialTls({
        host: this.host,
        port: this.port,
        ...(this.#servername === undefined ? {} : { servername: this.#servername }),
        tls,
        tlsMinVersion: this.#tlsMinVersion,
        connectTimeoutMs: this.#connectTimeoutMs,
        handshakeTimeoutMs: this.#handshakeTimeoutMs,
        keepAliveMs: this.#timing.heartbeatIntervalMs,
        signal: this.#dialAbort.signal,
        ...(offered === undefined ? {} : { session: offered }),
        ...(onSession === undefined ? {} : { onSession }),
      }));
    } catch (err) {
      const reason = err instanceof DialError ? err.message : String(err);
      this.#publishDial('failed', reason);
      return { failed: true, reason };
    } finally {
      this.#dialAbort = undefined;
    }
    if (this.#isClosed()) {
      socket.destroy();
      return { failed: false, reason: 'client closed' };
    }
    // Issue 14: a resumed session restores the server certificate of an earlier handshake, which
    // OpenSSL does not check again; it must still pass now.
    const dial = this.#sessions.dialed(this.#sessionKey, socket, tls.ca, { serverCn, serverCertDer }, onSession);
    if (dial.refusal !== undefined) {
      socket.destroy();
      dial.failed(true);
      const reason = `the server certificate restored from the resumed TLS session is refused now (${dial.refusal})`;
      this.#publishDial('failed', reason);
      return { failed: true, reason, retryNow: true };
    }

    this.#setState('handshaking');
    const serverName = dial.serverCn || this.host;
    const session = new PipeSession(socket, {
      role: 'client',
      localName: this.name,
      peer: { name: serverName, address: socket.remoteAddress ?? this.host },
      timing: this.#timing,
      handler: this.#handler,
      logger: this.#log.child({ peer: serverName }),
      onPeerGoAway: (s, reason) => {
        // The pipe still finishes its in-flight events, but new ones must wait for a new pipe.
        if (s === this.#session && !this.#isClosed()) this.#log.info({ reason }, 'the server is closing the pipe; reconnecting');
      },
    });
    this.#handshaking = session;
    try {
      await session.handshake();
    } catch (err) {
      if (this.#isClosed()) return { failed: false, reason: 'client closed' };
      const reason = (err as RestpipeError).code === ErrorCode.PIPE_BROKEN
        ? `the server closed the connection before its hello: our certificate was probably refused (see the server's log) [${(err as Error).message}]`
        : (err as Error).message;
      this.#publishDial('failed', reason);
      // Only a server that said it refused our certificate gets a full handshake at once.
      return { failed: true, reason, retryNow: dial.failed(session.peerGoAwayCode === GoAwayCode.UNAUTHORIZED) };
    } finally {
      this.#handshaking = undefined;
    }
    if (this.#isClosed()) {
      session.destroy('client closed', GoAwayCode.SHUTDOWN);
      return { failed: false, reason: 'client closed' };
    }
    dial.pipeUp();

    const retryAttempts = this.#attempt;
    this.#session = session;
    this.#connectedSince = new Date();
    this.connects++;
    this.#log.info(
      { server: serverName, address: socket.remoteAddress, tls: socket.getProtocol(), resumed: dial.resumed, retryAttempts },
      `pipe open to server '${serverName}'`,
    );
    this.#publishDial('connected');
    this.#setState('ready');
    this.emit('connect_success', retryAttempts, this.#lastDisconnected);
    this.#resolveWaiters(session);

    const info: CloseInfo = await session.closed();
    this.#session = undefined;
    this.#connectedSince = null;
    this.#lastDisconnected = info.at;
    // Only a pipe that carried a heartbeat round trip resets the backoff: a middlebox that
    // accepts and forwards nothing (or a server that refuses us after the handshake) must not
    // turn the dial loop into a tight loop.
    // A pipe the server replaced (another live client has our certificate) counts as a failure
    // too: otherwise the two would evict each other at reconnect-min forever (frp#5341,
    // RELIABILITY F15); this way each eviction doubles the evicted one's backoff.
    const replaced = session.peerGoAwayCode === GoAwayCode.REPLACED;
    if (session.isHealthy && !replaced) this.#attempt = 0;
    if (!this.#isClosed()) {
      if (replaced) {
        this.#log.warn(
          { reason: info.reason, attempt: this.#attempt + 1 },
          `pipe to the server replaced by another connection with our identity (${this.name}); is another client using our certificate? backing off`,
        );
      } else {
        this.#log.warn({ reason: info.reason }, `pipe to the server closed: ${info.reason}`);
      }
    }
    return { failed: !session.isHealthy || replaced, reason: `pipe closed: ${info.reason}` };
  }

  /** A method, not a field test, because close() can change the state across any await. */
  #isClosed(): boolean {
    return this.#state === 'closed';
  }

  #publishDial(outcome: 'connected' | 'failed', reason?: string): void {
    if (channels.dial.hasSubscribers) {
      channels.dial.publish({ server: `${this.host}:${this.port}`, outcome, attempt: this.#attempt, ...(reason === undefined ? {} : { reason }) });
    }
  }

  #setState(state: ClientState, extra: { reason?: string; delayMs?: number } = {}): void {
    if (this.#state === 'closed' && state !== 'closed') return;
    this.#state = state;
    this.#log.debug({ state, attempt: this.#attempt }, 'client state');
    this.emit('status', { state, attempt: this.#attempt, ...extra });
  }

  #usableSession(timeoutMs: number, signal: AbortSignal | undefined): Promise<PipeSession> {
    if (this.#isClosed()) return Promise.reject(new RestpipeError(ErrorCode.CLOSED, 'the client is closed'));
    if (this.#session?.isUsable === true) return Promise.resolve(this.#session);
    if (signal?.aborted) return Promise.reject(abortedError(signal));
    this.start();
    return new Promise<PipeSession>((resolve, reject) => {
      const waiter: PipeWaiter = {
        resolve,
        reject,
        signal,
        onAbort: undefined,
        timer: setTimeout(() => {
          this.#dropWaiter(waiter);
          reject(
            new RestpipeError(
              ErrorCode.NO_CONNECTION,
              `no pipe to the server ${this.host}:${this.port} within ${formatSeconds(timeoutMs)}` +
                (this.#lastFailure === undefined ? '' : `; last failure: ${this.#lastFailure}`),
            ),
          );
        }, timeoutMs),
      };
      waiter.timer.unref();
      if (signal !== undefined) {
        waiter.onAbort = () => {
          this.#dropWaiter(waiter);
          reject(abortedError(signal));
        };
        signal.addEventListener('abort', waiter.onAbort, { once: true });
      }
      this.#waiters.add(waiter);
    });
  }

  #dropWaiter(waiter: PipeWaiter): void {
    this.#waiters.delete(waiter);
    clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener('abort', waiter.onAbort);
  }

  #resolveWaiters(session: PipeSession): void {
    for (const waiter of [...this.#waiters]) {
      this.#dropWaiter(waiter);
      waiter.resolve(session);
    }
  }

  #failWaiters(err: Error): void {
    for (const waiter of [...this.#waiters]) {
      this.#dropWaiter(waiter);
      waiter.reject(err);
    }
  }
}

function abortedError(signal: AbortSignal): RestpipeError {
  return new RestpipeError(ErrorCode.ABORTED, 'the caller gave up on the event', { cause: signal.reason });
}
