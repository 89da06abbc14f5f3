import { isIP } from 'node:net';

/**
 * What may be a name, decided once for everyone who checks one: node names (certificate CNs),
 * DNS host names, and strings a resolver reads as an IP address.
 */

/**
 * The syntax of a node name (a certificate CN): 1 to 64 characters, letters, digits, `.`, `-`
 * and `_`, starting with a letter or digit. A CN becomes a URL path segment on the gateway
 * (`/client/NAME/…`, SPEC §4), a log field and a file name (`ca issue NAME`), so anything that
 * could need escaping in one of those is refused (RELIABILITY §4 item 4). 64 is X.520's upper
 * bound for a common name. A name with this syntax is still refused when it is an IP literal
 * ({@link nodeNameProblem}).
 */
export const NODE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Says what a node name may contain, for error messages. */
export const NODE_NAME_RULE = "1-64 letters, digits, '.', '-' or '_', starting with a letter or digit, and not an IP address";

/**
 * Why a name that has the node-name syntax is still refused: it reads as an IP address. The
 * gateway's `/client/ADDRESS/…` routes by the address clients connect from (SPEC §4), so a
 * certificate named `127.0.0.1` must not be able to capture the requests meant for the client at
 * that address.
 */
export const IP_NAME_PROBLEM = 'an IP address; a node name may not be one, since /client/ADDRESS/… on the server routes by address';

// Labels that are all numbers (decimal or 0x hex), as inet_aton and URL parsers read IPv4
// addresses: `127.1`, `0x7f.0.0.1` and `2130706433` all mean 127.0.0.1 to a resolver.
const NUMERIC_LABELS = /^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?$/i;

/**
 * True when `s` is an IP address, or a string a resolver reads as an IPv4 address (`127.1`,
 * `2130706433`): such a name may never be a node name, and the gateway always takes it as an
 * address.
 */
export function isIpLiteral(s: string): boolean {
  return isIP(s) !== 0 || NUMERIC_LABELS.test(s);
}

/**
 * What is wrong with `name` as a node name (a certificate CN): {@link NODE_NAME_RULE} when it
 * does not have the syntax, {@link IP_NAME_PROBLEM} when it is an IP literal; undefined when it
 * is valid.
 */
export function nodeNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || !NODE_NAME_PATTERN.test(name)) return NODE_NAME_RULE;
  return isIpLiteral(name) ? IP_NAME_PROBLEM : undefined;
}

/** True when `name` is a valid node name: {@link NODE_NAME_PATTERN} and not an IP literal. */
export function isValidNodeName(name: unknown): name is string {
  return nodeNameProblem(name) === undefined;
}

// A DNS label, as RFC 1123 has it, plus '_' which resolvers, OpenSSL and Node accept in names.
const DNS_LABEL = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;

/**
 * True when `s` has the syntax of a DNS host name: labels of letters, digits, `-` and `_`, at
 * most 253 characters. A trailing dot (the root) is accepted unless `allowTrailingDot` is false
 * (a certificate's SAN never has one).
 */
export function isHostname(s: string, { allowTrailingDot = true }: { allowTrailingDot?: boolean } = {}): boolean {
  const name = allowTrailingDot && s.endsWith('.') ? s.slice(0, -1) : s;
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((label) => DNS_LABEL.test(label));
}
