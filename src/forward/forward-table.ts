import { invalidOption, KEY_NAMING, type OptionNaming } from '../options/validate.js';
import { truncate } from '../text.js';

/**
 * Which nouns a node forwards to which HTTP service (SPEC §10), and how a noun becomes the
 * upstream request's path. Pure: no I/O.
 */

/** One `PREFIX=URL` of `--forward`. */
export interface ForwardTarget {
  /** The noun prefix, whole `/`-separated segments: `files`, `static/v1`. */
  readonly prefix: string;
  /** The upstream URL as given (for logs and /status). */
  readonly url: string;
  readonly protocol: 'http:' | 'https:';
  /** The host name or IP address (IPv6 without brackets), as `http.request` takes it. */
  readonly hostname: string;
  readonly port: number;
  /** `Host` of the upstream request: the URL's host and port, as written. */
  readonly host: string;
  /** The URL's path without its trailing `/`: '' for `http://h:8080/`, `/api` for `http://h/api/`. */
  readonly basePath: string;
}

/** Where an event goes: its target and the upstream path (`/docs/a.pdf`, query appended). */
export interface ForwardMatch {
  readonly target: ForwardTarget;
  readonly path: string;
}

// A prefix is noun segments: letters, digits and `_ - . ~`, never a dot segment.
const PREFIX_SEGMENT = /^[A-Za-z0-9_.~-]+$/;

/**
 * The forwards of one node: longest prefix first, so `files/big` wins over `files` for
 * `files/big/x`. Built once from the option, checked then; matching is a few string
 * comparisons per event.
 */
export class ForwardTable {
  readonly targets: readonly ForwardTarget[];

  private constructor(targets: ForwardTarget[]) {
    this.targets = targets.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  /**
   * Checks a `{ PREFIX: URL }` option: each prefix whole noun segments (no `.`/`..`, no empty
   * segment, no leading or trailing `/`), each URL `http://` or `https://` with a host, no user
   * name or password, query or fragment.
   * @throws RestpipeError `invalid_option` naming the option (through `naming`) and the problem.
   */
  static parse(spec: unknown, naming: OptionNaming = KEY_NAMING, key = 'forward'): ForwardTable {
    const where = naming.name(key);
    if (spec === undefined) return new ForwardTable([]);
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
      throw invalidOption(`${where}: expected PREFIX=URL pairs (an object of prefixes to URLs)`);
    }
    const targets: ForwardTarget[] = [];
    for (const [prefix, url] of Object.entries(spec as Record<string, unknown>)) {
      targets.push(parseTarget(prefix, url, where));
    }
    return new ForwardTable(targets);
  }

  get size(): number {
    return this.targets.length;
  }

  /**
   * The forward of `noun` (as sent: its escapes kept) and the upstream path: the URL's path,
   * then the rest of the noun after the prefix, exactly as written (a `%2F` stays `%2F`), then
   * `?query` when there is one. Undefined when no prefix matches by whole segments.
   */
  match(noun: string, query: string): ForwardMatch | undefined {
    for (const target of this.targets) {
      const { prefix } = target;
      if (!noun.startsWith(prefix)) continue;
      if (noun.length !== prefix.length && noun.charCodeAt(prefix.length) !== 0x2f /* / */) continue;
      const rest = noun.slice(prefix.length);
      const path = rest === '' ? target.basePath || '/' : target.basePath + rest;
      return { target, path: query === '' ? path : `${path}?${query}` };
    }
    return undefined;
  }
}

function parseTarget(prefix: string, url: unknown, where: string): ForwardTarget {
  const what = `${where} ${JSON.stringify(truncate(prefix))}`;
  if (prefix === '') throw invalidOption(`${where}: a forward needs a noun prefix before '=': PREFIX=URL, e.g. files=http://127.0.0.1:8080/`);
  for (const segment of prefix.split('/')) {
    if (!PREFIX_SEGMENT.test(segment) || segment === '.' || segment === '..') {
      throw invalidOption(`${what}: a prefix is noun segments of letters, digits, '_', '-', '.' and '~' joined by '/' (no '.' or '..' segment, no leading or trailing '/')`);
    }
  }
  if (typeof url !== 'string' || url.trim() === '') throw invalidOption(`${what}: needs an upstream URL, e.g. ${prefix}=http://127.0.0.1:8080/`);
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    throw invalidOption(`${what}: ${JSON.stringify(truncate(url))} is not a URL; use http://HOST[:PORT][/PATH] or https://…`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalidOption(`${what}: ${JSON.stringify(truncate(url))} is not an http:// or https:// URL`);
  }
  if (parsed.hostname === '') throw invalidOption(`${what}: ${JSON.stringify(truncate(url))} names no host`);
  if (parsed.username !== '' || parsed.password !== '') {
    throw invalidOption(`${what}: the URL carries a user name or password; credentials do not belong in a flag (the upstream sees the caller's Authorization header)`);
  }
  if (parsed.search !== '' || parsed.hash !== '') {
    throw invalidOption(`${what}: the URL has a query or fragment; give only scheme, host, port and path (the caller's query is passed on)`);
  }
  const hostname = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  const port = parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
  return {
    prefix,
    url: parsed.href,
    protocol: parsed.protocol,
    hostname,
    port,
    host: parsed.host,
    basePath: parsed.pathname.replace(/\/+$/, ''),
  };
}
