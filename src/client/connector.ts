import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { ErrorCode, RestpipeError } from '../errors.js';
import { formatSeconds } from '../text.js';
import { DEFAULT_TLS_MIN_VERSION, pipeTlsOptions, type TlsMinVersion } from '../tls-policy.js';

/** The client's TLS material: its key and certificate, and the CA that signed the server's. */
export interface ClientTlsMaterial {
  key: string | Buffer;
  cert: string | Buffer;
  ca: string | Buffer | Array<string | Buffer>;
}

export interface DialOptions {
  host: string;
  port: number;
  /** The name the server's certificate must carry; defaults to `host` unless it is an IP. */
  servername?: string;
  tls: ClientTlsMaterial;
  /** The lowest TLS version offered; suites and groups are fixed (src/tls-policy.ts). @default 'TLSv1.2' */
  tlsMinVersion?: TlsMinVersion;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  keepAliveMs: number;
  signal?: AbortSignal;
  /** A TLS session to resume (issue 14); the server may still choose a full handshake. */
  session?: Buffer;
  /** Attached as the socket's 'session' listener before the handshake, to catch TLS 1.3 tickets. */
  onSession?: (session: Buffer) => void;
}

/**
 * What a dial gives the client: a connected stream to the server whose certificate was
 * verified, and that certificate's CN ('' when none).
 */
export interface DialedPipe {
  socket: Duplex & { readonly remoteAddress?: string | undefined; getProtocol(): string | null };
  serverCn: string;
  /** The server certificate's notAfter (as Node gives `valid_to`) and fingerprint, when known. */
  serverValidTo?: string;
  serverFingerprint256?: string;
  /** Whether the handshake resumed the offered session (issue 14). @default false */
  resumed?: boolean;
  /**
   * The server certificate (DER) the name check saw; undefined on a resumed session, where
   * OpenSSL checks nothing and Node shows no certificate.
   */
  serverCertDer?: Buffer | undefined;
}

/** A dialed TLS socket (what {@link dialTls} gives). */
export interface DialedTls extends DialedPipe {
  socket: tls.TLSSocket;
}

/**
 * Opens the client's connection to the server: {@link dialTls}, or a stand-in (tests). Rejects
 * with a RestpipeError: `no_connection` (TCP connect failed or timed out, the dial was
 * cancelled, the connection closed) or `tls_refused` (the TLS handshake failed: a certificate
 * refused either way, a name mismatch, a TLS alert), Node's own error as its `cause`.
 */
export type Connector = (options: DialOptions) => Promise<DialedPipe>;

interface CachedContext {
  key: ClientTlsMaterial['key'];
  cert: ClientTlsMaterial['cert'];
  ca: ClientTlsMaterial['ca'];
  minVersion: TlsMinVersion;
  context: tls.SecureContext;
}

const contexts = new WeakMap<ClientTlsMaterial, CachedContext>();

/**
 * The SecureContext for a client's material, built once and reused for every dial. Building one
 * parses the key, the certificate and the CA bundle (~0.8 ms here): per dial it was a third of
 * a reconnect storm's client-side CPU. It holds no session state (sessions are passed to
 * `tls.connect` per dial), so reuse changes nothing about what a reconnect verifies. Rebuilt if
 * the material object's fields were replaced.
 */
export function clientSecureContext(material: ClientTlsMaterial, minVersion: TlsMinVersion = DEFAULT_TLS_MIN_VERSION): tls.SecureContext {
  const cached = contexts.get(material);
  if (
    cached !== undefined &&
    cached.key === material.key &&
    cached.cert === material.cert &&
    cached.ca === material.ca &&
    cached.minVersion === minVersion
  ) {
    return cached.context;
  }
  // The same versions, suites and groups as the server offers (src/tls-policy.ts).
  const context = tls.createSecureContext({ key: material.key, cert: material.cert, ca: material.ca, ...pipeTlsOptions(minVersion) });
  contexts.set(material, { key: material.key, cert: material.cert, ca: material.ca, minVersion, context });
  return context;
}

/**
 * Opens a TCP connection and a TLS session to the server, each within its own timeout (Node has
 * no connect timeout: a black-holed SYN waits ~127 s). The server's certificate is verified
 * against the CA and the dialed name by Node's defaults (`rejectUnauthorized` cannot be turned
 * off here). With `session`, the handshake may resume it: OpenSSL then verifies nothing and
 * shows no server certificate, so the caller re-checks the one it kept (session-cache.ts).
 */
export function dialTls(o: DialOptions): Promise<DialedTls> {
  return new Promise((resolve, reject) => {
    const servername = o.servername ?? (isIP(o.host) === 0 ? o.host : undefined);
    // Node builds the server's certificate object (getPeerCertificate(true)) for its name check
    // on every handshake; its CN is taken from there rather than by building (and parsing) it a
    // second time, which cost ~a quarter of a reconnect storm's client-side CPU.
    let serverCn = '';
    let serverValidTo: string | undefined;
    let serverFingerprint256: string | undefined;
    let serverCertDer: Buffer | undefined;
    const socket = tls.connect({
      host: o.host,
      port: o.port,
      ...(servername === undefined ? {} : { servername }),
      ...(o.session === undefined ? {} : { session: o.session }),
      secureContext: clientSecureContext(o.tls, o.tlsMinVersion),
      rejectUnauthorized: true,
      checkServerIdentity: (hostname, cert) => {
        const cn: unknown = cert.subject?.CN;
        serverCn = typeof cn === 'string' ? cn : '';
        // For the pipe's end at the server certificate's expiry (PipeClient) and its gauge.
        serverValidTo = cert.valid_to;
        serverFingerprint256 = cert.fingerprint256;
        // Kept for the session cache; taken here because on a client socket Node's
        // getPeerX509Certificate() removes the certificate from the peer chain it reads it from
        // (Node 20: a second call, and getPeerCertificate(), then find nothing).
        serverCertDer = cert.raw;
        return tls.checkServerIdentity(hostname, cert);
      },
    });
    // Node's name check runs on `this.getPeerCertificate(true)`: the detailed form also builds
    // the issuer chain and costs ~0.45 ms per handshake here, against ~0.03 ms for the leaf
    // alone, and checkServerIdentity reads only the leaf's subject and subjectaltname. The chain
    // itself is verified by OpenSSL (Node checks verifyError before the name), so during the
    // handshake the detailed request is answered with the leaf; the override is removed as soon
    // as the dial settles, so the socket behaves as usual afterwards.
    if (o.onSession !== undefined) socket.on('session', o.onSession);
    Object.defineProperty(socket, 'getPeerCertificate', {
      configurable: true,
      writable: true,
      value: () => tls.TLSSocket.prototype.getPeerCertificate.call(socket, false),
    });
    let phase: 'connect' | 'handshake' = 'connect';
    let settled = false;
    const onTimeout = (): void => {
      // Timers run before I/O in each turn of the event loop. In a busy process (a reconnect
      // storm) the timer can be late and run before the callback of a connect or handshake
      // that the kernel finished in time; judging at once timed out dials that had succeeded
      // (issue 14: 2.5 % of a 5,000-client storm). So the verdict waits until this turn's I/O
      // has been delivered.
      const timedOutPhase = phase;
      setImmediate(() => {
        if (settled || phase !== timedOutPhase) return;
        const ms = phase === 'connect' ? o.connectTimeoutMs : o.handshakeTimeoutMs;
        fail(new RestpipeError(ErrorCode.NO_CONNECTION, `${phase === 'connect' ? 'TCP connect' : 'TLS handshake'} timed out after ${formatSeconds(ms)}`));
      });
    };
    let timer = setTimeout(onTimeout, o.connectTimeoutMs);
    const cleanUp = (): void => {
      settled = true;
      delete (socket as { getPeerCertificate?: unknown }).getPeerCertificate;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      socket.removeListener('error', fail);
      socket.removeListener('close', onClose);
    };
    function fail(err: Error): void {
      if (settled) return;
      cleanUp();
      socket.destroy();
      reject(err instanceof RestpipeError ? err : new RestpipeError(dialErrorCode(err, phase), describeDialError(err, phase), { cause: err }));
    }
    function onAbort(): void {
      fail(new RestpipeError(ErrorCode.NO_CONNECTION, 'dial cancelled'));
    }
    function onClose(): void {
      fail(new RestpipeError(ErrorCode.NO_CONNECTION, `connection closed during the ${phase === 'connect' ? 'TCP connect' : 'TLS handshake'}`));
    }
    o.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', fail);
    socket.once('close', onClose);
    socket.once('connect', () => {
      if (settled) return;
      phase = 'handshake';
      socket.setNoDelay(true);
      socket.setKeepAlive(true, o.keepAliveMs);
      clearTimeout(timer);
      timer = setTimeout(onTimeout, o.handshakeTimeoutMs);
    });
    socket.once('secureConnect', () => {
      if (settled) return;
      cleanUp();
      // Until the caller attaches its own listener (a microtask later), an 'error' must not
      // crash the process; the caller sees the socket close anyway.
      socket.on('error', ignoreError);
      resolve({
        socket,
        serverCn,
        resumed: socket.isSessionReused(),
        serverCertDer,
        ...(serverValidTo === undefined ? {} : { serverValidTo }),
        ...(serverFingerprint256 === undefined ? {} : { serverFingerprint256 }),
      });
    });
  });
}

function ignoreError(): void {}

/** A TLS failure (refused either way), or a connection that could not be made. */
function dialErrorCode(err: Error, phase: 'connect' | 'handshake'): ErrorCode {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return phase === 'handshake' || TLS_ERROR_CODE.test(code) ? ErrorCode.TLS_REFUSED : ErrorCode.NO_CONNECTION;
}

const TLS_ERROR_CODE = /CERT|SELF_SIGNED|UNABLE_TO|ALTNAME|ERR_SSL|ERR_TLS/;

function describeDialError(err: Error, phase: 'connect' | 'handshake'): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (phase === 'handshake' || TLS_ERROR_CODE.test(code)) {
    if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `server certificate does not match the dialed name: ${err.message}`;
    // "Is it signed by our CA?" would send someone chasing the wrong problem for a certificate
    // that is merely out of its validity window (or a clock that is off).
    if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
      return `server certificate refused (${code}): ${err.message}; check its validity dates and both clocks`;
    }
    if (/CERT|SELF_SIGNED|UNABLE_TO/.test(code)) return `server certificate refused (${code}): ${err.message}; is it signed by our CA?`;
    return `TLS handshake failed${code ? ` (${code})` : ''}: ${err.message}`;
  }
  return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}
