import { BlockList, isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { ErrorCode, RestpipeError } from '../errors.js';
import { truncate } from '../text.js';

/**
 * DNS-rebinding and cross-site protection for a loopback gateway (RELIABILITY S15, §4 item 11):
 * a service on 127.0.0.1 is reachable from any browser on the machine, so it refuses a Host
 * that is not loopback (an attacker's name rebound to 127.0.0.1) and any browser-sent Origin
 * (a page making requests cross-site), unless they are allowed explicitly.
 *
 * The Origin check alone misses a page's no-cors GETs (`<img src>`, `fetch(url, {mode:
 * 'no-cors'})`): browsers send no Origin with them and the Host is loopback, so the event runs
 * even though the page cannot read the reply (issue 8). Browsers do send `Sec-Fetch-Site` with
 * every request: anything but `same-origin` or `none` (typed in, a bookmark) comes from another
 * page and is refused unless it carries an allowed Origin. Clients that are not browsers send
 * no Sec-Fetch-Site and are not affected.
 */

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');
LOOPBACK.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');

/**
 * The Host/Origin rules of one gateway. An allowed host without a port matches any port;
 * `'*'` in either list allows anything.
 */
export class HostPolicy {
  readonly #allowedHosts: ReadonlySet<string>;
  readonly #allowedOrigins: ReadonlySet<string>;
  readonly #anyHost: boolean;
  readonly #anyOrigin: boolean;
  /** Host header values already found to be loopback: the check is a pure function of the string. */
  readonly #loopbackHosts = new Set<string>();

  constructor(allowedHosts: readonly string[], allowedOrigins: readonly string[]) {
    this.#anyHost = allowedHosts.includes('*');
    this.#anyOrigin = allowedOrigins.includes('*');
    this.#allowedHosts = new Set(allowedHosts.map(normalizeHost));
    this.#allowedOrigins = new Set(allowedOrigins.map((o) => o.toLowerCase()));
  }

  /**
   * A `forbidden` error for a refused request, else undefined. With `sameOriginAllowed` (the
   * gateway's own pages), an Origin that is the page's own (`http://` + the checked Host) is
   * accepted too: browsers send it with a same-origin POST.
   */
  check(headers: IncomingHttpHeaders, sameOriginAllowed = false): RestpipeError | undefined {
    const host = headers.host;
    // No Host at all (HTTP/1.0) cannot come from a browser; Node refuses it on HTTP/1.1.
    if (host !== undefined && !this.#anyHost && !this.#isLoopbackHost(host) && !this.#isAllowedHost(host)) {
      return new RestpipeError(
        ErrorCode.FORBIDDEN,
        `Host ${JSON.stringify(truncate(host))} is not a loopback name or address (DNS-rebinding protection); to accept it, allow it with httpAllowedHosts (--http-allow-host)`,
      );
    }
    if (this.#anyOrigin) return undefined;
    const origin = headers.origin;
    const originAllowed =
      origin !== undefined && (this.#allowedOrigins.has(origin.toLowerCase()) || (sameOriginAllowed && host !== undefined && origin.toLowerCase() === `http://${host.toLowerCase()}`));
    if (origin !== undefined && !originAllowed) {
      return new RestpipeError(
        ErrorCode.FORBIDDEN,
        `requests from browser origin ${JSON.stringify(truncate(origin))} are refused (cross-site protection); to accept it, allow the origin with httpAllowedOrigins (--http-allow-origin)`,
      );
    }
    const site = headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none' && !originAllowed) {
      return new RestpipeError(
        ErrorCode.FORBIDDEN,
        `a browser request from another web page (Sec-Fetch-Site: ${JSON.stringify(truncate(String(site)))}) without an allowed Origin is refused (cross-site protection); to accept a page's requests, allow its origin with httpAllowedOrigins (--http-allow-origin) and send them with fetch() in cors mode`,
      );
    }
    return undefined;
  }

  #isLoopbackHost(host: string): boolean {
    if (this.#loopbackHosts.has(host)) return true;
    if (!isLoopbackHostHeader(host)) return false;
    if (this.#loopbackHosts.size >= 64) this.#loopbackHosts.clear();
    this.#loopbackHosts.add(host);
    return true;
  }

  #isAllowedHost(host: string): boolean {
    if (this.#allowedHosts.size === 0) return false;
    const h = normalizeHost(host);
    if (this.#allowedHosts.has(h)) return true;
    const split = splitHostPort(h);
    return split !== undefined && this.#allowedHosts.has(split.name);
  }
}

/** True for `localhost`, `*.localhost`, 127.0.0.0/8, `::1` (and IPv4-mapped 127/8). */
export function isLoopbackName(name: string): boolean {
  const n = name.toLowerCase();
  if (n === 'localhost' || n.endsWith('.localhost')) return true;
  const family = isIP(n);
  // A valid dotted quad has no leading zeros, so 127.0.0.0/8 is exactly the '127.' prefix.
  if (family === 4) return n.startsWith('127.');
  return family !== 0 && LOOPBACK.check(n, 'ipv6');
}

/** A listen address (`127.0.0.1`, `[::1]`, `localhost`) that is loopback. */
export function isLoopbackListenHost(host: string): boolean {
  const h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return isLoopbackName(h);
}

/** A Host header (`name`, `name:port`, `[v6]`, `[v6]:port`) that names loopback. */
export function isLoopbackHostHeader(host: string): boolean {
  const split = splitHostPort(normalizeHost(host));
  return split !== undefined && isLoopbackName(split.name);
}

/** Lower case, no trailing dot on the name (`LOCALHOST.:80` → `localhost:80`). */
function normalizeHost(host: string): string {
  const h = host.trim().toLowerCase();
  return h.replace(/\.(?=:\d*$|$)/, '');
}

function splitHostPort(host: string): { name: string; port: string } | undefined {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    if (end === -1) return undefined;
    const rest = host.slice(end + 1);
    if (rest !== '' && !/^:\d{0,5}$/.test(rest)) return undefined;
    const name = host.slice(1, end);
    return isIP(name) === 6 ? { name, port: rest.slice(1) } : undefined;
  }
  const colon = host.indexOf(':');
  if (colon === -1) return { name: host, port: '' };
  if (host.indexOf(':', colon + 1) !== -1) return undefined; // an unbracketed IPv6 is not a valid Host
  const port = host.slice(colon + 1);
  if (!/^\d{0,5}$/.test(port)) return undefined;
  return { name: host.slice(0, colon), port };
}
