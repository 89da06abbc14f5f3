import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ErrorCode, RestpipeError } from '../errors.js';

/**
 * The run flags of SPEC §3 in one table: each flag's environment names (the original's `RP_*`
 * names included), its config-file key (the flag's name), how its value parses, and which role
 * has it. Commander's options, the environment and `--config FILE` are all read through it, so
 * the three cannot drift apart. Precedence: flag, then environment, then config file, then the
 * default. Seconds stay seconds here and become milliseconds once, in `toNodeSettings`.
 */

export type Role = 'server' | 'client';

export interface HostPort {
  host: string;
  port: number;
}

export type HttpSetting = HostPort | { path: string } | null;

type Kind = 'seconds' | 'seconds0' | 'bytes' | 'count' | 'hostport' | 'http' | 'string' | 'path' | 'level' | 'list' | 'boolean';

interface FlagSpec {
  /** The flag without dashes; also the config-file key. */
  name: string;
  kind: Kind;
  roles: readonly Role[];
  /** Environment variables, first match wins. */
  env: readonly string[];
  /** For help. */
  description: string;
  /** The value's placeholder in help. */
  arg?: string;
}

const BOTH: readonly Role[] = ['server', 'client'];

export const FLAGS: readonly FlagSpec[] = [
  { name: 'listen', kind: 'hostport', roles: ['server'], env: ['RP_LISTEN'], arg: 'HOST:PORT', description: 'where the server accepts pipes (default 0.0.0.0:1234; env also RP_SERVER_BIND_INTERFACE, RP_SERVER_BIND_PORT)' },
  { name: 'server', kind: 'hostport', roles: ['client'], env: ['RP_SERVER'], arg: 'HOST:PORT', description: 'server to dial (default localhost:1234; env also RP_CLIENT_TARGET_HOSTNAME, RP_CLIENT_TARGET_PORT)' },
  { name: 'server-name', kind: 'string', roles: ['client'], env: ['RP_SERVER_NAME'], arg: 'NAME', description: "name the server's certificate must carry (default: the dialed host)" },
  { name: 'http', kind: 'http', roles: BOTH, env: ['RP_HTTP'], arg: 'HOST:PORT|unix:PATH', description: 'local REST gateway (default 127.0.0.1:1235 on a server, 127.0.0.1:1236 on a client)' },
  { name: 'http-allow-remote', kind: 'boolean', roles: BOTH, env: ['RP_HTTP_ALLOW_REMOTE'], description: 'allow --http on a non-loopback address (the gateway has no authentication)' },
  { name: 'http-allow-host', kind: 'list', roles: BOTH, env: ['RP_HTTP_ALLOW_HOST'], arg: 'NAMES', description: 'Host header values the gateway accepts besides loopback (comma-separated)' },
  { name: 'http-allow-origin', kind: 'list', roles: BOTH, env: ['RP_HTTP_ALLOW_ORIGIN'], arg: 'ORIGINS', description: 'browser Origins the gateway accepts (comma-separated)' },
  { name: 'handlers', kind: 'string', roles: BOTH, env: ['RP_HANDLERS', 'RP_EVENT_HANDLER_FQ_CLASS'], arg: 'MODULE[#EXPORT]', description: 'handler module (default: built-in examples)' },
  { name: 'cert-dir', kind: 'path', roles: BOTH, env: [], arg: 'DIR', description: 'identity files (env RP_SERVER_CERT_PATH / RP_CLIENT_CERT_PATH; default /var/lib/restpipe or a per-user state dir)' },
  { name: 'heartbeat-interval', kind: 'seconds', roles: BOTH, env: ['RP_HEARTBEAT_INTERVAL', 'RP_CLIENT_HEARTBEAT_INTERVAL_S'], arg: 'S', description: 'seconds between heartbeats (default 5)' },
  { name: 'heartbeat-timeout', kind: 'seconds', roles: BOTH, env: ['RP_HEARTBEAT_TIMEOUT', 'RP_CLIENT_HEARTBEAT_TIMEOUT_S'], arg: 'S', description: 'a peer silent this long is dead (default 10)' },
  { name: 'connect-wait', kind: 'seconds0', roles: BOTH, env: ['RP_CONNECT_WAIT'], arg: 'S', description: 'how long a request waits for a missing pipe (default 20)' },
  { name: 'event-timeout', kind: 'seconds', roles: BOTH, env: ['RP_EVENT_TIMEOUT'], arg: 'S', description: 'how long a request waits for its reply (default 60)' },
  { name: 'reconnect-min', kind: 'seconds', roles: ['client'], env: ['RP_RECONNECT_MIN'], arg: 'S', description: 'backoff floor (default 0.5)' },
  { name: 'reconnect-max', kind: 'seconds', roles: ['client'], env: ['RP_RECONNECT_MAX'], arg: 'S', description: 'backoff ceiling (default 30)' },
  { name: 'log-level', kind: 'level', roles: BOTH, env: ['RP_LOG_LEVEL'], arg: 'LEVEL', description: 'error, warn, info or debug (default info; DEBUG=1 means debug)' },
  { name: 'max-body', kind: 'bytes', roles: BOTH, env: ['RP_MAX_BODY'], arg: 'BYTES', description: 'largest event body, request or reply (default 64MiB; suffixes K, M, G, KiB, MiB, GiB)' },
  { name: 'max-inflight', kind: 'count', roles: BOTH, env: ['RP_MAX_INFLIGHT'], arg: 'N', description: 'events in flight per pipe and direction before 503 (default 4096)' },
  { name: 'crl', kind: 'path', roles: ['server'], env: ['RP_CRL'], arg: 'FILE', description: 'revoked client certificates (PEM CRL); reloaded on change and on SIGHUP' },
  { name: 'statsd', kind: 'hostport', roles: BOTH, env: ['RP_STATSD'], arg: 'HOST:PORT', description: 'send the original metric names to statsd (env also RP_STATSD_HOST, RP_STATSD_PORT)' },
  { name: 'grace', kind: 'seconds0', roles: BOTH, env: ['RP_GRACE'], arg: 'S', description: 'on SIGINT/SIGTERM, how long in-flight events may finish (default 10)' },
];

export type RawValues = Record<string, string | boolean | string[] | undefined>;

/** A user-facing settings error: one line, exit 2. */
export function settingError(message: string): RestpipeError {
  return new RestpipeError(ErrorCode.INVALID_OPTION, message);
}

/** Fully resolved settings of a `server` or `client` run, in SPEC units (seconds). */
export interface RunSettings {
  role: Role;
  listen: HostPort;
  server: HostPort;
  serverName: string | undefined;
  http: HttpSetting;
  httpAllowRemote: boolean;
  httpAllowHost: string[];
  httpAllowOrigin: string[];
  handlers: string | undefined;
  certDir: string | undefined;
  heartbeatInterval: number | undefined;
  heartbeatTimeout: number | undefined;
  connectWait: number | undefined;
  eventTimeout: number | undefined;
  reconnectMin: number | undefined;
  reconnectMax: number | undefined;
  logLevel: string;
  maxBody: number | undefined;
  maxInflight: number | undefined;
  crl: string | undefined;
  statsd: HostPort | undefined;
  grace: number;
}

export const DEFAULT_HTTP: Record<Role, HostPort> = {
  server: { host: '127.0.0.1', port: 1235 },
  client: { host: '127.0.0.1', port: 1236 },
};

/**
 * Merges flags (as commander parsed them, camelCase keys), the environment and the config file
 * into settings. Every bad value is one clear line naming where it came from.
 * @throws RestpipeError invalid_option.
 */
export function resolveRunSettings(role: Role, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): RunSettings {
  const configPath = str(flags['config']) ?? env['RP_CONFIG'];
  const file = configPath === undefined ? {} : readConfigFile(configPath, role);
  const values = new Map<string, unknown>();
  for (const spec of FLAGS) {
    if (!spec.roles.includes(role)) continue;
    const fromFlag = flags[camel(spec.name)];
    if (fromFlag !== undefined) {
      values.set(spec.name, parseValue(spec, fromFlag, `--${spec.name}`));
      continue;
    }
    const envName = spec.env.find((e) => env[e] !== undefined && env[e] !== '');
    if (envName !== undefined) {
      values.set(spec.name, parseValue(spec, env[envName], envName));
      continue;
    }
    if (spec.name in file) values.set(spec.name, parseValue(spec, file[spec.name], `${configPath}: "${spec.name}"`));
  }
  // --no-http (commander sets http: false) beats everything.
  if (flags['http'] === false) values.set('http', null);

  const listen = (values.get('listen') as HostPort | undefined) ?? splitEnvHostPort(env, 'RP_SERVER_BIND_INTERFACE', 'RP_SERVER_BIND_PORT', { host: '0.0.0.0', port: 1234 });
  const server = (values.get('server') as HostPort | undefined) ?? splitEnvHostPort(env, 'RP_CLIENT_TARGET_HOSTNAME', 'RP_CLIENT_TARGET_PORT', { host: 'localhost', port: 1234 });
  const statsd =
    (values.get('statsd') as HostPort | undefined) ??
    (env['RP_STATSD_HOST'] !== undefined || env['RP_STATSD_PORT'] !== undefined
      ? splitEnvHostPort(env, 'RP_STATSD_HOST', 'RP_STATSD_PORT', { host: 'localhost', port: 8125 })
      : undefined);
  const logLevel = (values.get('log-level') as string | undefined) ?? (isTruthy(env['DEBUG']) ? 'debug' : 'info');

  const s: RunSettings = {
    role,
    listen,
    server,
    serverName: values.get('server-name') as string | undefined,
    http: values.has('http') ? (values.get('http') as HttpSetting) : DEFAULT_HTTP[role],
    httpAllowRemote: (values.get('http-allow-remote') as boolean | undefined) ?? false,
    httpAllowHost: (values.get('http-allow-host') as string[] | undefined) ?? [],
    httpAllowOrigin: (values.get('http-allow-origin') as string[] | undefined) ?? [],
    handlers: values.get('handlers') as string | undefined,
    certDir: values.get('cert-dir') as string | undefined,
    heartbeatInterval: values.get('heartbeat-interval') as number | undefined,
    heartbeatTimeout: values.get('heartbeat-timeout') as number | undefined,
    connectWait: values.get('connect-wait') as number | undefined,
    eventTimeout: values.get('event-timeout') as number | undefined,
    reconnectMin: values.get('reconnect-min') as number | undefined,
    reconnectMax: values.get('reconnect-max') as number | undefined,
    logLevel,
    maxBody: values.get('max-body') as number | undefined,
    maxInflight: values.get('max-inflight') as number | undefined,
    crl: values.get('crl') as string | undefined,
    statsd,
    grace: (values.get('grace') as number | undefined) ?? 10,
  };
  const interval = s.heartbeatInterval ?? 5;
  const timeout = s.heartbeatTimeout ?? 10;
  if (timeout <= interval) {
    throw settingError(`--heartbeat-timeout (${timeout} s) must be greater than --heartbeat-interval (${interval} s)`);
  }
  if ((s.reconnectMax ?? 30) < (s.reconnectMin ?? 0.5)) {
    throw settingError(`--reconnect-max (${s.reconnectMax ?? 30} s) must not be below --reconnect-min (${s.reconnectMin ?? 0.5} s)`);
  }
  return s;
}

function readConfigFile(path: string, role: Role): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw settingError(`--config ${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw settingError(`--config ${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw settingError(`--config ${path}: expected a JSON object of flag names to values`);
  }
  const known = new Set(FLAGS.map((f) => f.name));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) {
      throw settingError(`--config ${path}: unknown key "${key}" (keys are the flag names, e.g. "heartbeat-interval")`);
    }
  }
  void role; // keys of the other role are allowed so one file can serve both
  return parsed as Record<string, unknown>;
}

function parseValue(spec: FlagSpec, raw: unknown, where: string): unknown {
  if (spec.kind === 'boolean') {
    if (typeof raw === 'boolean') return raw;
    const t = String(raw).toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(t)) return true;
    if (['0', 'false', 'no', 'off'].includes(t)) return false;
    throw settingError(`${where}: expected true or false, got ${JSON.stringify(raw)}`);
  }
  if (spec.kind === 'list') {
    const items = Array.isArray(raw) ? raw.map(String) : String(raw).split(',');
    return items.map((x) => x.trim()).filter((x) => x !== '');
  }
  if (typeof raw === 'number' && ['seconds', 'seconds0', 'bytes', 'count'].includes(spec.kind)) raw = String(raw);
  if (typeof raw !== 'string') throw settingError(`${where}: expected a string, got ${JSON.stringify(raw)}`);
  switch (spec.kind) {
    case 'seconds':
    case 'seconds0':
      return parseSeconds(raw, where, spec.kind === 'seconds0');
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
    case 'path':
    case 'string':
      if (raw.trim() === '') throw settingError(`${where}: must not be empty`);
      return raw;
  }
}

/** Seconds, fractions allowed; `allowZero` for "do not wait". */
export function parseSeconds(raw: string, where: string, allowZero = false): number {
  const t = raw.trim();
  const n = /^\d+(\.\d+)?$|^\.\d+$/.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(n) || n < 0 || (n === 0 && !allowZero) || n > 2_147_483) {
    throw settingError(`${where}: expected a ${allowZero ? 'non-negative' : 'positive'} number of seconds, got ${JSON.stringify(raw)}`);
  }
  return n;
}

const BYTE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3,
};

export function parseBytes(raw: string, where: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(raw);
  const unit = m?.[2]?.toLowerCase() ?? '';
  const factor = BYTE_UNITS[unit];
  const n = m === null || factor === undefined ? NaN : Math.floor(Number(m[1]) * factor);
  if (!Number.isSafeInteger(n) || n < 1 || n > 4 * 1024 ** 3 - 2 * 1024 ** 2) {
    throw settingError(`${where}: expected a size in bytes such as 1048576, 64MiB or 10M (at most 4 GiB - 2 MiB), got ${JSON.stringify(raw)}`);
  }
  return n;
}

function parseCount(raw: string, where: string): number {
  const n = /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 1_000_000) throw settingError(`${where}: expected a whole number from 1 to 1000000, got ${JSON.stringify(raw)}`);
  return n;
}

/** `HOST:PORT`, `[v6]:PORT`, or a bare `PORT` (host left to the default by the caller). */
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

function parseHttp(raw: string, where: string): HttpSetting {
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

function splitEnvHostPort(env: NodeJS.ProcessEnv, hostVar: string, portVar: string, fallback: HostPort): HostPort {
  const host = env[hostVar];
  const port = env[portVar];
  if (host === undefined && port === undefined) return fallback;
  return parseHostPort(`${host ?? fallback.host}:${port ?? fallback.port}`, `${hostVar}/${portVar}`);
}

function isTruthy(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** `heartbeat-interval` → `heartbeatInterval`, as commander names option values. */
export function camel(name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
}
