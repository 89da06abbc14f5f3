import type { X509Certificate } from 'node:crypto';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { EKU } from '../certificate.js';
import { nodeNameProblem } from '../names.js';

/** A verified client: its name is its certificate's CN. */
export interface AcceptedPeer {
  accepted: true;
  name: string;
  fingerprint256: string;
  /** The certificate (DER) and its notAfter, so the caller need not build the peer certificate again. */
  der: Buffer;
  validTo: string;
  /** For a resumed session, the certificate it restored (the resumption re-check reads it). */
  cert: X509Certificate | undefined;
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

/** What judgePeer reads of a certificate, whichever of Node's two views it came from. */
interface PeerView {
  cns: string[];
  issuer: string | undefined;
  fingerprint256: string;
  validTo: string;
  der: Buffer;
  /** Extended key usages (OIDs); undefined when the certificate has none. */
  eku: string[] | undefined;
  cert: X509Certificate | undefined;
}

/**
 * Judges a client's certificate after the TLS handshake. The server runs with
 * `rejectUnauthorized: false` only so that this function sees OpenSSL's reason; every socket it
 * does not accept is closed before a frame of it is read (RELIABILITY §4 item 3).
 */
export function judgePeer(socket: TLSSocket): AcceptedPeer | RefusedPeer {
  // Reading the certificate is the largest cost of a reconnect storm on the server that is ours
  // (issue 14), and Node's two views cost differently. A resumed session restores no issuer
  // chain, so its X509Certificate view is cheap (~35 µs under load, against ~290 µs for the
  // object form) and the re-check needs it anyway. After a full handshake, Node builds that
  // view with a copy of every certificate of the chain the client sent (~0.7 ms), where the
  // object form costs ~0.4 ms.
  const view = socket.isSessionReused() ? x509View(socket.getPeerX509Certificate()) : objectView(socket.getPeerCertificate());
  const details =
    view === undefined
      ? {}
      : {
          ...(view.cns.length === 1 ? { cn: view.cns[0] } : {}),
          ...(view.issuer === undefined ? {} : { issuer: view.issuer }),
          fingerprint256: view.fingerprint256,
          validTo: view.validTo,
        };
  if (!socket.authorized) {
    const code = socket.authorizationError;
    const reason = view !== undefined ? String(code ?? 'certificate not verified') : 'no client certificate';
    return { accepted: false, reason, ...details };
  }
  if (view === undefined) return { accepted: false, reason: 'no client certificate' };
  const cn = view.cns[0];
  if (view.cns.length !== 1 || cn === undefined) {
    return { accepted: false, reason: view.cns.length > 1 ? 'certificate has several CNs' : 'certificate has no CN', ...details };
  }
  // An IP literal is refused too: as a name it would capture /client/ADDRESS/… on the gateway.
  const nameProblem = nodeNameProblem(cn);
  if (nameProblem !== undefined) {
    return { accepted: false, reason: `certificate CN ${JSON.stringify(cn.slice(0, 80))} is not a valid node name (${nameProblem})`, ...details };
  }
  if (view.eku !== undefined && view.eku.length > 0 && !view.eku.includes(EKU.clientAuth)) {
    return { accepted: false, reason: 'INVALID_PURPOSE: certificate not for client authentication', ...details };
  }
  return { accepted: true, name: cn, fingerprint256: view.fingerprint256, der: view.der, validTo: view.validTo, cert: view.cert };
}

function objectView(cert: PeerCertificate | undefined): PeerView | undefined {
  if (cert === undefined || cert === null || Object.keys(cert).length === 0) return undefined;
  const cn: unknown = cert.subject?.CN;
  const issuer: unknown = cert.issuer?.CN;
  return {
    // Node gives a repeated attribute as an array.
    cns: typeof cn === 'string' ? [cn] : Array.isArray(cn) ? cn.map(String) : [],
    issuer: typeof issuer === 'string' ? issuer : undefined,
    fingerprint256: cert.fingerprint256,
    validTo: cert.valid_to,
    der: cert.raw,
    eku: Array.isArray(cert.ext_key_usage) ? cert.ext_key_usage : undefined,
    cert: undefined,
  };
}

function x509View(cert: X509Certificate | undefined): PeerView | undefined {
  if (cert === undefined) return undefined;
  // Node 20 calls the extended key usages `keyUsage`; later versions `extKeyUsage` (and
  // deprecate the old name).
  const eku = 'extKeyUsage' in cert ? (cert as { extKeyUsage?: string[] }).extKeyUsage : cert.keyUsage;
  return {
    cns: subjectValues(cert.subject, 'CN'),
    issuer: subjectValues(cert.issuer, 'CN')[0],
    fingerprint256: cert.fingerprint256,
    validTo: cert.validTo,
    der: cert.raw,
    eku: Array.isArray(eku) ? eku : undefined,
    cert,
  };
}

/**
 * The values of one attribute in a distinguished name as X509Certificate prints it: one RDN a
 * line (`C=…\nO=…\nCN=…`), the parts of a multi-valued RDN joined by ` + ` (`CN=a + CN=b`),
 * values escaped as RFC 2253 says (a `+` or newline in a value is `\+` or `\0A`), so a
 * separator is never part of a value. Gives what the object view gives: every CN, wherever.
 */
function subjectValues(name: string, attribute: string): string[] {
  const prefix = `${attribute}=`;
  const values: string[] = [];
  for (const line of name.split('\n')) {
    for (const part of line.split(' + ')) if (part.startsWith(prefix)) values.push(part.slice(prefix.length));
  }
  return values;
}

/** `::ffff:127.0.0.1` → `127.0.0.1`, so IPv4 clients match however the server socket saw them. */
export function normalizeAddress(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
