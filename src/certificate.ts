import { X509Certificate } from 'node:crypto';

/** The CN of a certificate given as PEM or DER; '' when it has none or does not parse. */
export function certificateCommonName(cert: string | Buffer | undefined): string {
  if (cert === undefined || cert.length === 0) return '';
  try {
    const subject = new X509Certificate(cert).subject;
    const cn = subject.split('\n').find((line) => line.startsWith('CN='));
    return cn === undefined ? '' : cn.slice(3);
  } catch {
    return '';
  }
}

/**
 * Node names (certificate CNs): they become URL path segments and log fields, so the charset is
 * narrow: 1 to 64 letters, digits, '.', '-', '_', starting with a letter or digit.
 */
export const NODE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function isValidNodeName(name: string): boolean {
  return NODE_NAME_PATTERN.test(name);
}
