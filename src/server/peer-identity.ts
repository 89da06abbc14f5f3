import type { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { nodeNameProblem } from '../certificate.js';

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** A verified client: its name is its certificate's CN. */
export interface AcceptedPeer {
  accepted: true;
  name: string;
  fingerprint256: string;
  /** The certificate (DER) and its notAfter, so the caller need not build the peer certificate again. */
  der: Buffer;
  validTo: string;
  /** The certificate itself (the resumption re-check reads it too). */
  cert: X509Certificate;
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
  // The X509Certificate view costs ~10 µs; getPeerCertificate() builds every field as a JS
  // object (~150 µs, the largest single cost of a reconnect storm on the server, issue 14).
  const cert = socket.getPeerX509Certificate();
  const cns = cert === undefined ? [] : subjectValues(cert.subject, 'CN');
  const issuer = cert === undefined ? undefined : subjectValues(cert.issuer, 'CN')[0];
  const details =
    cert === undefined
      ? {}
      : { ...(cns.length === 1 ? { cn: cns[0] } : {}), ...(issuer === undefined ? {} : { issuer }), fingerprint256: cert.fingerprint256, validTo: cert.validTo };
  if (!socket.authorized) {
    const code = socket.authorizationError;
    const reason = cert !== undefined ? String(code ?? 'certificate not verified') : 'no client certificate';
    return { accepted: false, reason, ...details };
  }
  if (cert === undefined) return { accepted: false, reason: 'no client certificate' };
  const cn = cns[0];
  if (cns.length !== 1 || cn === undefined) {
    return { accepted: false, reason: cns.length > 1 ? 'certificate has several CNs' : 'certificate has no CN', ...details };
  }
  // An IP literal is refused too: as a name it would capture /client/ADDRESS/… on the gateway.
  const nameProblem = nodeNameProblem(cn);
  if (nameProblem !== undefined) {
    return { accepted: false, reason: `certificate CN ${JSON.stringify(cn.slice(0, 80))} is not a valid node name (${nameProblem})`, ...details };
  }
  // Node 20 calls the extended key usages `keyUsage`; later versions `extKeyUsage` (and
  // deprecate the old name).
  const eku = 'extKeyUsage' in cert ? (cert as { extKeyUsage?: string[] }).extKeyUsage : cert.keyUsage;
  if (Array.isArray(eku) && eku.length > 0 && !eku.includes(CLIENT_AUTH_OID)) {
    return { accepted: false, reason: 'INVALID_PURPOSE: certificate not for client authentication', ...details };
  }
  return { accepted: true, name: cn, fingerprint256: cert.fingerprint256, der: cert.raw, validTo: cert.validTo, cert };
}

/**
 * The values of one attribute in a distinguished name as X509Certificate prints it: one RDN a
 * line (`C=…\nO=…\nCN=…`), values escaped as RFC 2253 says, so a line never holds another's
 * text. A multi-valued RDN (`CN=a + CN=b`) stays one value, which no node name matches.
 */
function subjectValues(name: string, attribute: string): string[] {
  const prefix = `${attribute}=`;
  const values: string[] = [];
  for (const line of name.split('\n')) if (line.startsWith(prefix)) values.push(line.slice(prefix.length));
  return values;
}

/** `::ffff:127.0.0.1` → `127.0.0.1`, so IPv4 clients match however the server socket saw them. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
