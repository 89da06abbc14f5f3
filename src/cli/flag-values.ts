import { isIP } from 'node:net';
import { ErrorCode, RestpipeError } from '../errors.js';
import type { NodeOptions } from '../node.js';
import { parseTlsMinVersion } from '../tls-policy.js';

/**
 * The syntax of the run flags' values (SPEC §3): a flag's text, an environment variable's or a
 * config file's value, in the library's unit. Ranges and combinations are the library's to
 * check (resolveNodeOptions); every problem here is one line naming where the value came from.
 */

/** How a flag's value is written. */
export type FlagKind = 'seconds' | 'seconds0' | 'bytes' | 'count' | 'hostport' | 'http' | 'string' | 'path' | 'level' | 'list' | 'boolean' | 'tls-version' | 'forward';

export interface HostPort {
  host: string;
  port: number;
}

/** A user-facing settings error: one line, exit 2. */
export function settingError(message: string): RestpipeError {
  return new RestpipeError(ErrorCode.INVALID_OPTION, message);
}

/** A flag's text (or a config file's number or list) in the library's unit: syntax only, ranges are the library's. */
export function parseValue(kind: FlagKind, raw: unknown, where: string): unknown {
  if (kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const t = String(raw).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(t)) return true;
    if (['0', 'false', 'no', 'off'].includes(t)) return false;
    throw settingError(`${where}: expected true or false, got ${JSON.stringify(raw)}`);
  }
  if (kind === 'list') {
    const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
    return items.map((x) => x.trim()).filter((x) => x !== '');
  }
  if (kind === 'forward') return parseForwards(raw, where);
  if (typeof raw === 'number' && ['seconds', 'seconds0', 'bytes', 'count', 'tls-version'].includes(kind)) raw = String(raw);
  if (typeof raw !== 'string') throw settingError(`${where}: expected a string, got ${JSON.stringify(raw)}`);
  switch (kind) {
    case 'seconds':
    case 'seconds0':
      return Math.round(parseSeconds(raw, where, kind === 'seconds0') * 1000);
    case 'bytes':
      return parseBytes(raw, where);
    case 'count':
      return parseCount(raw, where);
    case 'hostport':
      return parseHostPort(raw, where);
    case 'http':
      return parseHttp(raw, where);
    case 'level':
      return parseLevel(raw, where);
    case 'tls-version':
      return parseTlsMinVersion(raw, where);
    case 'path':
    case 'string':
      if (raw.trim() === '') throw settingError(`${where}: must not be empty`);
      return raw;
  }
}

/**
 * `--forward PREFIX=URL` (repeated: a list), `RP_FORWARD` (comma-separated pairs) or the config
 * file's `"forward"` (an object of prefixes to URLs, or a list of pairs) → `{ PREFIX: URL }`.
 * The pairs' syntax only: the library checks each prefix and URL (ForwardTable).
 */
function parseForwards(raw: unknown, where: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  const add = (prefix: string, url: unknown): void => {
    if (prefix in out) throw settingError(`${where}: prefix ${JSON.stringify(prefix)} is given twice`);
    out[prefix] = typeof url === 'string' ? url.trim() : (url as string);
  };
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    for (const [prefix, url] of Object.entries(raw)) add(prefix.trim(), url);
    return out;
  }
  const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
  for (const item of items) {
    const t = item.trim();
    if (t === '') continue;
    const eq = t.indexOf('=');
    if (eq === -1) throw settingError(`${where}: expected PREFIX=URL, e.g. files=http://127.0.0.1:8080/, got ${JSON.stringify(t)}`);
    add(t.slice(0, eq).trim(), t.slice(eq + 1));
  }
  return out;
}

/** Seconds, fractions allowed: the text's syntax (the range is the library's). */
export function parseSeconds(raw: string, where: string, allowZero = false): number {
  const t = raw.trim();
  const n = /^\d+(\.\d+)?$|^\.\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(n)) throw settingError(`${where}: expected a ${allowZero ? 'non-negative' : 'positive'} number of seconds, got ${JSON.stringify(raw)}`);
  return n;
}

const BYTE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3,
};

/** A size in bytes, `64MiB` and `10M` too (the range is the library's). */
export function parseBytes(raw: string, where: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
  const factor = BYTE_UNITS[m?.[2]?.toLowerCase() ?? ''];
  const n = m === null || factor === undefined ? NaN : Math.floor(Number(m[1]) * factor);
  if (!Number.isSafeInteger(n)) throw settingError(`${where}: expected a size in bytes such as 1048576, 64MiB or 10M, got ${JSON.stringify(raw)}`);
  return n;
}

function parseCount(raw: string, where: string): number {
  const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n)) throw settingError(`${where}: expected a whole number, got ${JSON.stringify(raw)}`);
  return n;
}

/** `HOST:PORT` or `[v6]:PORT`. */
export function parseHostPort(raw: string, where: string): HostPort {
  const t = raw.trim();
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(t);
  if (v6 !== null) {
    host = v6[1]!;
    portText = v6[2]!;
  } else {
    const i = t.lastIndexOf(':');
    if (i <= 0 || t.indexOf(':') !== i) throw settingError(`${where}: expected HOST:PORT (IPv6 as [ADDR]:PORT), got ${JSON.stringify(raw)}`);
    host = t.slice(0, i);
    portText = t.slice(i + 1);
  }
  const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw settingError(`${where}: port must be 0-65535, got ${JSON.stringify(portText)}`);
  if (isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$/.test(host)) {
    throw settingError(`${where}: ${JSON.stringify(host)} is not a host name or IP address`);
  }
  return { host, port };
}

function parseHttp(raw: string, where: string): NodeOptions['http'] {
  const t = raw.trim();
  if (t.startsWith('unix:')) {
    const path = t.slice(5);
    if (path === '') throw settingError(`${where}: unix: needs a socket path, e.g. unix:/run/restpipe/gateway.sock`);
    return { path };
  }
  return parseHostPort(t, where);
}

const LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function parseLevel(raw: string, where: string): string {
  const t = raw.trim().toLowerCase();
  if (!LEVELS.includes(t)) throw settingError(`${where}: expected one of ${LEVELS.join(', ')}, got ${JSON.stringify(raw)}`);
  return t;
}
