import { x509 } from './x509.js';

/**
 * Says whether a certificate (DER) is listed in any of the given PEM CRLs: same issuer name,
 * same serial number. OpenSSL applies a CRL only to new handshakes; the pipe server uses this to
 * find the live pipes a reloaded CRL revokes (RELIABILITY §4 item 6). The CRLs are parsed once
 * here, so the returned function is synchronous and cheap enough to run per connection.
 * @throws Error when a CRL does not parse (the caller keeps its previous checker).
 */
export function revocationChecker(crlPems: string | Buffer | Array<string | Buffer>): (certDer: Uint8Array) => boolean {
  const revoked = new Set<string>();
  const texts = (Array.isArray(crlPems) ? crlPems : [crlPems]).map((p) => p.toString());
  for (const text of texts) {
    // One file may hold several CRLs (one per CA), as OpenSSL's `crl` option accepts.
    const blocks = text.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g) ?? [];
    for (const block of blocks) {
      const crl = new x509.X509Crl(block);
      const issuer = crl.issuerName.toString();
      for (const entry of crl.entries) revoked.add(`${issuer}|${canonicalSerial(entry.serialNumber)}`);
    }
  }
  return (certDer) => {
    if (revoked.size === 0) return false;
    const cert = new x509.X509Certificate(certDer);
    return revoked.has(`${cert.issuerName.toString()}|${canonicalSerial(cert.serialNumber)}`);
  };
}

/** Lower-case hex without leading zero bytes: DER may prefix a 00 that OpenSSL's form lacks. */
function canonicalSerial(hex: string): string {
  let h = hex.replace(/[:\s]/g, '').toLowerCase();
  if (h.length % 2 === 1) h = `0${h}`;
  return h.replace(/^(?:00)+(?=..)/, '');
}

/**
 * The earliest nextUpdate of the given PEM CRLs (past it OpenSSL refuses every peer with
 * CRL_HAS_EXPIRED); undefined when none has one.
 * @throws Error when a CRL does not parse.
 */
export function crlNextUpdate(crlPems: string | Buffer | Array<string | Buffer>): Date | undefined {
  let earliest: Date | undefined;
  for (const text of (Array.isArray(crlPems) ? crlPems : [crlPems]).map((p) => p.toString())) {
    for (const block of text.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g) ?? []) {
      const next = new x509.X509Crl(block).nextUpdate;
      if (next !== undefined && (earliest === undefined || next < earliest)) earliest = next;
    }
  }
  return earliest;
}
