import { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { NodeCertificates } from '../cert-expiry.js';
import { certificateCommonName } from '../certificate.js';
import { channels } from '../diagnostics.js';
import { ErrorCode, RestpipeError } from '../errors.js';
import { parseEvent, resolveSendOptions, type EventHandlerFn, type EventRequest, type ParsedEvent, type PeerInfo, type Reply, type SendOptions } from '../event.js';
import { RateLimitedLog, silentLogger, type Logger } from '../log.js';
import { DEFAULT_GRACE_MS, DEFAULT_LISTEN_HOST, DEFAULT_SERVER_PORT } from '../options/defaults.js';
import { PipeSession, type RequestOptions } from '../pipe/session.js';
import type { CertificateExpiry, EventSender, ServerState } from '../sender.js';
import { StateMachine } from '../state-machine.js';
import { GoAwayCode } from '../wire/messages.js';
import { Acceptor } from './acceptor.js';
import { CertWatch } from './cert-watch.js';
import { ClientRegistry } from './client-registry.js';
import { NeverConnectedLog } from './never-connected-log.js';
import { normalizeAddress, type AcceptedPeer } from './peer-identity.js';
import { Refusals } from './refusals.js';
import type { ConnectedClient, PipeServerEvents, RestpipeServer } from './server-api.js';
import { resolveServerOptions, type PipeServerOptions, type ResolvedServerOptions, type ServerTlsMaterial } from './server-options.js';
import { serverEventSender } from './server-sender.js';
import { StormLog } from './storm-log.js';

export type { PipeServerOptions, ServerTlsMaterial } from './server-options.js';
export type { ConnectedClient, PipeServerEvents, RestpipeServer } from './server-api.js';

/** The moves a server may make (see StateMachine); `closed` is final. */
export const SERVER_MOVES = {
  not_listening: ['listening', 'closing'],
  listening: ['closing'],
  closing: ['closed'],
  closed: [],
} as const satisfies Record<ServerState, readonly ServerState[]>;

/** How long close() lets ended pipe sockets flush their last frames before destroying them. */
const CLOSE_FLUSH_MS = 1_000;

/**
 * The server node's side: accepts pipes from clients (acceptor.ts: mutual TLS, refusals),
 * keeps a registry of them by CN (client-registry.ts: replacement, connect-wait), keeps their
 * certificates' verdicts in force (cert-watch.ts), and sends events to them by name. Its state
 * moves through one table (SERVER_MOVES): not_listening → listening → closing → closed. Never
 * emits 'error' for a client's failure: those are log lines, `refused` events and pipe closes.
 */
export class PipeServer extends EventEmitter<PipeServerEvents> implements RestpipeServer {
  readonly name: string;
  readonly #options: ResolvedServerOptions;
  readonly #tlsMaterial: ServerTlsMaterial;
  readonly #handler: EventHandlerFn;
  readonly #log: Logger;
  readonly #state: StateMachine<ServerState>;
  readonly #refusals: Refusals;
  readonly #acceptor: Acceptor;
  readonly #certWatch: CertWatch<PipeSession>;
  /** Its own, its CA's and its clients' certificates: status, gauge, expiry warnings. */
  readonly #certificates: NodeCertificates;
  readonly #neverConnectedLog: NeverConnectedLog;
  // The lines a client can cause at will by reconnecting (connected, replaced, goaway, protocol
  // error, disconnected): at most 5 per kind per CN per 10 s, then a count. A thief reconnecting
  // with a copied key, or a client looping connect-goaway, must not flood the log.
  readonly #peerLog: RateLimitedLog;
  readonly #registry = new ClientRegistry<PipeSession>();
  /** Issue 14: in a reconnect storm, one summary line per second instead of a line per client. */
  readonly #stormLog: StormLog;
  /** Sessions between TLS and hello, so close() can end them too. */
  readonly #pending = new Set<PipeSession>();
  #sender: EventSender | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  #idleSince = new Date();
  #closed: Promise<void> | undefined;

  constructor(options: PipeServerOptions, handler: EventHandlerFn) {
    super();
    this.#options = resolveServerOptions(options);
    // A copy: updateTls() changes it, and the caller's object is the caller's.
    this.#tlsMaterial = { ...options.tls };
    this.#handler = handler;
    this.name = certificateCommonName(options.tls.cert) || 'server';
    this.#log = (options.logger ?? silentLogger).child({ role: 'server' });
    this.#state = new StateMachine<ServerState>('server', 'not_listening', SERVER_MOVES, {
      onMove: (from, to) => this.#log.debug({ from, to }, 'server state'),
    });
    this.#peerLog = new RateLimitedLog(10_000, 5, (key, suppressed, windowMs) =>
      this.#log.warn({ like: key, suppressed, windowS: windowMs / 1000 }, `${suppressed} more log lines like '${key}' suppressed in the last ${windowMs / 1000} s`),
    );
    this.#neverConnectedLog = new NeverConnectedLog(this.#log);
    this.#stormLog = new StormLog(this.#log, () => this.#registry.size);
    this.#refusals = new Refusals(this.#log, (refusal) => this.emit('refused', refusal));
    this.#certificates = new NodeCertificates('server', this.#log, options);
    this.#certificates.setIdentity(options.tls.cert, options.tls.ca);
    this.#certWatch = new CertWatch(this.#refusals, this.#log, (nextUpdate) => this.#certificates.crlRead(nextUpdate, 'in use'));
    this.#acceptor = new Acceptor(
      options.tls,
      {
        handshakeTimeoutMs: this.#options.handshakeTimeoutMs,
        tlsMinVersion: this.#options.tlsMinVersion,
        keepAliveMs: this.#options.timing.heartbeatIntervalMs,
        resumption: {
          enabled: this.#options.tlsResumption,
          ticketKeyFile: this.#options.ticketKeyFile,
          ticketKeyRotationMs: this.#options.ticketKeyRotationMs,
        },
      },
      this.#refusals,
      this.#log,
      {
        closing: () => this.#state.is('closing', 'closed'),
        isRevoked: (der) => this.#certWatch.isRevoked(der),
        accepted: (socket, peer, address) => this.#openPipe(socket, peer, address),
      },
    );
    if (options.tls.crl !== undefined) void this.#recheckRevocations();
  }

  /** Its own, its CA's and each connected client's certificate, with their expiry. */
  certificates(): CertificateExpiry[] {
    return this.#certificates.list();
  }

  /** With a CRL: its nextUpdate (null when it has none); undefined without a CRL or before it is read. */
  get crlNextUpdate(): Date | null | undefined {
    return this.#certWatch.crlNextUpdate;
  }

  /** Where the server listens, once listening. */
  get address(): AddressInfo | undefined {
    return this.#acceptor.address;
  }

  get state(): ServerState {
    return this.#state.state;
  }

  /** True while accepting pipes (after listen(), before close()). */
  get listening(): boolean {
    return this.#state.is('listening');
  }

  /** The server as a gateway sees it (see EventSender): made once, on first use. */
  get sender(): EventSender {
    return (this.#sender ??= serverEventSender(this, { dnsTimeoutMs: this.#options.dnsTimeoutMs, logger: this.#log }));
  }

  /** Whether a client with this CN is connected (a Map lookup, for the gateway's hot path). */
  hasClient(name: string): boolean {
    return this.#registry.get(name) !== undefined;
  }

  /**
   * Whether `name` is the CN of a client connected now or at any time since this server
   * started. The gateway sends to such a name as a CN straight away (waiting connect-wait for
   * its pipe) instead of first trying it as a host name: a DNS lookup of a CN that is between
   * two pipes can take seconds where no resolver answers.
   */
  knowsClient(name: string): boolean {
    return this.#registry.knows(name);
  }

  /** Senders waiting (connect-wait) for a client to connect; 0 when idle (leak checks, status). */
  get waitingSenders(): number {
    return this.#registry.waiterCount;
  }

  /** Connected clients (hello exchanged). */
  get clientCount(): number {
    return this.#registry.size;
  }

  /** Starts accepting pipes. Resolves with the bound address (port 0 picks a free port). */
  async listen({ host = DEFAULT_LISTEN_HOST, port = DEFAULT_SERVER_PORT }: { host?: string; port?: number } = {}): Promise<AddressInfo> {
    if (this.#state.is('closing', 'closed')) throw new RestpipeError(ErrorCode.CLOSED, 'the server is closed');
    if (this.#state.is('listening')) throw new RestpipeError(ErrorCode.INTERNAL_ERROR, 'listen() called twice');
    const address = await this.#acceptor.listen(host, port);
    if (!this.#state.canMove('listening')) return address; // close() came first; it stops the listener
    this.#state.move('listening');
    this.#idleSince = new Date();
    this.#idleTimer = setInterval(() => this.#idleTick(), this.#options.idleHookIntervalMs);
    this.#idleTimer.unref();
    this.#log.info({ address: address.address, port: address.port, name: this.name }, 'accepting pipes');
    return address;
  }

  /**
   * Sends an event to the client named `clientName` (its certificate CN) and resolves with its
   * reply. Waits up to connect-wait for that client to connect. Rejects with a RestpipeError:
   * bad_request, no_connection, pipe_broken, event_timeout, aborted, too_many_in_flight,
   * body_too_large, closed.
   */
  send(clientName: string, event: EventRequest, options: SendOptions = {}): Promise<Reply> {
    // Not async: every failure is still a rejection.
    try {
      return this.sendParsed(clientName, parseEvent(event), resolveSendOptions(options, this.#options.timing));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * {@link send} for an event already parsed and checked where it entered the node (the
   * gateway). Not async: with the client's pipe open (the hot path) the session's own promise
   * is returned, without a wrapping promise and its extra turns.
   * @internal
   */
  sendParsed(clientName: string, event: ParsedEvent, options: RequestOptions & { connectWaitMs?: number }): Promise<Reply> {
    if (this.#state.is('closing', 'closed')) return Promise.reject(new RestpipeError(ErrorCode.CLOSED, 'the server is closing'));
    const current = this.#registry.get(clientName);
    if (current?.isUsable === true) return current.request(event, options);
    const waitMs = options.connectWaitMs ?? this.#options.timing.connectWaitMs;
    if (current === undefined && !this.#registry.knows(clientName)) {
      this.#neverConnectedLog.waiting(clientName, waitMs, () => this.#registry.pipes().map((p) => p.peer.name));
    }
    return this.#registry.waitFor(clientName, waitMs, options.signal).then((session) => session.request(event, options));
  }

  /** The connected clients. */
  clients(): ConnectedClient[] {
    return this.#registry.pipes().map((s) => s.info());
  }

  /** The client with that CN, if connected. */
  client(name: string): ConnectedClient | undefined {
    return this.#registry.get(name)?.info();
  }

  /** Connected clients whose address is `address` (IPv4-mapped IPv6 normalised). */
  clientsAt(address: string): ConnectedClient[] {
    return this.#registry.findByAddress(normalizeAddress(address)).map((s) => s.info());
  }

  /**
   * Replaces the CRL (or the whole TLS material). New handshakes use it at once. A certificate
   * revocation must also end the pipes already open with that certificate (OpenSSL only checks
   * at the handshake, and a pipe lives for days): when `crl` is given, every live pipe whose
   * certificate it revokes is closed with a logged reason (CERT_REVOKED) and its client is told
   * so in a goaway. Resolves with the names of the clients dropped.
   * @throws Error synchronously when Node refuses the material (the previous one stays).
   */
  updateTls(material: Partial<ServerTlsMaterial>): Promise<string[]> {
    this.#acceptor.updateTls({ ...this.#tlsMaterial, ...material });
    Object.assign(this.#tlsMaterial, material);
    if (material.cert !== undefined || material.ca !== undefined) this.#certificates.setIdentity(this.#tlsMaterial.cert, this.#tlsMaterial.ca);
    if (!('crl' in material)) return Promise.resolve([]);
    return this.#recheckRevocations();
  }

  /** See {@link RestpipeServer.reloadTicketKeys}. */
  reloadTicketKeys(): boolean {
    return this.#acceptor.reloadTicketKeys();
  }

  /** Closes one client's pipe now (its in-flight events fail with pipe_broken), telling it `code`. */
  disconnect(name: string, reason: string, code: GoAwayCode = GoAwayCode.SHUTDOWN): boolean {
    const session = this.#registry.get(name);
    if (session === undefined) return false;
    session.destroy(reason, code);
    return true;
  }

  /**
   * Stops accepting, lets in-flight events on every pipe finish within `graceMs` (goaway both
   * ways), then closes. Senders waiting for a client fail with `closed`.
   */
  close({ graceMs = DEFAULT_GRACE_MS }: { graceMs?: number } = {}): Promise<void> {
    this.#closed ??= this.#close(graceMs);
    return this.#closed;
  }

  async #close(graceMs: number): Promise<void> {
    this.#state.move('closing');
    clearInterval(this.#idleTimer);
    this.#certWatch.close(); // a CRL parse still running must not drop pipes of a closing server
    this.#certificates.close();
    const stopped = this.#acceptor.stopAccepting();
    this.#registry.failWaiters(new RestpipeError(ErrorCode.CLOSED, 'the server is closing'));
    for (const session of this.#pending) session.destroy('server shutting down', GoAwayCode.SHUTDOWN);
    await Promise.all(this.#registry.pipes().map((s) => s.close(graceMs, 'server shutting down')));
    // Sockets still in their TLS handshake are not sessions yet; end them so close() returns.
    this.#acceptor.destroyHandshaking();
    // The sessions' sockets were ended (not destroyed) so their final frames reach the peer;
    // give them a short bound to flush and close, then destroy whatever a dead or stalled
    // peer still holds open.
    let flushTimer: NodeJS.Timeout | undefined;
    const flushed = new Promise<void>((resolve) => {
      flushTimer = setTimeout(resolve, CLOSE_FLUSH_MS);
      flushTimer.unref();
    });
    await Promise.race([stopped, flushed]);
    clearTimeout(flushTimer);
    this.#acceptor.destroyAll();
    await stopped;
    this.#refusals.close(); // reports what it suppressed, leaves no timer
    this.#neverConnectedLog.close();
    this.#peerLog.close();
    this.#stormLog.close();
    this.#state.move('closed');
    this.#log.info({}, 'server closed');
  }

  /** A client passed the acceptor's checks: its pipe opens once the hellos are exchanged. */
  #openPipe(socket: TLSSocket, peer: AcceptedPeer, address: string): void {
    const { name, fingerprint256 } = peer;
    const session: PipeSession = new PipeSession(socket, {
      role: 'server',
      localName: this.name,
      peer: { name, address },
      timing: this.#options.timing,
      handler: this.#handler,
      logger: this.#log,
      logFields: clientLogFields,
      onClose: (info) => this.#onSessionClosed(session, info.reason),
      limitPeerLog: (kind, write) => this.#peerLog.log(`${kind}:${name}`, write),
    });
    this.#certWatch.track(session, peer);
    this.#pending.add(session);
    session.handshake().then(
      () => {
        this.#pending.delete(session);
        this.#register(session, fingerprint256, socket.isSessionReused());
      },
      (err: Error) => {
        this.#pending.delete(session);
        this.#refusals.limit(`hello:${address}`, (extra) =>
          this.#log.warn({ client: name, address, reason: err.message, ...extra }, 'client connected but its pipe did not open'),
        );
      },
    );
  }

  #register(session: PipeSession, fingerprint256: string, resumed: boolean): void {
    const { name, address } = session.peer;
    const notAfter = this.#certWatch.notAfter(session);
    if (notAfter !== undefined) this.#certificates.peerConnected(name, { role: 'client', name, notAfter, fingerprint256 });
    const previous = this.#registry.add(session);
    if (previous !== undefined) {
      this.#peerLog.log(`replaced:${name}`, (extra) =>
        this.#log.warn({ client: name, address, previousAddress: previous.peer.address, ...extra }, `client '${name}' connected again; replacing its previous pipe`),
      );
      if (channels.replaced.hasSubscribers) channels.replaced.publish({ name, address, previousAddress: previous.peer.address });
      previous.destroy(`replaced by a new connection from ${address}`, GoAwayCode.REPLACED);
      this.emit('connection_removed', name, this.#registry.size - 1);
    }
    this.#stormLog.log('connected', () =>
      this.#peerLog.log(`connected:${name}`, (extra) =>
        this.#log.info({ client: name, address, fingerprint256, resumed, clients: this.#registry.size, ...extra }, `client '${name}' connected`),
      ),
    );
    this.emit('connection_added', name, this.#registry.size);
  }

  #onSessionClosed(session: PipeSession, reason: string): void {
    this.#certWatch.untrack(session);
    this.#pending.delete(session);
    if (!this.#registry.removeIf(session)) return;
    const { name, address } = session.peer;
    this.#certificates.peerLeft(name);
    this.#stormLog.log('disconnected', () =>
      this.#peerLog.log(`disconnected:${name}`, (extra) =>
        this.#log.info({ client: name, address, reason, clients: this.#registry.size, ...extra }, `client '${name}' disconnected: ${reason}`),
      ),
    );
    if (this.#registry.size === 0) this.#idleSince = new Date();
    this.emit('connection_removed', name, this.#registry.size);
  }

  /** Re-checks every pipe (open, or between TLS and hello) against the current CRL. */
  #recheckRevocations(): Promise<string[]> {
    return this.#certWatch.recheck(this.#tlsMaterial.crl, () => [...this.#registry.pipes(), ...this.#pending]);
  }

  #idleTick(): void {
    if (this.#registry.size > 0 || !this.#state.is('listening')) return;
    const durationS = (Date.now() - this.#idleSince.getTime()) / 1000;
    this.emit('idle', this.#idleSince, durationS);
  }
}

/** A client pipe's log fields (SessionOptions.logFields). */
function clientLogFields(peer: PeerInfo): Record<string, string> {
  return { client: peer.name, address: peer.address };
}
