import type { AddressInfo, Socket } from 'node:net';
import tls from 'node:tls';
import { endAndLinger } from '../linger.js';
import type { Logger } from '../log.js';
import { describeSocketError, peerText } from '../text.js';
import { pipeTlsOptions, type TlsMinVersion } from '../tls-policy.js';
import { FrameType } from '../wire/frame.js';
import { encodeFrame } from '../wire/frame-encoder.js';
import { GoAwayCode, encodeGoAway } from '../wire/messages.js';
import { judgePeer, normalizeAddress, type AcceptedPeer, type RefusedPeer } from './peer-identity.js';
import type { Refusals } from './refusals.js';
import { ServerResumption } from './resumption.js';
import type { ServerTlsMaterial } from './server-options.js';

/** Pending connections the kernel may queue for accept (capped by net.core.somaxconn). */
const LISTEN_BACKLOG = 4096;
/** How long a refused connection may take to flush the goaway that says why before it is destroyed. */
const REFUSAL_LINGER_MS = 1_000;

/** What the acceptor needs from its server. */
export interface AcceptorPort {
  /** Whether the server is closing: a connection that completes TLS now is dropped. */
  closing(): boolean;
  /** Whether the current CRL revokes this certificate (DER). */
  isRevoked(der: Buffer): boolean;
  /** A client passed every check: the server opens its pipe on `socket`. */
  accepted(socket: tls.TLSSocket, peer: AcceptedPeer, address: string): void;
}

/**
 * The server's TLS listener (SPEC §6): mutual TLS with the pipe's TLS policy, a handshake
 * timeout, and a judgement of every client certificate after the handshake so that each
 * refusal reaches the log with its reason (refusals.ts). A refused client is told why in a
 * goaway (under TLS 1.3 it cannot learn it from the handshake) and none of what it sent is read.
 *
 * It tracks every TCP connection so that the server's close() can end those still in their TLS
 * handshake at once, and flush the pipes' last frames before destroying the rest.
 */
export class Acceptor {
  readonly #tlsServer: tls.Server;
  readonly #tlsMinVersion: TlsMinVersion;
  readonly #handshakeTimeoutMs: number;
  readonly #keepAliveMs: number;
  readonly #refusals: Refusals;
  readonly #log: Logger;
  readonly #port: AcceptorPort;
  /** Issue 14: ticket keys, and the re-check of certificates restored from resumed sessions. */
  readonly #resumption: ServerResumption;
  /**
   * Every TCP connection, keyed by the peer's address and port, so the TLS socket of a new pipe
   * finds its raw connection at once (a scan per pipe cost a 5,000-client reconnect storm
   * seconds of CPU).
   */
  readonly #connections = new Map<string, Socket>();
  /**
   * The TCP connections that completed TLS and belong to a pipe. close() must not destroy these
   * right away: their sessions have ended them gracefully, but the last replies and the goaway
   * may still sit in the socket's buffers (destroying them turned drained replies into 502s,
   * about 1 run in 12 of test/e2e/sigterm-drains).
   */
  readonly #secured = new WeakSet<Socket>();
  #address: AddressInfo | undefined;

  constructor(
    material: ServerTlsMaterial,
    options: {
      handshakeTimeoutMs: number;
      tlsMinVersion: TlsMinVersion;
      keepAliveMs: number;
      /** TLS 1.3 resumption (resumption.ts): on or off, and the ticket keys' file and rotation. */
      resumption: { enabled: boolean; ticketKeyFile: string | undefined; ticketKeyRotationMs: number };
    },
    refusals: Refusals,
    log: Logger,
    port: AcceptorPort,
  ) {
    this.#tlsMinVersion = options.tlsMinVersion;
    this.#handshakeTimeoutMs = options.handshakeTimeoutMs;
    this.#keepAliveMs = options.keepAliveMs;
    this.#refusals = refusals;
    this.#log = log;
    this.#port = port;
    const { resumption } = options;
    this.#resumption = new ServerResumption(
      {
        enabled: resumption.enabled,
        ticketKeys: { ...(resumption.ticketKeyFile === undefined ? {} : { file: resumption.ticketKeyFile }), rotationMs: resumption.ticketKeyRotationMs },
        logger: log,
      },
      material,
      (key) => this.#tlsServer.setTicketKeys(key),
    );
    this.#tlsServer = tls.createServer({
      ...this.#secureContextOptions(material),
      // A client certificate is always requested and judged in 'secureConnection' so that the
      // refusal reason reaches the log (Node drops it with rejectUnauthorized: true).
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: options.handshakeTimeoutMs,
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
  }

  /** Where it listens, once listening. */
  get address(): AddressInfo | undefined {
    return this.#address;
  }

  /** Starts accepting. Resolves with the bound address (port 0 picks a free port). */
  listen(host: string, port: number): Promise<AddressInfo> {
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
        resolve(this.#address);
      });
    });
  }

  /** New handshakes use `material` from now on. @throws Error when Node refuses it (the previous stays). */
  updateTls(material: ServerTlsMaterial): void {
    this.#tlsServer.setSecureContext(this.#secureContextOptions(material));
    this.#resumption.updateMaterial(material);
  }

  /**
   * Reads the ticket key file again (SIGHUP): a replaced secret ends every session made with
   * the old one. Returns whether the key changed; false without a file.
   * @throws RestpipeError `invalid_option` when the file cannot be used (the current key stays).
   */
  reloadTicketKeys(): boolean {
    return this.#resumption.reloadKeys();
  }

  /** Stops accepting; resolves once the listener and every connection have closed. */
  stopAccepting(): Promise<void> {
    this.#resumption.close();
    return new Promise<void>((resolve) => this.#tlsServer.close(() => resolve()));
  }

  /** Ends the connections still in their TLS handshake (not pipes yet). */
  destroyHandshaking(): void {
    for (const socket of this.#connections.values()) if (!this.#secured.has(socket)) socket.destroy();
  }

  /** Ends every connection left, pipes included (their sessions have had their chance to flush). */
  destroyAll(): void {
    for (const socket of this.#connections.values()) socket.destroy();
  }

  #secureContextOptions(material: ServerTlsMaterial): tls.SecureContextOptions {
    const policy = pipeTlsOptions(this.#tlsMinVersion);
    // The ticket key is passed every time: a new context would otherwise get random keys and
    // end every session (RELIABILITY §5.6). Without resumption, `noTicket` turns tickets off.
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
    // Marks the raw TCP connection under the TLS socket (Node gives no public link between them).
    const raw = this.#connections.get(peerKey(socket));
    if (raw !== undefined) this.#secured.add(raw);
    if (this.#port.closing()) {
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
      // The CA or CRL just changed and the re-check is reading it: this connection waits for it.
      void this.#resumption.ready.then(() => (socket.destroyed ? undefined : this.#onSecureConnection(socket)));
      return;
    }
    if (recheck !== undefined) {
      this.#refuse(socket, address, { accepted: false, reason: recheck, cn: judged.name, fingerprint256: judged.fingerprint256, validTo: judged.validTo });
      return;
    }
    // A handshake that began under the previous CRL can finish after a reload revoked it.
    if (this.#port.isRevoked(judged.der)) {
      this.#refuse(socket, address, { accepted: false, reason: 'CERT_REVOKED', cn: judged.name, fingerprint256: judged.fingerprint256, validTo: judged.validTo });
      return;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, this.#keepAliveMs);
    this.#port.accepted(socket, judged, address);
  }

  #refuse(socket: tls.TLSSocket, address: string, refused: RefusedPeer): void {
    // Any TLS peer chooses its certificate's names: they are the peer's text.
    const { fingerprint256, validTo } = refused;
    const reason = peerText(refused.reason);
    const cn = refused.cn === undefined ? undefined : peerText(refused.cn);
    const issuer = refused.issuer === undefined ? undefined : peerText(refused.issuer);
    // `resumed`: the certificate came from a TLS session ticket and failed restpipe's re-check.
    const resumed = socket.isSessionReused() ? true : undefined;
    this.#refusals.report({
      address,
      code: reason,
      ...(cn === undefined ? {} : { cn }),
      ...(resumed === undefined ? {} : { resumed }),
      message: `refused a client certificate: ${reason}`,
      fields: { address, reason, cn, issuer, fingerprint256, validTo, resumed },
      limitKey: `refused:${reason}`,
    });
    // Tell the client why before closing: under TLS 1.3 it cannot learn it from the handshake.
    // Nothing the client sent is ever read.
    socket.on('error', ignoreError);
    socket.pause();
    for (const part of encodeFrame(FrameType.GOAWAY, 0, encodeGoAway({ code: GoAwayCode.UNAUTHORIZED, reason: `certificate refused: ${reason}` }))) {
      socket.write(part);
    }
    endAndLinger(socket, REFUSAL_LINGER_MS);
  }

  #onTlsClientError(err: Error, socket: tls.TLSSocket): void {
    const address = normalizeAddress(socket.remoteAddress);
    const code = (err as NodeJS.ErrnoException).code ?? 'TLS_ERROR';
    const reason = describeTlsClientError(err, code, this.#handshakeTimeoutMs);
    this.#refusals.report({
      address,
      code,
      reason,
      message: `TLS handshake with a client failed: ${reason}`,
      fields: { address, code, reason },
      limitKey: `tls:${code}`,
    });
    socket.destroy();
  }
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

/** A connection's peer address and port: unique among open connections to one listening port. */
function peerKey(socket: Socket): string {
  return `${socket.remoteAddress}|${socket.remotePort}`;
}

function ignoreError(): void {}
