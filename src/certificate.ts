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

/**
 * The syntax of a node name (a certificate CN): 1 to 64 characters, letters, digits, `.`, `-`
 * and `_`, starting with a letter or digit. A CN becomes a URL path segment on the gateway
 * (`/client/NAME/…`, SPEC §4), a log field and a file name (`ca issue NAME`), so anything that
 * could need escaping in one of those is refused (RELIABILITY §4 item 4). 64 is X.520's upper
 * bound for a common name.
 */
export const NODE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Says what a node name may contain, for error messages. */
export const NODE_NAME_RULE = "1-64 letters, digits, '.', '-' or '_', starting with a letter or digit";

/** True when `name` is a valid node name (see {@link NODE_NAME_PATTERN}). */
export function isValidNodeName(name: unknown): name is string {
  return typeof name === 'string' && NODE_NAME_PATTERN.test(name);
}
