import { canonicalSerial, splitPemCertificates, type RecheckCrl } from '../cert-recheck.js';
import { x509 } from './x509.js';

type PemInput = string | Buffer | Array<string | Buffer>;

/**
 * Says whether a certificate (DER) is listed in any of the given PEM CRLs: same issuer name,
 * same serial number. OpenSSL applies a CRL only to new handshakes; the pipe server uses this to
 * find the live pipes a reloaded CRL revokes (RELIABILITY §4 item 6). The CRLs are parsed once
 * here; each call parses the certificate (~0.1 ms), so this is for a reload's sweep over the
 * open pipes, not for every connection ({@link crlsForRecheck} is).
 * @throws Error when a CRL does not parse (the caller keeps its previous checker).
 */
export function revocationChecker(crlPems: string | Buffer | Array<string | Buffer>): (certDer: Uint8Array) => boolean {
  const revoked = new Set<string>();
  for (const crl of parseCrls(crlPems)) {
    const issuer = crl.issuerName.toString();
    for (const entry of crl.entries) revoked.add(`${issuer}|${canonicalSerial(entry.serialNumber)}`);
  }
  return (certDer) => {
    if (revoked.size === 0) return false;
    const cert = new x509.X509Certificate(certDer);
    return revoked.has(`${cert.issuerName.toString()}|${canonicalSerial(cert.serialNumber)}`);
  };
}

/**
 * The CRLs in the form {@link CertificateRecheck} takes: each matched to the CA of `caPems` that
 * issued it (by name, as OpenSSL finds a CRL for a certificate's issuer), with its serials and
 * dates. Parsing happens here, once per CRL change, so that a resumed connection's re-check is a
 * Set lookup.
 * @throws Error when a CRL or a CA certificate does not parse.
 */
export function crlsForRecheck(crlPems: PemInput, caPems: PemInput): RecheckCrl[] {
  const caSubjects = splitPemCertificates(caPems).map((pem) => new x509.X509Certificate(pem).subjectName.toString());
  return parseCrls(crlPems).map((crl) => ({
    caIndexes: caSubjects.flatMap((subject, i) => (subject === crl.issuerName.toString() ? [i] : [])),
    revokedSerials: new Set(crl.entries.map((e) => canonicalSerial(e.serialNumber))),
    thisUpdateMs: crl.thisUpdate.getTime(),
    nextUpdateMs: crl.nextUpdate?.getTime() ?? Number.NaN,
  }));
}

function parseCrls(crlPems: PemInput): x509.X509Crl[] {
  const texts = (Array.isArray(crlPems) ? crlPems : [crlPems]).map((p) => p.toString());
  // One file may hold several CRLs (one per CA), as OpenSSL's `crl` option accepts.
  return texts.flatMap((text) => (text.match(/-----BEGIN X509 CRL-----[\s\S]+?-----END X509 CRL-----/g) ?? []).map((block) => new x509.X509Crl(block)));
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
