import { NodeCertificates, PeerExpiryTimers, type CertificateExpiryOptions } from '../cert-expiry.js';
import type { Logger } from '../log.js';
import type { PipeSession } from '../pipe/session.js';
import type { CertificateExpiry } from '../sender.js';
import { GoAwayCode } from '../wire/messages.js';

/** What the dial learnt of the server's certificate (a stand-in connector in tests may know nothing). */
export interface DialedServerCertificate {
  serverValidTo?: string | undefined;
  serverFingerprint256?: string | undefined;
}

/**
 * A client's certificates: its own and its CA's (status, gauge, expiry warnings), and the
 * server's while a pipe is open. The handshake checked the server's certificate once, but a pipe
 * may last for weeks: it is shown and warned about like the client's own, and the pipe is closed
 * when it expires. The redial is then refused by the handshake until the server has a valid one.
 */
export class ClientCertificates {
  readonly #log: Logger;
  readonly #certificates: NodeCertificates;
  /** The open pipe ends at the server certificate's expiry (the mechanism the server uses for its clients'). */
  readonly #serverExpiry = new PeerExpiryTimers<PipeSession>();

  constructor(log: Logger, options: CertificateExpiryOptions) {
    this.#log = log;
    this.#certificates = new NodeCertificates('client', log, options);
  }

  /** Its own certificate, its CA's, and the server's while a pipe is open, with their expiry. */
  list(): CertificateExpiry[] {
    return this.#certificates.list();
  }

  /** The client's identity (at start, and after a reload). */
  setIdentity(certPem: string | Buffer | Array<string | Buffer>, caPem: string | Buffer | Array<string | Buffer>): void {
    this.#certificates.setIdentity(certPem, caPem);
  }

  /** A pipe opened: the server's certificate is shown, warned about, and ends the pipe when it expires. */
  serverConnected(session: PipeSession, serverName: string, dialed: DialedServerCertificate): void {
    if (dialed.serverValidTo === undefined) return;
    const validToMs = Date.parse(dialed.serverValidTo);
    if (!Number.isFinite(validToMs)) return;
    this.#certificates.peerConnected('server', { role: 'server', name: serverName, notAfter: new Date(validToMs), fingerprint256: dialed.serverFingerprint256 ?? `server|${validToMs}` });
    this.#serverExpiry.track(session, validToMs, (validTo) => {
      const why = `the server's certificate expired at ${validTo.toISOString()} (CERT_HAS_EXPIRED)`;
      this.#log.warn({ server: serverName, reason: 'CERT_HAS_EXPIRED', validTo: validTo.toISOString() }, `dropping the pipe to server '${serverName}': ${why}`);
      session.destroy(why, GoAwayCode.UNAUTHORIZED);
    });
  }

  /** The pipe closed: the server's certificate is no longer shown or watched. */
  serverLeft(session: PipeSession): void {
    this.#serverExpiry.untrack(session);
    this.#certificates.peerLeft('server');
  }

  /** The client closed: no timer is left. */
  close(): void {
    this.#serverExpiry.close();
    this.#certificates.close();
  }
}
