import { constants as cryptoConstants, type X509Certificate } from 'node:crypto';
import type { SecureContextOptions, TLSSocket } from 'node:tls';
import type { Logger } from '../log.js';
import { CertificateRecheck, type RecheckRefusal } from '../cert-recheck.js';
import { TicketKeys, type TicketKeysOptions } from './ticket-keys.js';

// TLS 1.3 session resumption on the server (SPEC §6, issue 14): tickets made from rotating keys
// (ticket-keys.ts), and on every resumed connection the client certificate restored from the
// ticket checked again against the CA, the CRL and the clock in force now (src/cert-recheck.ts),
// before the hello. OpenSSL does none of that on resumption.

/** The session id context of every restpipe pipe server (at most 32 bytes, OpenSSL's limit). */
const SESSION_ID_CONTEXT = 'restpipe pipe v1';

/** The TLS material the re-check follows: the CA that signs clients and the CRL, as the server has them. */
export interface RecheckMaterial {
  ca: string | Buffer | Array<string | Buffer>;
  crl?: string | Buffer | Array<string | Buffer>;
}

/** Options of {@link ServerResumption}. */
export interface ServerResumptionOptions {
  /** Issue tickets and accept resumed sessions. @default true */
  enabled?: boolean;
  ticketKeys?: TicketKeysOptions;
  logger: Logger;
}

/** A resumed connection's verdict: undefined to go on, the refusal code, or 'pending' while the CRL is being read. */
export type ResumedVerdict = RecheckRefusal | 'pending' | undefined;

/**
 * The server's side of resumption: what its TLS context needs (keys, ticket lifetime, or no
 * tickets at all), the key rotation, and the re-check of resumed peers. The owner calls
 * {@link updateMaterial} whenever the CA or CRL changes.
 */
export class ServerResumption {
  readonly enabled: boolean;
  readonly #keys: TicketKeys | undefined;
  readonly #log: Logger;
  #recheck: CertificateRecheck | undefined;
  /** The CRL could not be read for the re-check: resumed sessions are refused until it can. */
  #unreadableCrl = false;
  #ready: Promise<void> = Promise.resolve();
  #generation = 0;

  /**
   * @param onKey called with each new ticket key (rotation, reload), for `setTicketKeys()`.
   * @throws RestpipeError `invalid_option` for a ticket key file that cannot be used.
   */
  constructor(options: ServerResumptionOptions, material: RecheckMaterial, onKey: (key: Buffer) => void) {
    this.enabled = options.enabled ?? true;
    this.#log = options.logger;
    if (!this.enabled) return;
    this.#keys = new TicketKeys(options.ticketKeys);
    this.#keys.start((key) => {
      this.#log.info({ ticketKeyFile: this.#keys?.file }, 'TLS ticket key rotated: sessions made with the previous key resume no more (their next connection is a full handshake)');
      onKey(key);
    });
    this.updateMaterial(material);
  }

  /** The TLS context's session options: the current key and ticket lifetime, or no tickets. */
  contextOptions(): Pick<SecureContextOptions, 'ticketKeys' | 'sessionTimeout' | 'sessionIdContext'> & { noTicket: number } {
    if (this.#keys === undefined) {
      // No session tickets: every reconnect is a full handshake (SPEC §6).
      return { noTicket: cryptoConstants.SSL_OP_NO_TICKET };
    }
    return {
      ticketKeys: this.#keys.key,
      sessionTimeout: this.#keys.lifetimeS,
      // OpenSSL resumes a session only in the context it was made in. Node's default context id
      // is a hash of process.argv, so a server restarted with other flags (or another server of a
      // cluster) could not resume a single session even with the same keys.
      sessionIdContext: SESSION_ID_CONTEXT,
      noTicket: 0,
    };
  }

  /**
   * The CA or CRL changed: resumed connections are held ('pending') until the re-check uses the
   * new ones, so none is let in on the old CRL after the TLS context already has the new one.
   */
  updateMaterial(material: RecheckMaterial): void {
    if (!this.enabled) return;
    const generation = ++this.#generation;
    this.#recheck = undefined;
    this.#unreadableCrl = false;
    if (material.crl === undefined) {
      this.#recheck = new CertificateRecheck({ ca: material.ca });
      this.#ready = Promise.resolve();
      return;
    }
    const crl = material.crl;
    this.#ready = (async () => {
      try {
        // Loaded only with a CRL: @peculiar/x509 parses it, once per change.
        const { crlsForRecheck } = await import('../identity/revocation.js');
        const next = new CertificateRecheck({ ca: material.ca, crls: crlsForRecheck(crl, material.ca) });
        if (generation === this.#generation) this.#recheck = next;
      } catch (err) {
        // The TLS context refuses such a CRL first (updateTls throws); if it ever gets here,
        // resumed sessions cannot be checked, so none is accepted: clients do full handshakes.
        if (generation === this.#generation) this.#unreadableCrl = true;
        this.#log.error({ err: (err as Error).message }, 'cannot read the CRL to re-check resumed TLS sessions; refusing resumption');
      }
    })();
  }

  /** Resolves when the re-check follows the latest material. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /**
   * Re-checks `cert`, the client certificate a resumed session restored (the socket's
   * `getPeerX509Certificate()`). Undefined for a full handshake (OpenSSL checked it) and for a
   * certificate that still passes; otherwise OpenSSL's code.
   */
  checkResumed(socket: TLSSocket, cert: X509Certificate | undefined): ResumedVerdict {
    if (!socket.isSessionReused()) return undefined;
    if (!this.enabled || cert === undefined) return 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';
    const recheck = this.#recheck;
    if (recheck === undefined) return this.#unreadableCrl ? 'UNABLE_TO_GET_CRL' : 'pending';
    return recheck.check(cert);
  }

  /**
   * Reads the ticket key file again (SIGHUP). Returns whether the key changed.
   * @throws RestpipeError `invalid_option` when the file cannot be used (the current key stays).
   */
  reloadKeys(): boolean {
    return this.#keys?.reload() ?? false;
  }

  close(): void {
    this.#keys?.close();
    this.#generation++;
  }
}
