import { EventEmitter } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { certificateCommonName } from '../certificate.js';
import { channels } from '../diagnostics.js';
import { ErrorCode, RestpipeError } from '../errors.js';
import { validateEventRequest, type EventHandlerFn, type EventRequest, type Reply } from '../event.js';
import { RateLimitedLog, silentLogger, type Logger } from '../log.js';
import { peerText } from '../peer-text.js';
import {
  DEFAULT_GRACE_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_IDLE_HOOK_INTERVAL_MS,
  durationOption,
  resolvePipeTiming,
  type PipeTimingOptions,
  type ResolvedPipeTiming,
} from '../options.js';
import { PipeSession, describeSocketError, type RequestOptions } from '../pipe/session.js';
import { pipeTlsOptions, tlsMinVersionOption, type TlsMinVersion } from '../tls-policy.js';
import { FrameType } from '../wire/frame.js';
import { encodeFrame } from '../wire/frame-encoder.js';
import { GoAwayCode, encodeGoAway } from '../wire/messages.js';
import { ClientRegistry } from './client-registry.js';
import { NeverConnectedLog } from './never-connected-log.js';
import { judgePeer, normalizeAddress, type RefusedPeer } from './peer-identity.js';
import { ServerResumption } from './resumption.js';
import { StormLog } from './storm-log.js';

/** Pending connections the kernel may queue for accept (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;

/** The server's TLS material: its key and certificate, the CA that signs clients, an optional CRL. */
export interface ServerTlsMaterial {
  key: string | Buffer;
  cert: string | Buffer;
  ca: string | Buffer | Array<string | Buffer>;
  /** Revoked client certificates (PEM CRL); refused with CERT_REVOKED. */
  crl?: string | Buffer | Array<string | Buffer>;
}

export interface PipeServerOptions extends PipeTimingOptions {
  tls: ServerTlsMaterial;
  /** TLS handshake timeout for incoming connections. @default 10000 */
  handshakeTimeoutMs?: number;
  /** The lowest TLS version accepted (`--tls-min`); suites are fixed (src/tls-policy.ts). @default 'TLSv1.2' */
  tlsMinVersion?: TlsMinVersion;
  /** How often the idle hook fires while no client is connected. @default 60000 */
  idleHookIntervalMs?: number;
  /**
   * TLS 1.3 session resumption: the server issues session tickets, and a client that offers one
   * skips the certificate signatures of a full handshake. The client certificate a resumed
   * session restores is checked again (dates, the CRL and the CA in force now) before the hello,
   * and refused with the same reasons as a full handshake (SPEC §6). `false`: no tickets, every
   * connection is a full handshake. @default true
   */
  tlsResumption?: boolean;
  /**
   * A file with the secret the ticket keys are derived from (hex, mode 0600; created when
   * missing), so that a restarted server, or another server given the same file, resumes the
   * sessions this one made. Without it, keys are random and in memory only (lost on restart).
   * Whoever reads it can make tickets for any client certificate they have seen: keep it like the
   * CA key.
   */
  ticketKeyFile?: string;
  /** How long one ticket key makes and accepts tickets: rotation period and ticket lifetime. @default 86400000 (24 h), at most 7 days */
  ticketKeyRotationMs?: number;
  logger?: Logger;
}

/** A connected client, as status and the gateway see it. */
export interface ConnectedClient {
  name: string;
  address: string;
  connectedSince: Date;
  /** Events in flight to it and from it. */
  inFlight: { outbound: number; inbound: number };
  rttMs: number | undefined;
  /** Bytes waiting to go out on its pipe: in the socket, and event frames queued behind it. */
  queuedBytes: { socket: number; events: number };
}

/** Listener signatures of a server's events; the names are SPEC §5's hooks. */
export interface PipeServerEvents {
  connection_added: [name: string, count: number];
  connection_removed: [name: string, count: number];
  /** While no client is connected, once per idle interval. */
  idle: [waitingSince: Date, durationS: number];
  /**
   * A client was refused (bad certificate, TLS failure, protocol error before hello), or its open
   * pipe was closed because its certificate became invalid (CERT_REVOKED by a reloaded CRL,
   * CERT_HAS_EXPIRED). `resumed`: the certificate came from a resumed TLS session and failed
   * restpipe's re-check of it (issue 14).
   */
  refused: [refusal: { address: string; reason: string; cn?: string; resumed?: true }];
}

/**
 * The server node's side: accepts pipes from clients (mutual TLS), keeps a registry of them by
 * CN, and sends events to them by name. Never emits 'error' for a client's failure: those are log
 * lines, `refused` events and pipe closes.
 */
export class PipeServer extends EventEmitter<PipeServerEvents> {
  readonly name: string;
  readonly #timing: ResolvedPipeTiming;
  readonly #tlsMaterial: ServerTlsMaterial;
  readonly #handler: EventHandlerFn;
  readonly #log: Logger;
  // A storm of refused connections (scanners, a misconfigured fleet) writes a few lines per
  // reason and then one "N more suppressed" line per window, not one line per connection.
  // The field is `like`, not `key`: the CLI's logger redacts a field named `key` (issue 9).
  readonly #refusalLog = new RateLimitedLog(10_000, 5, (key, suppressed, windowMs) =>
    this.#log.warn(
      { like: key, suppressed, windowS: windowMs / 1000 },
      `${suppressed} more log lines like '${key}' suppressed in the last ${windowMs / 1000} s`,
    ),
  );
  readonly #neverConnectedLog: NeverConnectedLog;
  // The lines a client can cause at will by reconnecting (connected, replaced, goaway, protocol
  // error, disconnected): at most 5 per kind per CN per 10 s, then a count. A thief reconnecting
  // with a copied key, or a client looping connect-goaway, must not flood the log.
  readonly #peerLog = new RateLimitedLog(10_000, 5, (key, suppressed, windowMs) =>
    this.#log.warn(
      { like: key, suppressed, windowS: windowMs / 1000 },
      `${suppressed} more log lines like '${key}' suppressed in the last ${windowMs / 1000} s`,
    ),
  );
  readonly #registry = new ClientRegistry<PipeSession>();
  /** Issue 14: in a reconnect storm, one summary line per second instead of a line per client. */
  readonly #stormLog: StormLog;
  /** Sessions between TLS and hello, so close() can end them too. */
  readonly #pending = new Set<PipeSession>();
  /**
   * Every TCP connection, so close() can end those still in their TLS handshake; keyed by the
   * peer's address and port, so the TLS socket of a new pipe finds its raw connection at once
   * (a scan per pipe cost a 5,000-client reconnect storm seconds of CPU).
   */
  readonly #connections = new Map<string, Socket>();
  /**
   * The TCP connections that completed TLS and belong to a session. close() must not destroy
   * these right away: their sessions have ended them gracefully, but the last replies and the
   * goaway may still sit in the socket's buffers (destroying them turned drained replies into
   * 502s, about 1 run in 12 of test/e2e/sigterm-drains).
   */
  readonly #secured = new WeakSet<Socket>();
  readonly #tlsServer: tls.Server;
  /** CNs that have had a pipe (see knowsClient); bounded so a CA issuing endless names cannot grow it. */
  readonly #knownNames = new Set<string>();
  readonly #idleHookIntervalMs: number;
  readonly #handshakeTimeoutMs: number;
  readonly #tlsMinVersion: TlsMinVersion;
  /** Each pipe's client certificate (DER), to re-check live pipes when the CRL changes. */
  readonly #peerCerts = new WeakMap<PipeSession, { der: Buffer; fingerprint256: string }>();
  /** One timer per pipe, at its client certificate's notAfter (see #armExpiry). */
  readonly #expiryTimers = new Map<PipeSession, NodeJS.Timeout>();
  /**
   * Whether the current CRL revokes a certificate; undefined while (re)computing or without a
   * CRL. OpenSSL checks new handshakes itself; this catches live pipes and handshakes that
   * began under the previous CRL.
   */
  #isRevoked: ((der: Uint8Array) => boolean) | undefined;
  /** Issue 14: ticket keys, and the re-check of certificates restored from resumed sessions. */
  readonly #resumption: ServerResumption;
  #crlGeneration = 0;
  #idleTimer: NodeJS.Timeout | undefined;
  #idleSince = new Date();
  #closing = false;
  #closed: Promise<void> | undefined;
  #address: AddressInfo | undefined;

  constructor(options: PipeServerOptions, handler: EventHandlerFn) {
    super();
    this.#timing = resolvePipeTiming(options);
    // A copy: updateTls() changes it, and the caller's object is the caller's.
    this.#tlsMaterial = { ...options.tls };
    this.#handler = handler;
    this.#idleHookIntervalMs = durationOption('idleHookIntervalMs', options.idleHookIntervalMs, DEFAULT_IDLE_HOOK_INTERVAL_MS);
    this.name = certificateCommonName(options.tls.cert) || 'server';
    this.#log = (options.logger ?? silentLogger).child({ role: 'server' });
    this.#stormLog = new StormLog(this.#log, () => this.#registry.size);
    this.#neverConnectedLog = new NeverConnectedLog(this.#log);
    this.#handshakeTimeoutMs = durationOption('handshakeTimeoutMs', options.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS);
    this.#tlsMinVersion = tlsMinVersionOption(options.tlsMinVersion);
    this.#resumption = new ServerResumption(
      {
        ...(options.tlsResumption === undefined ? {} : { enabled: options.tlsResumption }),
        ticketKeys: {
          ...(options.ticketKeyFile === undefined ? {} : { file: options.ticketKeyFile }),
          ...(options.ticketKeyRotationMs === undefined ? {} : { rotationMs: options.ticketKeyRotationMs }),
        },
        logger: this.#log,
      },
      options.tls,
      (key) => this.#tlsServer.setTicketKeys(key),
    );
    this.#tlsServer = tls.createServer({
      ...this.#secureContextOptions(options.tls),
      // A client certificate is always requested and judged in 'secureConnection' so that the
      // refusal reason reaches the log (Node drops it with rejectUnauthorized: true).
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: this.#handshakeTimeoutMs,
    });
    this.#tlsServer.on('connection', (socket: Socket) => {
      const key = peerKey(socket);
      this.#connections.set(key, socket);
      socket.once('close', () => {
        if (this.#connections.get(key) === socket) this.#connections.delete(key);
      });
    });
    this.#tlsServer.on('secureConnection', (socket) => this.#onSecureConnection(socket));
    this.#tlsServer.on('tlsClientError', (err, socket) => this.#onTlsClientError(err, socket));
    if (options.tls.crl !== undefined) void this.#recheckRevocations();
  }

  /** Where the server listens, once listening. */
  get address(): AddressInfo | undefined {
    return this.#address;
  }

  /** True while accepting pipes (after listen(), before close()). */
  get listening(): boolean {
    return this.#address !== undefined && !this.#closing;
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
    return this.#registry.get(name) !== undefined || this.#knownNames.has(name);
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
  listen({ host = '0.0.0.0', port = 1234 }: { host?: string; port?: number } = {}): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.#tlsServer.once('error', onError);
      // A restarted server is dialed by all its clients at once: Node's default accept queue
      // (511) overflows, and every SYN dropped comes back only after TCP's 1 s, 3 s, 7 s
      // retransmission steps. The kernel caps this at net.core.somaxconn.
      this.#tlsServer.listen({ port, host, backlog: LISTEN_BACKLOG }, () => {
        this.#tlsServer.removeListener('error', onError);
        // Accept errors after listen (EMFILE and the like) must not kill the process.
        this.#tlsServer.on('error', (err) => this.#log.error({ err: describeSocketError(err) }, 'server socket error'));
        this.#address = this.#tlsServer.address() as AddressInfo;
        this.#idleSince = new Date();
        this.#idleTimer = setInterval(() => this.#idleTick(), this.#idleHookIntervalMs);
        this.#idleTimer.unref();
        this.#log.info({ address: this.#address.address, port: this.#address.port, name: this.name }, 'accepting pipes');
        resolve(this.#address);
      });
    });
  }

  /**
   * Sends an event to the client named `clientName` (its certificate CN) and resolves with its
   * reply. Waits up to connect-wait for that client to connect. Rejects with a RestpipeError:
   * bad_request, no_connection, pipe_broken, event_timeout, aborted, too_many_in_flight,
   * body_too_large, closed.
   */
  send(clientName: string, event: EventRequest, options: RequestOptions & { connectWaitMs?: number } = {}): Promise<Reply> {
    // Not async: with the client's pipe open (the hot path) the session's own promise is
    // returned, without a wrapping promise and its extra turns. Every failure is still a rejection.
    try {
      validateEventRequest(event);
      if (this.#closing) throw new RestpipeError(ErrorCode.CLOSED, 'the server is closing');
      const current = this.#registry.get(clientName);
      if (current?.isUsable === true) return current.request(event, options);
      const waitMs = options.connectWaitMs ?? this.#timing.connectWaitMs;
      if (current === undefined && !this.#knownNames.has(clientName)) {
        this.#neverConnectedLog.waiting(clientName, waitMs, () => this.#registry.pipes().map((p) => p.peer.name));
      }
      return this.#registry
        .waitFor(clientName, waitMs, options.signal)
        .then((session) => session.request(event, options));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The connected clients. */
  clients(): ConnectedClient[] {
    return this.#registry.pipes().map(describeClient);
  }

  /** The client with that CN, if connected. */
  client(name: string): ConnectedClient | undefined {
    const session = this.#registry.get(name);
    return session === undefined ? undefined : describeClient(session);
  }

  /** Connected clients whose address is `address` (IPv4-mapped IPv6 normalised). */
  clientsAt(address: string): ConnectedClient[] {
    return this.#registry.findByAddress(normalizeAddress(address)).map(describeClient);
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
    const next = { ...this.#tlsMaterial, ...material };
    this.#tlsServer.setSecureContext(this.#secureContextOptions(next));
    Object.assign(this.#tlsMaterial, material);
    this.#resumption.updateMaterial(this.#tlsMaterial);
    if (!('crl' in material)) return Promise.resolve([]);
    return this.#recheckRevocations();
  }

  /**
   * Reads the ticket key file again (SIGHUP): a replaced secret ends every session made with
   * the old one. Returns whether the key changed; false without a file.
   * @throws RestpipeError `invalid_option` when the file cannot be used (the current key stays).
   */
  reloadTicketKeys(): boolean {
    return this.#resumption.reloadKeys();
  }

  /** Closes one client's pipe now (its in-flight events fail with pipe_broken). */
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
    this.#closing = true;
    clearInterval(this.#idleTimer);
    this.#crlGeneration++; // a CRL parse still running must not drop pipes of a closing server
    this.#resumption.close();
    const stopped = new Promise<void>((resolve) => this.#tlsServer.close(() => resolve()));
    this.#registry.failWaiters(new RestpipeError(ErrorCode.CLOSED, 'the server is closing'));
    for (const session of this.#pending) session.destroy('server shutting down', GoAwayCode.SHUTDOWN);
    await Promise.all(this.#registry.pipes().map((s) => s.close(graceMs, 'server shutting down')));
    // Sockets still in their TLS handshake are not sessions yet; end them so close() returns.
    for (const socket of this.#connections.values()) if (!this.#secured.has(socket)) socket.destroy();
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
    for (const socket of this.#connections.values()) socket.destroy();
    await stopped;
    this.#refusalLog.close(); // reports what it suppressed, leaves no timer
    this.#neverConnectedLog.close();
    this.#peerLog.close();
    this.#stormLog.close();
    this.#log.info({}, 'server closed');
  }

  #secureContextOptions(material: ServerTlsMaterial): tls.SecureContextOptions {
    const policy = pipeTlsOptions(this.#tlsMinVersion);
    // The ticket key is passed every time: a new context would otherwise get random keys and
    // end every session (RELIABILITY §5.6).
    const { noTicket, ...sessions } = this.#resumption.contextOptions();
    return {
      key: material.key,
      cert: material.cert,
      ca: material.ca,
      ...(material.crl === undefined ? {} : { crl: material.crl }),
      ...policy,
      ...sessions,
      secureOptions: (policy.secureOptions ?? 0) | noTicket,
    };
  }

  #onSecureConnection(socket: tls.TLSSocket): void {
    const address = normalizeAddress(socket.remoteAddress);
    this.#markSecured(socket);
    if (this.#closing) {
      socket.destroy();
      return;
    }
    const judged = judgePeer(socket);
    if (!judged.accepted) {
      this.#refuse(socket, address, judged);
      return;
    }
    // Issue 14: OpenSSL does not check a resumed session's certificate again; restpipe does.
    const recheck = this.#resumption.checkResumed(socket, judged.cert);
    if (recheck === 'pending') {
      void this.#resumption.ready.then(() => (socket.destroyed ? undefined : this.#onSecureConnection(socket)));
      return;
    }
    if (recheck !== undefined) {
      this.#refuse(socket, address, { accepted: false, reason: recheck, cn: judged.name, fingerprint256: judged.fingerprint256, validTo: judged.validTo });
      return;
    }
    const der = judged.der;
    // A handshake that began under the previous CRL can finish after a reload revoked it.
    if (this.#isRevoked?.(der) === true) {
      this.#refuse(socket, address, { accepted: false, reason: 'CERT_REVOKED', cn: judged.name, fingerprint256: judged.fingerprint256, validTo: judged.validTo });
      return;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, this.#timing.heartbeatIntervalMs);
    const name = judged.name;
    const session = new PipeSession(socket, {
      role: 'server',
      localName: this.name,
      peer: { name, address },
      timing: this.#timing,
      handler: this.#handler,
      logger: this.#log.child({ client: name, address }),
      onClose: (s, info) => this.#onSessionClosed(s, info.reason),
      limitPeerLog: (kind, write) => this.#peerLog.log(`${kind}:${name}`, write),
    });
    this.#peerCerts.set(session, { der, fingerprint256: judged.fingerprint256 });
    if (session.state !== 'closed') this.#armExpiry(session, Date.parse(judged.validTo));
    this.#pending.add(session);
    session.handshake().then(
      () => {
        this.#pending.delete(session);
        this.#register(session, judged.fingerprint256, socket.isSessionReused());
      },
      (err: Error) => {
        this.#pending.delete(session);
        this.#refusalLog.log(`hello:${address}`, (extra) =>
          this.#log.warn({ client: name, address, reason: err.message, ...extra }, 'client connected but its pipe did not open'),
        );
      },
    );
  }

  /** Marks the raw TCP connection under a TLS socket (Node gives no public link between them). */
  #markSecured(socket: tls.TLSSocket): void {
    const raw = this.#connections.get(peerKey(socket));
    if (raw !== undefined) this.#secured.add(raw);
  }

  #register(session: PipeSession, fingerprint256: string, resumed: boolean): void {
    const { name, address } = session.peer;
    const previous = this.#registry.add(session);
    if (this.#knownNames.size < MAX_KNOWN_NAMES) this.#knownNames.add(name);
    if (previous !== undefined) {
      this.#peerLog.log(`replaced:${name}`, (extra) =>
        this.#log.warn(
          { client: name, address, previousAddress: previous.peer.address, ...extra },
          `client '${name}' connected again; replacing its previous pipe`,
        ),
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
    clearTimeout(this.#expiryTimers.get(session));
    this.#expiryTimers.delete(session);
    this.#pending.delete(session);
    if (!this.#registry.removeIf(session)) return;
    const { name, address } = session.peer;
    this.#stormLog.log('disconnected', () =>
      this.#peerLog.log(`disconnected:${name}`, (extra) =>
        this.#log.info({ client: name, address, reason, clients: this.#registry.size, ...extra }, `client '${name}' disconnected: ${reason}`),
      ),
    );
    if (this.#registry.size === 0) this.#idleSince = new Date();
    this.emit('connection_removed', name, this.#registry.size);
  }

  #refuse(socket: tls.TLSSocket, address: string, refused: RefusedPeer): void {
    // Any TLS peer chooses its certificate's names: they are the peer's text.
    const { fingerprint256, validTo } = refused;
    const reason = peerText(refused.reason);
    const cn = refused.cn === undefined ? undefined : peerText(refused.cn);
    const issuer = refused.issuer === undefined ? undefined : peerText(refused.issuer);
    // `resumed`: the certificate came from a TLS session ticket and failed restpipe's re-check.
    const resumed = socket.isSessionReused() ? true : undefined;
    this.#refusalLog.log(`refused:${reason}`, (extra) =>
      this.#log.warn({ address, reason, cn, issuer, fingerprint256, validTo, resumed, ...extra }, `refused a client certificate: ${reason}`),
    );
    if (channels.refusal.hasSubscribers) channels.refusal.publish({ reason, address, ...(cn === undefined ? {} : { name: cn }) });
    this.emit('refused', { address, reason, ...(cn === undefined ? {} : { cn }), ...(resumed === undefined ? {} : { resumed }) });
    // Tell the client why before closing: under TLS 1.3 it cannot learn it from the handshake.
    // Nothing the client sent is ever read.
    socket.on('error', ignoreError);
    socket.pause();
    for (const part of encodeFrame(FrameType.GOAWAY, 0, encodeGoAway({ code: GoAwayCode.UNAUTHORIZED, reason: `certificate refused: ${reason}` }))) {
      socket.write(part);
    }
    socket.end();
    const timer = setTimeout(destroySocket, 1_000, socket);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  }

  #onTlsClientError(err: Error, socket: tls.TLSSocket): void {
    const address = normalizeAddress(socket.remoteAddress);
    const code = (err as NodeJS.ErrnoException).code ?? 'TLS_ERROR';
    const reason = describeTlsClientError(err, code, this.#handshakeTimeoutMs);
    this.#refusalLog.log(`tls:${code}`, (extra) =>
      this.#log.warn({ address, code, reason, ...extra }, `TLS handshake with a client failed: ${reason}`),
    );
    if (channels.refusal.hasSubscribers) channels.refusal.publish({ reason: code, address });
    this.emit('refused', { address, reason });
    socket.destroy();
  }

  /**
   * Parses the current CRL and closes every pipe (open or between TLS and hello) whose client
   * certificate it revokes. Runs after each CRL change; only the latest run acts.
   */
  async #recheckRevocations(): Promise<string[]> {
    const generation = ++this.#crlGeneration;
    this.#isRevoked = undefined;
    const crl = this.#tlsMaterial.crl;
    if (crl === undefined) return [];
    let isRevoked: (der: Uint8Array) => boolean;
    try {
      // Loaded only when a CRL is used: @peculiar/x509 is not needed on the hot path.
      const { revocationChecker } = await import('../identity/revocation.js');
      isRevoked = revocationChecker(crl);
    } catch (err) {
      this.#log.error({ err: (err as Error).message }, 'cannot read the CRL to re-check open pipes; they stay open');
      return [];
    }
    if (generation !== this.#crlGeneration) return [];
    this.#isRevoked = isRevoked;
    const dropped: string[] = [];
    for (const session of [...this.#registry.pipes(), ...this.#pending]) {
      const peerCert = this.#peerCerts.get(session);
      if (peerCert === undefined || !isRevoked(peerCert.der)) continue;
      const { name, address } = session.peer;
      dropped.push(name);
      this.#log.warn(
        { client: name, address, reason: 'CERT_REVOKED', fingerprint256: peerCert.fingerprint256 },
        `dropping client '${name}': its certificate is revoked by the reloaded CRL (CERT_REVOKED)`,
      );
      if (channels.refusal.hasSubscribers) channels.refusal.publish({ reason: 'CERT_REVOKED', address, name });
      this.emit('refused', { address, reason: 'CERT_REVOKED', cn: name });
      session.destroy('certificate refused: CERT_REVOKED (revoked by the server\'s reloaded CRL)', GoAwayCode.UNAUTHORIZED);
    }
    return dropped;
  }

  /**
   * A pipe outlives the handshake that checked its certificate's dates: without this, a client
   * whose certificate expires keeps its pipe for as long as the pipe lasts. At notAfter (+1 s:
   * OpenSSL counts the last second as valid) the pipe is closed with CERT_HAS_EXPIRED, and its
   * reconnect is refused by the handshake.
   */
  #armExpiry(session: PipeSession, validToMs: number): void {
    if (!Number.isFinite(validToMs)) return;
    const delayMs = validToMs + 1_000 - Date.now();
    // setTimeout holds at most ~24.8 days; a longer-lived certificate re-arms on the way.
    const MAX_TIMER_MS = 2_147_483_647;
    const timer =
      delayMs > MAX_TIMER_MS
        ? setTimeout(() => this.#armExpiry(session, validToMs), MAX_TIMER_MS)
        : setTimeout(() => this.#dropExpired(session, validToMs), Math.max(0, delayMs));
    timer.unref();
    this.#expiryTimers.set(session, timer);
  }

  #dropExpired(session: PipeSession, validToMs: number): void {
    this.#expiryTimers.delete(session);
    if (session.state === 'closed') return;
    const { name, address } = session.peer;
    const validTo = new Date(validToMs).toISOString();
    this.#log.warn(
      { client: name, address, reason: 'CERT_HAS_EXPIRED', validTo, fingerprint256: this.#peerCerts.get(session)?.fingerprint256 },
      `dropping client '${name}': its certificate expired at ${validTo} (CERT_HAS_EXPIRED)`,
    );
    if (channels.refusal.hasSubscribers) channels.refusal.publish({ reason: 'CERT_HAS_EXPIRED', address, name });
    this.emit('refused', { address, reason: 'CERT_HAS_EXPIRED', cn: name });
    session.destroy(`certificate refused: CERT_HAS_EXPIRED (it expired at ${validTo}, while the pipe was open)`, GoAwayCode.UNAUTHORIZED);
  }

  #idleTick(): void {
    if (this.#registry.size > 0 || this.#closing) return;
    const durationS = (Date.now() - this.#idleSince.getTime()) / 1000;
    this.emit('idle', this.#idleSince, durationS);
  }
}

function describeClient(session: PipeSession): ConnectedClient {
  return {
    name: session.peer.name,
    address: session.peer.address,
    connectedSince: session.openedAt,
    inFlight: { outbound: session.outboundInFlight, inbound: session.inboundInFlight },
    rttMs: session.rttMs,
    queuedBytes: { socket: session.queuedBytes, events: session.queuedEventBytes },
  };
}

/**
 * A TLS failure before any certificate was seen, in words an operator can act on. OpenSSL's own
 * message is a multi-line dump of internal function names and source paths; the code and the
 * short reason are what matter, and the common cases (plain HTTP or garbage on the pipe port, a
 * stalled handshake, a client that refused our certificate) get their own sentence.
 */
function describeTlsClientError(err: Error, code: string, handshakeTimeoutMs: number): string {
  switch (code) {
    case 'ERR_SSL_HTTP_REQUEST':
      return 'plain HTTP request on the pipe port (it speaks TLS only; HTTP goes to the REST gateway)';
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'not TLS (garbage or a plain-TCP client on the pipe port)';
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return `TLS handshake not finished within ${handshakeTimeoutMs / 1000} s (stalled or too slow client)`;
    case 'ECONNRESET':
      // A Node client that refuses our certificate (unknown CA, expired, wrong name) just closes.
      return 'the client closed the connection during the TLS handshake (if it is ours, it probably refused our certificate: see its log)';
  }
  // "805C…:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:../deps/…:350:\n"
  const openssl = /:SSL routines:[^:]*:([^:]+):/.exec(err.message);
  const short = openssl?.[1] ?? err.message.trim();
  const alert = /ALERT_(.+)$/.exec(code);
  if (alert !== undefined && alert !== null) {
    const name = alert[1]!.toLowerCase().replace(/_/g, ' ');
    return `${code}: the client sent the TLS alert '${name}'${/CERTIFICATE|UNKNOWN_CA|DECRYPT/.test(code) ? ' (it probably refused our certificate: see its log)' : ''}`;
  }
  return `${code}: ${short}`;
}

/** How many client CNs knowsClient() remembers beyond those connected. */
const MAX_KNOWN_NAMES = 100_000;

/** A connection's peer address and port: unique among open connections to one listening port. */
function peerKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

/** How long close() lets ended pipe sockets flush their last frames before destroying them. */
const CLOSE_FLUSH_MS = 1_000;


function destroySocket(socket: Socket): void {
  socket.destroy();
}

function ignoreError(): void {}
