import { X509Certificate } from 'node:crypto';

/** The CN of a certificate given as PEM or DER; '' when it has none or does not parse. */
export function certificateCommonName(cert: string | Buffer | undefined): string {
  if (cert === undefined || cert.length === 0) return '';
  try {
    return x509CommonName(new X509Certificate(cert));
  } catch {
    return '';
  }
}

/** The CN of a parsed certificate (e.g. `socket.getPeerX509Certificate()`); '' when it has none. */
export function x509CommonName(cert: X509Certificate | undefined): string {
  if (cert === undefined) return '';
  const cn = cert.subject.split('\n').find((line) => line.startsWith('CN='));
  return cn === undefined ? '' : cn.slice(3);
}

/** Extended key usage OIDs (RFC 5280 §4.2.1.12) restpipe issues and checks. */
export const EKU = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  any: '2.5.29.37.0',
} as const;
