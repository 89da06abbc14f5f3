import { X509Certificate } from 'node:crypto';
import { CertificateRecheck, type RecheckRefusal } from '../cert-recheck.js';
import type { DialedPipe } from './connector.js';

// The client's side of TLS 1.3 resumption (SPEC §6, issue 14): one session per server, offered
// on the next dial, and the server certificate it restores checked again. On a resumed
// connection Node shows no server certificate at all (getPeerCertificate() is empty, the name
// check is not run), so the certificate verified in the full handshake that got the session is
// kept with it, and re-checked against the CA in force and the clock on every reuse, as the
// server re-checks the client's.

type CaInput = string | Buffer | Array<string | Buffer>;

/** One server's session: the TLS session and the server certificate verified when it was made. */
interface ServerSession {
  session: Buffer;
  serverCert: X509Certificate;
  serverCn: string;
}

/** A dial's session bookkeeping, from the handshake to the hello. */
export interface DialSession {
  /** Whether the TLS handshake resumed the offered session. */
  readonly resumed: boolean;
  /** The server's CN: from the handshake, or for a resumed one from the session's certificate. */
  readonly serverCn: string;
  /**
   * For a resumed handshake, OpenSSL's code for what is wrong with the restored server
   * certificate now (undefined: it passes). The caller drops the connection and dials again.
   */
  readonly refusal: RecheckRefusal | undefined;
  /** The server certificate's notAfter (`valid_to` form) and fingerprint: from the handshake, or the resumed session's certificate. */
  readonly serverValidTo: string | undefined;
  readonly serverFingerprint256: string | undefined;
  /** The pipe is up: keep the newest session the server sent on it; listen no more. */
  pipeUp(): void;
  /**
   * The dial failed after TLS, before the pipe was up. `refused`: the server refused the
   * certificate (its goaway said so) or our own re-check refused the server's. Then the offered
   * session is dropped, and the result is true when the handshake had resumed it: a full
   * handshake is judged on its own merits and is worth trying at once. Any other failure (a
   * hello that timed out, a connection lost) keeps the session: in a reconnect storm those
   * mean a busy server, and a full handshake would only cost it more.
   */
  failed(refused: boolean): boolean;
}

/**
 * One client's TLS sessions, by server (host, port and name). Holds one session per server; a
 * PipeClient dials one server, so in practice one.
 */
export class ClientSessions {
  readonly enabled: boolean;
  readonly #sessions = new Map<string, ServerSession>();
  readonly #now: () => number;

  constructor({ enabled = true, now }: { enabled?: boolean; now?: () => number } = {}) {
    this.enabled = enabled;
    this.#now = now ?? Date.now;
  }

  /** Servers with a session kept (tests, leak checks). */
  get size(): number {
    return this.#sessions.size;
  }

  /**
   * The session to offer when dialing `server`, or undefined for a full handshake: none kept,
   * resumption off, or the server certificate it restores fails the re-check (then it is
   * dropped here, before a connection is spent on it).
   */
  offer(server: string, ca: CaInput): Buffer | undefined {
    if (!this.enabled) return undefined;
    const kept = this.#sessions.get(server);
    if (kept === undefined) return undefined;
    if (this.#check(kept.serverCert, ca) !== undefined) {
      this.#sessions.delete(server);
      return undefined;
    }
    return kept.session;
  }

  /**
   * Starts a dial's bookkeeping once its TLS handshake is done: whether it resumed, the re-check
   * of a resumed one, and (for a full handshake) listening for the tickets the server sends.
   * `listener` must already be the socket's 'session' listener (see {@link sessionListener});
   * the dial's `serverCn` and `serverCertDer` are what the full handshake's name check saw.
   */
  dialed(server: string, dial: DialedPipe, ca: CaInput, listener: SessionListener | undefined): DialSession {
    const { socket } = dial;
    const offered = this.#sessions.get(server);
    const resumed = dial.resumed === true && offered !== undefined;
    const refusal = resumed ? this.#check(offered.serverCert, ca) : undefined;
    const serverCn = resumed ? offered.serverCn : dial.serverCn;
    const serverCertDer = resumed ? undefined : dial.serverCertDer;
    const stop = (): void => {
      if (listener !== undefined) socket.removeListener('session', listener);
    };
    return {
      resumed,
      serverCn,
      refusal,
      serverValidTo: resumed ? offered.serverCert.validTo : dial.serverValidTo,
      serverFingerprint256: resumed ? offered.serverCert.fingerprint256 : dial.serverFingerprint256,
      pipeUp: () => {
        stop();
        // A resumed session is kept as it is: OpenSSL sends no new ticket on resumption.
        const latest = listener?.latest;
        if (!this.enabled || resumed || latest === undefined || serverCertDer === undefined) return;
        this.#sessions.set(server, { session: latest, serverCert: new X509Certificate(serverCertDer), serverCn });
      },
      failed: (refused) => {
        stop();
        if (!refused) return false;
        this.#sessions.delete(server);
        return resumed;
      },
    };
  }

  /** Forgets every session (a new identity must not resume as the old one). */
  clear(): void {
    this.#sessions.clear();
  }

  #check(cert: X509Certificate, ca: CaInput): RecheckRefusal | undefined {
    return recheckFor(ca, this.#now).check(cert);
  }
}

/**
 * One CertificateRecheck per CA bundle in the process: clients of the same CA (a load
 * generator's thousands, or a library user's several) parse it once and verify the server's
 * certificate once (issue 14's storm profile: a CA parsed per client cost ~0.3 ms each).
 */
const rechecks: Array<{ ca: CaInput; now: () => number; recheck: CertificateRecheck }> = [];
const MAX_RECHECKS = 8;

function recheckFor(ca: CaInput, now: () => number): CertificateRecheck {
  const found = rechecks.find((r) => r.ca === ca && r.now === now);
  if (found !== undefined) return found.recheck;
  const recheck = new CertificateRecheck({ ca, now });
  rechecks.unshift({ ca, now, recheck });
  if (rechecks.length > MAX_RECHECKS) rechecks.pop();
  return recheck;
}

/** A 'session' listener that keeps the newest session a socket reported. */
export interface SessionListener {
  (session: Buffer): void;
  latest: Buffer | undefined;
}

/**
 * A listener for a socket's 'session' event, to attach before the handshake ends (TLS 1.3
 * tickets arrive right after it). The server sends two; the newest is kept.
 */
export function sessionListener(): SessionListener {
  const listener = ((session: Buffer) => {
    listener.latest = session;
  }) as SessionListener;
  listener.latest = undefined;
  return listener;
}
