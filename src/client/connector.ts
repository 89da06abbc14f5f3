import { isIP } from 'node:net';
import tls from 'node:tls';
import { NODE_NAME_PATTERN, x509CommonName } from '../certificate.js';
import { formatSeconds } from '../pipe/inflight.js';

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
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  keepAliveMs: number;
  signal?: AbortSignal;
}

/** A failed dial, with the phase it failed in and Node's error code when there is one. */
export class DialError extends Error {
  constructor(
    message: string,
    readonly phase: 'connect' | 'handshake',
    readonly code: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DialError';
  }
}

/**
 * Opens a TCP connection and a TLS session to the server, each within its own timeout (Node has
 * no connect timeout: a black-holed SYN waits ~127 s). The server's certificate is verified
 * against the CA and the dialed name by Node's defaults (`rejectUnauthorized` cannot be turned
 * off here), and no TLS session is reused, so every reconnect re-verifies fully (SPEC §6).
 */
export function dialTls(o: DialOptions): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const servername = o.servername ?? (isIP(o.host) === 0 ? o.host : undefined);
    const socket = tls.connect({
      host: o.host,
      port: o.port,
      ...(servername === undefined ? {} : { servername }),
      secureContext: secureContextFor(o.tls),
      rejectUnauthorized: true,
      // Node's own check, unchanged; the certificate object Node builds for it also gives the
      // server's CN, which would otherwise cost a second extraction (see peerCommonName).
      checkServerIdentity: (hostname, cert) => {
        const err = tls.checkServerIdentity(hostname, cert);
        const cn: unknown = cert.subject?.CN;
        if (err === undefined && typeof cn === 'string' && NODE_NAME_PATTERN.test(cn)) serverNames.set(socket, cn);
        return err;
      },
    });
    let phase: 'connect' | 'handshake' = 'connect';
    let settled = false;
    const onTimeout = (): void => {
      const ms = phase === 'connect' ? o.connectTimeoutMs : o.handshakeTimeoutMs;
      fail(new DialError(`${phase === 'connect' ? 'TCP connect' : 'TLS handshake'} timed out after ${formatSeconds(ms)}`, phase, 'ETIMEDOUT'));
    };
    let timer = setTimeout(onTimeout, o.connectTimeoutMs);
    const cleanUp = (): void => {
      settled = true;
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      socket.removeListener('error', fail);
      socket.removeListener('close', onClose);
    };
    function fail(err: Error): void {
      if (settled) return;
      cleanUp();
      socket.destroy();
      const code = (err as NodeJS.ErrnoException).code;
      reject(err instanceof DialError ? err : new DialError(describeDialError(err, phase), phase, code, { cause: err }));
    }
    function onAbort(): void {
      fail(new DialError('dial cancelled', phase, 'ABORT_ERR'));
    }
    function onClose(): void {
      fail(new DialError(`connection closed during the ${phase === 'connect' ? 'TCP connect' : 'TLS handshake'}`, phase, 'ECONNRESET'));
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
      resolve(socket);
    });
  });
}

function ignoreError(): void {}

const serverNames = new WeakMap<tls.TLSSocket, string>();

/**
 * The CN of the server's certificate on a socket from {@link dialTls}; '' when it has none.
 * Taken from the identity check when it is a plain node name, else read from the certificate.
 */
export function peerCommonName(socket: tls.TLSSocket): string {
  return serverNames.get(socket) ?? x509CommonName(socket.getPeerX509Certificate());
}

interface CachedContext {
  key: ClientTlsMaterial['key'];
  cert: ClientTlsMaterial['cert'];
  ca: ClientTlsMaterial['ca'];
  caItems: Array<string | Buffer> | undefined;
  context: tls.SecureContext;
}
const contexts = new WeakMap<ClientTlsMaterial, CachedContext>();

/**
 * The SecureContext of a client's TLS material, made once and reused by every dial (making one
 * parses the key and the CA: ~1 ms, most of a reconnect's CPU). A context holds no TLS session
 * for reuse (Node keeps client sessions only when handed back through `session`), so every
 * dial still does a full handshake and verifies the server's certificate. Made again when the
 * material object's key, cert or CA changed.
 */
function secureContextFor(material: ClientTlsMaterial): tls.SecureContext {
  const cached = contexts.get(material);
  if (
    cached !== undefined &&
    cached.key === material.key &&
    cached.cert === material.cert &&
    cached.ca === material.ca &&
    (cached.caItems === undefined || sameItems(cached.caItems, material.ca as Array<string | Buffer>))
  ) {
    return cached.context;
  }
  const context = tls.createSecureContext({ key: material.key, cert: material.cert, ca: material.ca, minVersion: 'TLSv1.2' });
  const caItems = Array.isArray(material.ca) ? [...material.ca] : undefined;
  contexts.set(material, { key: material.key, cert: material.cert, ca: material.ca, caItems, context });
  return context;
}

function sameItems(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describeDialError(err: Error, phase: 'connect' | 'handshake'): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (phase === 'handshake' || /CERT|SELF_SIGNED|UNABLE_TO|ALTNAME|ERR_SSL|ERR_TLS/.test(code)) {
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
