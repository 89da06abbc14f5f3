import type { PeerCertificate, TLSSocket } from 'node:tls';
import { EKU } from '../certificate.js';
import { nodeNameProblem } from '../names.js';

/** A verified client: its name is its certificate's CN. */
export interface AcceptedPeer {
  accepted: true;
  name: string;
  fingerprint256: string;
  /** The certificate (DER) and its notAfter, so the caller need not build the peer certificate again (~80 µs each). */
  der: Buffer;
  validTo: string;
}

/** A refused client, with what is known of it for the log. */
export interface RefusedPeer {
  accepted: false;
  /** OpenSSL's code (`CERT_HAS_EXPIRED`, `UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `CERT_REVOKED`, …) or restpipe's reason. */
  reason: string;
  cn?: string;
  issuer?: string;
  fingerprint256?: string;
  validTo?: string;
}

/**
 * Judges a client's certificate after the TLS handshake. The server runs with
 * `rejectUnauthorized: false` only so that this function sees OpenSSL's reason; every socket it
 * does not accept is closed before a frame of it is read (RELIABILITY §4 item 3).
 */
export function judgePeer(socket: TLSSocket): AcceptedPeer | RefusedPeer {
  const cert: PeerCertificate | undefined = socket.getPeerCertificate();
  const hasCert = cert !== undefined && cert !== null && Object.keys(cert).length > 0;
  const details = hasCert
    ? {
        ...(typeof cert.subject?.CN === 'string' ? { cn: cert.subject.CN } : {}),
        ...(typeof cert.issuer?.CN === 'string' ? { issuer: cert.issuer.CN } : {}),
        fingerprint256: cert.fingerprint256,
        validTo: cert.valid_to,
      }
    : {};
  if (!socket.authorized) {
    const code = socket.authorizationError;
    const reason = hasCert ? String(code ?? 'certificate not verified') : 'no client certificate';
    return { accepted: false, reason, ...details };
  }
  if (!hasCert) return { accepted: false, reason: 'no client certificate' };
  const cn: unknown = cert.subject?.CN;
  if (typeof cn !== 'string') {
    return { accepted: false, reason: Array.isArray(cn) ? 'certificate has several CNs' : 'certificate has no CN', ...details };
  }
  // An IP literal is refused too: as a name it would capture /client/ADDRESS/… on the gateway.
  const nameProblem = nodeNameProblem(cn);
  if (nameProblem !== undefined) {
    return { accepted: false, reason: `certificate CN ${JSON.stringify(cn.slice(0, 80))} is not a valid node name (${nameProblem})`, ...details };
  }
  const eku = cert.ext_key_usage;
  if (Array.isArray(eku) && eku.length > 0 && !eku.includes(EKU.clientAuth)) {
    return { accepted: false, reason: 'INVALID_PURPOSE: certificate not for client authentication', ...details };
  }
  return { accepted: true, name: cn, fingerprint256: cert.fingerprint256, der: cert.raw, validTo: cert.valid_to };
}

/** `::ffff:127.0.0.1` → `127.0.0.1`, so IPv4 clients match however the server socket saw them. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
