import { EventEmitter, on } from 'node:events';
import { certificateCommonName } from '../certificate.js';
import { channels } from '../diagnostics.js';
import { ErrorCode, RestpipeError } from '../errors.js';
import { parseEvent, resolveSendOptions, type EventHandlerFn, type EventRequest, type ParsedEvent, type Reply, type SendOptions } from '../event.js';
import { silentLogger, type Logger } from '../log.js';
import { DEFAULT_GRACE_MS } from '../options/defaults.js';
import { invalidOption } from '../options/validate.js';
import { ConnectWaiters } from '../pipe/connect-wait.js';
import type { PipeSession, RequestOptions } from '../pipe/session.js';
import type { CertificateExpiry, ClientState, EventSender, PipeInfo } from '../sender.js';
import { StateMachine } from '../state-machine.js';
import { formatSeconds } from '../text.js';
import { GoAwayCode } from '../wire/messages.js';
import type { ClientStatus, PipeClientEvents, RestpipeClient } from './client-api.js';
import { ClientCertificates } from './client-certificates.js';
import { clientEventSender } from './client-sender.js';
import { resolveClientOptions, type PipeClientOptions, type ResolvedClientOptions } from './client-options.js';
import { dialTls, type ClientTlsMaterial, type Connector } from './connector.js';
import { openPipe } from './open-pipe.js';
import { reconnectDelayMs } from './reconnect-policy.js';
import { ClientSessions } from './session-cache.js';

export type { PipeClientOptions } from './client-options.js';
export type { ClientStatus, PipeClientEvents, RestpipeClient } from './client-api.js';

/** The moves a client may make (see StateMachine); `closed` is final. */
export const CLIENT_MOVES = {
  idle: ['connecting', 'closed'],
  connecting: ['handshaking', 'backoff', 'closed'],
  handshaking: ['ready', 'backoff', 'closed'],
  ready: ['backoff', 'closed'],
  backoff: ['connecting', 'closed'],
  closed: [],
} as const satisfies Record<ClientState, readonly ClientState[]>;

/** The one key of the client's connect-wait waiters: it has one peer. */
const SERVER = 'server';

/**
 * A client node's side of the pipe: dials the server, keeps one pipe up and fights to keep it
 * so (SPEC §6), and sends events over it. Its state moves through one table (CLIENT_MOVES):
 * idle → connecting → handshaking → ready → backoff → connecting … → closed. Never gives up
 * and never emits 'error': failures are status changes, log lines and `connect_fail` events.
 */
export class PipeClient extends EventEmitter<PipeClientEvents> implements RestpipeClient {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly #options: ResolvedClientOptions;
  #tls: ClientTlsMaterial;
  readonly #log: Logger;
  readonly #random: () => number;
  readonly #connector: Connector;
  readonly #handler: EventHandlerFn;
  readonly #state: StateMachine<ClientState>;
  /** Issue 14: the TLS session to resume, per server (this client dials one). */
  readonly #sessions: ClientSessions;
  readonly #sessionKey: string;
  #sender: EventSender | undefined;
  #session: PipeSession | undefined;
  /** A pipe between TLS and the server's hello, so close() can end it without waiting for the hello timeout. */
  #handshaking: PipeSession | undefined;
  #attempt = 0;
  #connects = 0;
  #lastDisconnected: Date | null = null;
  #lastFailure: string | undefined;
  #connectedSince: Date | null = null;
  readonly #waiters = new ConnectWaiters<PipeSession>();
  /** Its own, its CA's and the server's certificates: status, gauge, expiry warnings; the pipe ends when the server's expires. */
  readonly #certificates: ClientCertificates;
  #backoffTimer: NodeJS.Timeout | undefined;
  #wakeBackoff: (() => void) | undefined;
  #dialAbort: AbortController | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: PipeClientOptions, handler: EventHandlerFn) {
    super();
    this.#options = resolveClientOptions(options);
    this.host = this.#options.host;
    this.port = this.#options.port;
    this.#tls = options.tls;
    this.#random = options.random ?? Math.random;
    this.#connector = options.connector ?? dialTls;
    this.#handler = handler;
    this.#sessions = new ClientSessions({ enabled: this.#options.tlsResumption });
    this.#sessionKey = `${this.host}:${this.port}:${this.#options.servername ?? ''}`;
    this.name = certificateCommonName(options.tls.cert);
    this.#log = (options.logger ?? silentLogger).child({ role: 'client', dial: `${this.host}:${this.port}` });
    this.#state = new StateMachine<ClientState>('client', 'idle', CLIENT_MOVES, {
      onMove: (_from, to) => this.#log.debug({ state: to, attempt: this.#attempt }, 'client state'),
    });
    this.#certificates = new ClientCertificates(this.#log, options);
    this.#certificates.setIdentity(options.tls.cert, options.tls.ca);
  }

  /** Its own certificate, its CA's, and the server's while a pipe is open, with their expiry. */
  certificates(): CertificateExpiry[] {
    return this.#certificates.list();
  }

  get state(): ClientState {
    return this.#state.state;
  }

  /** The client as a gateway sees it (see EventSender): made once, on first use. */
  get sender(): EventSender {
    return (this.#sender ??= clientEventSender(this));
  }

  /** The open pipe, when there is one: a snapshot. */
  pipe(): PipeInfo | undefined {
    return this.#session?.info();
  }

  /** When the current pipe opened. */
  get connectedSince(): Date | null {
    return this.#connectedSince;
  }

  /** Consecutive failed dials. */
  get attempt(): number {
    return this.#attempt;
  }

  /** Successful connections so far (the first one included). */
  get connects(): number {
    return this.#connects;
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
  async waitReady(timeoutMs = this.#options.timing.connectWaitMs, signal?: AbortSignal): Promise<void> {
    this.start();
    await this.#usableSession(timeoutMs, signal);
  }

  /**
   * Sends an event to the server and resolves with its reply, whatever the reply's code.
   * While there is no pipe, waits up to connect-wait for one. Rejects with a RestpipeError:
   * bad_request, no_connection, pipe_broken, event_timeout, aborted, too_many_in_flight,
   * body_too_large, closed. Never re-sends (at most once).
   */
  send(event: EventRequest, options: SendOptions = {}): Promise<Reply> {
    // Not async: every failure is still a rejection.
    try {
      return this.sendParsed(parseEvent(event), resolveSendOptions(options, this.#options.timing));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * {@link send} for an event already parsed and checked where it entered the node (the
   * gateway). Not async: with a pipe open (the hot path) the session's own promise is returned,
   * without a wrapping promise and its extra turns.
   * @internal
   */
  sendParsed(event: ParsedEvent, options: RequestOptions & { connectWaitMs?: number }): Promise<Reply> {
    const session = this.#session;
    if (session?.isUsable === true) return session.request(event, options);
    return this.#usableSession(options.connectWaitMs ?? this.#options.timing.connectWaitMs, options.signal).then((s) => s.request(event, options));
  }

  /**
   * Closes the current pipe now: its in-flight events fail with `pipe_broken`, the server is
   * told why with a goaway of `code` (none with `GoAwayCode.UNSPECIFIED`: the pipe is cut as a
   * network failure would cut it), and the client reconnects as after any broken pipe. False
   * when no pipe is open.
   */
  disconnect(reason: string, code: GoAwayCode = GoAwayCode.SHUTDOWN): boolean {
    const session = this.#session;
    if (session === undefined) return false;
    session.destroy(reason, code);
    return true;
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
    this.#certificates.setIdentity(material.cert, material.ca);
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
    this.#move('closed');
    this.#waiters.failAll(new RestpipeError(ErrorCode.CLOSED, 'the client is closing'));
    this.#dialAbort?.abort();
    this.#handshaking?.destroy('client closed', GoAwayCode.SHUTDOWN);
    clearTimeout(this.#backoffTimer);
    this.#wakeBackoff?.();
    await this.#session?.close(graceMs, 'client shutting down');
    await this.#loop;
    this.#certificates.close();
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
        this.#log.info({ attempt: this.#attempt, reason }, `resumed TLS session failed: ${reason}; dialing again at once with a full handshake`);
        this.#move('backoff', { reason, delayMs: 0 });
        continue;
      }
      // Even the first redial after a good pipe is jittered: after a server restart, every
      // client is here at the same instant.
      const delayMs = reconnectDelayMs(Math.max(1, this.#attempt), this.#options.reconnectMinMs, this.#options.reconnectMaxMs, this.#random);
      this.#log.warn(
        { attempt: this.#attempt, reason, retryInS: Number((delayMs / 1000).toFixed(3)) },
        `no pipe to the server: ${reason}; retrying in ${formatSeconds(delayMs)}`,
      );
      this.#move('backoff', { reason, delayMs });
      await new Promise<void>((resolve) => {
        this.#wakeBackoff = resolve;
        this.#backoffTimer = setTimeout(resolve, delayMs);
      });
      this.#wakeBackoff = undefined;
    }
  }

  /**
   * One attempt (open-pipe.ts) and the life of its pipe. Returns why it ended, and whether that
   * counts as a failed attempt (a dial or hello that failed, or a pipe that never proved healthy).
   */
  async #connectOnce(): Promise<{ failed: boolean; reason: string; retryNow?: true }> {
    this.#move('connecting');
    this.#dialAbort = new AbortController();
    const opened = await openPipe({
      options: this.#options,
      tls: this.#tls,
      localName: this.name,
      handler: this.#handler,
      logger: this.#log,
      connector: this.#connector,
      signal: this.#dialAbort.signal,
      sessions: this.#sessions,
      sessionKey: this.#sessionKey,
      onHandshaking: (session) => {
        this.#handshaking = session;
        if (!this.#isClosed()) this.#move('handshaking');
      },
      onPeerGoAway: (session, reason) => {
        // The pipe still finishes its in-flight events, but new ones must wait for a new pipe.
        if (session === this.#session && !this.#isClosed()) this.#log.info({ reason }, 'the server is closing the pipe; reconnecting');
      },
    });
    this.#dialAbort = undefined;
    this.#handshaking = undefined;
    if (this.#isClosed()) {
      if (opened.ok) opened.session.destroy('client closed', GoAwayCode.SHUTDOWN);
      return { failed: false, reason: 'client closed' };
    }
    if (!opened.ok) {
      this.#publishDial('failed', opened.reason);
      return { failed: true, reason: opened.reason, ...(opened.retryNow === true ? { retryNow: true as const } : {}) };
    }

    const { session, serverName, dialed, resumed } = opened;
    const retryAttempts = this.#attempt;
    this.#session = session;
    this.#connectedSince = new Date();
    this.#connects++;
    this.#log.info(
      { server: serverName, address: dialed.socket.remoteAddress, tls: dialed.socket.getProtocol(), resumed, retryAttempts },
      `pipe open to server '${serverName}'`,
    );
    this.#publishDial('connected');
    this.#certificates.serverConnected(session, serverName, opened.serverCertificate);
    this.#move('ready');
    this.emit('connect_success', retryAttempts, this.#lastDisconnected);
    this.#waiters.resolve(SERVER, session);

    const info = await session.closed();
    this.#certificates.serverLeft(session);
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
    return this.#state.is('closed');
  }

  /** The one way the client's state changes: refuses an illegal move, then tells `status` listeners. */
  #move(state: ClientState, extra: { reason?: string; delayMs?: number } = {}): void {
    this.#state.move(state);
    this.emit('status', { state, attempt: this.#attempt, ...extra });
  }

  #publishDial(outcome: 'connected' | 'failed', reason?: string): void {
    if (channels.dial.hasSubscribers) {
      channels.dial.publish({ server: `${this.host}:${this.port}`, outcome, attempt: this.#attempt, ...(reason === undefined ? {} : { reason }) });
    }
  }

  #usableSession(timeoutMs: number, signal: AbortSignal | undefined): Promise<PipeSession> {
    if (this.#isClosed()) return Promise.reject(new RestpipeError(ErrorCode.CLOSED, 'the client is closed'));
    if (this.#session?.isUsable === true) return Promise.resolve(this.#session);
    // An aborted caller starts no dial (the waiters refuse it at once anyway).
    if (signal?.aborted !== true) this.start();
    return this.#waiters.wait(SERVER, timeoutMs, signal, () =>
      new RestpipeError(
        ErrorCode.NO_CONNECTION,
        `no pipe to the server ${this.host}:${this.port} within ${formatSeconds(timeoutMs)}` +
          (this.#lastFailure === undefined ? '' : `; last failure: ${this.#lastFailure}`),
      ),
    );
  }
}
