import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { ErrorCode, RestpipeError } from '../errors.js';
import { isLoopbackListenHost } from '../gateway/host-check.js';
import { CERT_DIR_ENV } from '../identity/cert-dir.js';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_CONNECT_WAIT_MS,
  DEFAULT_EVENT_TIMEOUT_MS,
  DEFAULT_GRACE_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_MAX_INFLIGHT,
  DEFAULT_RECONNECT_MAX_MS,
  DEFAULT_RECONNECT_MIN_MS,
  DEFAULT_SERVER_PORT,
} from '../options.js';
import { parseTlsMinVersion, type TlsMinVersion } from '../tls-policy.js';

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

type Kind = 'seconds' | 'seconds0' | 'bytes' | 'count' | 'hostport' | 'http' | 'string' | 'path' | 'level' | 'list' | 'boolean' | 'tls-version';

export interface FlagSpec {
  /** The flag without dashes; also the config-file key. */
  name: string;
  kind: Kind;
  roles: readonly Role[];
  /** Environment variables read for this flag, first match wins. */
  env: readonly string[];
  /**
   * The original's environment variables that feed this flag in parts (host and port read
   * separately, one cert path per role); read in `resolveRunSettings`, listed for help and docs.
   */
  alsoEnv?: readonly string[];
  /** The default, as help and the README show it; absent when there is none (off). */
  default?: string;
  /** For help and the README. */
  description: string;
  /** The value's placeholder in help. */
  arg?: string;
}

const BOTH: readonly Role[] = ['server', 'client'];
const secs = (ms: number): string => String(ms / 1000);

/** The default gateway address of each role (SPEC §3: loopback only). */
export const DEFAULT_HTTP: Record<Role, HostPort> = {
  server: { host: '127.0.0.1', port: 1235 },
  client: { host: '127.0.0.1', port: 1236 },
};

/** Seconds a node gives in-flight events on SIGINT/SIGTERM unless `--grace` says otherwise. */
export const DEFAULT_GRACE_S = DEFAULT_GRACE_MS / 1000;

export const FLAGS: readonly FlagSpec[] = [
  { name: 'listen', kind: 'hostport', roles: ['server'], env: ['RP_LISTEN'], alsoEnv: ['RP_SERVER_BIND_INTERFACE', 'RP_SERVER_BIND_PORT'], default: `0.0.0.0:${DEFAULT_SERVER_PORT}`, arg: 'HOST:PORT', description: 'where the server accepts pipes' },
  { name: 'server', kind: 'hostport', roles: ['client'], env: ['RP_SERVER'], alsoEnv: ['RP_CLIENT_TARGET_HOSTNAME', 'RP_CLIENT_TARGET_PORT'], default: `localhost:${DEFAULT_SERVER_PORT}`, arg: 'HOST:PORT', description: 'the server to dial' },
  { name: 'server-name', kind: 'string', roles: ['client'], env: ['RP_SERVER_NAME'], default: 'the dialed host', arg: 'NAME', description: "the name the server's certificate must carry" },
  { name: 'http', kind: 'http', roles: BOTH, env: ['RP_HTTP'], default: `${hostPort(DEFAULT_HTTP.server)} (server), ${hostPort(DEFAULT_HTTP.client)} (client)`, arg: 'HOST:PORT|unix:PATH', description: 'the local REST gateway; --no-http for none' },
  { name: 'http-allow-remote', kind: 'boolean', roles: BOTH, env: ['RP_HTTP_ALLOW_REMOTE'], default: 'off', description: 'allow --http on a non-loopback address (the gateway has no authentication)' },
  { name: 'http-allow-host', kind: 'list', roles: BOTH, env: ['RP_HTTP_ALLOW_HOST'], default: 'none', arg: 'NAMES', description: 'Host header values the gateway accepts besides loopback names (comma-separated)' },
  { name: 'http-allow-origin', kind: 'list', roles: BOTH, env: ['RP_HTTP_ALLOW_ORIGIN'], default: 'none', arg: 'ORIGINS', description: 'browser Origins the gateway accepts (comma-separated)' },
  { name: 'handlers', kind: 'string', roles: BOTH, env: ['RP_HANDLERS', 'RP_EVENT_HANDLER_FQ_CLASS'], default: 'built-in examples', arg: 'MODULE[#EXPORT]', description: 'handler module: its default export, or the one named after #' },
  { name: 'cert-dir', kind: 'path', roles: BOTH, env: [], alsoEnv: ['RP_SERVER_CERT_PATH', 'RP_CLIENT_CERT_PATH'], default: '/var/lib/restpipe if writable, else a per-user state dir', arg: 'DIR', description: 'where the installed identity files are' },
  { name: 'heartbeat-interval', kind: 'seconds', roles: BOTH, env: ['RP_HEARTBEAT_INTERVAL', 'RP_CLIENT_HEARTBEAT_INTERVAL_S'], default: secs(DEFAULT_HEARTBEAT_INTERVAL_MS), arg: 'S', description: 'seconds between heartbeats (fractions allowed)' },
  { name: 'heartbeat-timeout', kind: 'seconds', roles: BOTH, env: ['RP_HEARTBEAT_TIMEOUT', 'RP_CLIENT_HEARTBEAT_TIMEOUT_S'], default: secs(DEFAULT_HEARTBEAT_TIMEOUT_MS), arg: 'S', description: 'seconds of silence after which the peer is dead' },
  { name: 'connect-wait', kind: 'seconds0', roles: BOTH, env: ['RP_CONNECT_WAIT'], default: secs(DEFAULT_CONNECT_WAIT_MS), arg: 'S', description: 'seconds a request waits for a missing pipe (then 503)' },
  { name: 'event-timeout', kind: 'seconds', roles: BOTH, env: ['RP_EVENT_TIMEOUT'], default: secs(DEFAULT_EVENT_TIMEOUT_MS), arg: 'S', description: 'seconds a request waits for its reply (then 504)' },
  { name: 'reconnect-min', kind: 'seconds', roles: ['client'], env: ['RP_RECONNECT_MIN'], default: secs(DEFAULT_RECONNECT_MIN_MS), arg: 'S', description: 'reconnect backoff floor, seconds' },
  { name: 'reconnect-max', kind: 'seconds', roles: ['client'], env: ['RP_RECONNECT_MAX'], default: secs(DEFAULT_RECONNECT_MAX_MS), arg: 'S', description: 'reconnect backoff ceiling, seconds' },
  { name: 'log-level', kind: 'level', roles: BOTH, env: ['RP_LOG_LEVEL'], default: 'info (debug if DEBUG=1)', arg: 'LEVEL', description: 'fatal, error, warn, info, debug, trace or silent' },
  { name: 'max-body', kind: 'bytes', roles: BOTH, env: ['RP_MAX_BODY'], default: '64MiB', arg: 'BYTES', description: 'largest event body, request or reply (suffixes K, M, G, KiB, MiB, GiB)' },
  { name: 'max-inflight', kind: 'count', roles: BOTH, env: ['RP_MAX_INFLIGHT'], default: String(DEFAULT_MAX_INFLIGHT), arg: 'N', description: 'events in flight per pipe and direction before 503' },
  { name: 'crl', kind: 'path', roles: ['server'], env: ['RP_CRL'], default: 'none', arg: 'FILE', description: 'revoked client certificates (PEM CRL); reloaded when the file at that path changes and on SIGHUP; open pipes it revokes are closed' },
  { name: 'tls-ticket-keys', kind: 'path', roles: ['server'], env: ['RP_TLS_TICKET_KEYS'], default: 'in memory', arg: 'FILE', description: 'TLS session ticket secret (hex, mode 0600, created if missing), so a restarted server or one sharing the file resumes sessions; re-read on SIGHUP. Whoever reads it can resume as any client: guard it like the CA key' },
  { name: 'connect-timeout', kind: 'seconds', roles: ['client'], env: ['RP_CONNECT_TIMEOUT'], default: secs(DEFAULT_CONNECT_TIMEOUT_MS), arg: 'S', description: "seconds a dial's TCP connect may take before the client gives it up and redials (a SYN lost to a partition is not retried by the kernel for seconds)" },
  { name: 'handshake-timeout', kind: 'seconds', roles: BOTH, env: ['RP_HANDSHAKE_TIMEOUT'], default: secs(DEFAULT_HANDSHAKE_TIMEOUT_MS), arg: 'S', description: 'seconds a TLS handshake may take: the server then drops the connection (a stalled peer holds nothing), the client redials' },
  { name: 'tls-min', kind: 'tls-version', roles: BOTH, env: ['RP_TLS_MIN'], default: '1.2', arg: '1.2|1.3', description: 'lowest TLS version of the pipe; 1.3 refuses TLS 1.2 peers. Suites are fixed: TLS 1.3, and for 1.2 only the ECDHE AEAD suites of Mozilla\'s "intermediate"' },
  { name: 'statsd', kind: 'hostport', roles: BOTH, env: ['RP_STATSD'], alsoEnv: ['RP_STATSD_HOST', 'RP_STATSD_PORT'], default: 'off', arg: 'HOST:PORT', description: 'send the original metric names to statsd' },
  { name: 'grace', kind: 'seconds0', roles: BOTH, env: ['RP_GRACE'], default: String(DEFAULT_GRACE_S), arg: 'S', description: 'on SIGINT/SIGTERM, seconds in-flight events may take to finish' },
];

/** The help text of a flag: its description, its default and its environment variables. */
export function flagHelp(spec: FlagSpec): string {
  const env = [...spec.env, ...(spec.alsoEnv ?? [])];
  return `${spec.description}${spec.default === undefined ? '' : ` (default ${spec.default})`}${env.length === 0 ? '' : ` [env ${env.join(', ')}]`}`;
}

function hostPort(a: HostPort): string {
  return `${a.host}:${a.port}`;
}

export type RawValues = Record<string, string | boolean | string[] | undefined>;

/** A user-facing settings error: one line, exit 2. */
export function settingError(message: string): RestpipeError {
  return new RestpipeError(ErrorCode.INVALID_OPTION, message);
}

/** Where a setting's value came from. */
export type SettingSource = 'flag' | 'env' | 'config';

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
  /** Where `certDir` came from (undefined: not set, the cert dir default applies). */
  certDirFrom?: SettingSource | undefined;
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
  tlsTicketKeys: string | undefined;
  connectTimeout: number | undefined;
  handshakeTimeout: number | undefined;
  tlsMin: TlsMinVersion | undefined;
  statsd: HostPort | undefined;
  grace: number;
}

/**
 * Merges flags (as commander parsed them, camelCase keys), the environment and the config file
 * into settings. Every bad value is one clear line naming where it came from.
 * @throws RestpipeError invalid_option.
 */
export function resolveRunSettings(role: Role, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): RunSettings {
  const configPath = str(flags['config']) ?? env['RP_CONFIG'];
  const file = configPath === undefined ? {} : readConfigFile(configPath, role);
  const values = new Map<string, unknown>();
  const sources = new Map<string, SettingSource>();
  for (const spec of FLAGS) {
    if (!spec.roles.includes(role)) continue;
    const fromFlag = flags[camel(spec.name)];
    // --no-http: commander sets http to false; it beats the environment and the config file.
    if (spec.name === 'http' && fromFlag === false) {
      values.set('http', null);
      sources.set('http', 'flag');
      continue;
    }
    if (fromFlag !== undefined) {
      values.set(spec.name, parseValue(spec, fromFlag, `--${spec.name}`));
      sources.set(spec.name, 'flag');
      continue;
    }
    const envName = spec.env.find((e) => env[e] !== undefined && env[e] !== '');
    if (envName !== undefined) {
      values.set(spec.name, parseValue(spec, env[envName], envName));
      sources.set(spec.name, 'env');
      continue;
    }
    // The original's split variables are environment too: they beat the config file.
    const fromSplitEnv = splitEnvValue(spec.name, role, env);
    if (fromSplitEnv !== undefined) {
      values.set(spec.name, fromSplitEnv);
      sources.set(spec.name, 'env');
      continue;
    }
    if (spec.name in file) {
      values.set(spec.name, parseValue(spec, file[spec.name], `${configPath}: "${spec.name}"`));
      sources.set(spec.name, 'config');
    }
  }

  const listen = (values.get('listen') as HostPort | undefined) ?? { host: '0.0.0.0', port: DEFAULT_SERVER_PORT };
  const server = (values.get('server') as HostPort | undefined) ?? { host: 'localhost', port: DEFAULT_SERVER_PORT };
  const statsd = values.get('statsd') as HostPort | undefined;
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
    certDirFrom: sources.get('cert-dir') as SettingSource | undefined,
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
    tlsTicketKeys: values.get('tls-ticket-keys') as string | undefined,
    connectTimeout: values.get('connect-timeout') as number | undefined,
    handshakeTimeout: values.get('handshake-timeout') as number | undefined,
    tlsMin: values.get('tls-min') as TlsMinVersion | undefined,
    statsd,
    grace: (values.get('grace') as number | undefined) ?? DEFAULT_GRACE_S,
  };
  // The gateway would refuse this too, but only after the pipe end has started and logged:
  // a bad flag combination is one line (SPEC §3).
  if (s.http !== null && 'host' in s.http && !s.httpAllowRemote && !isLoopbackListenHost(s.http.host)) {
    throw settingError(
      `--http ${s.http.host}:${s.http.port}: not a loopback address, and the gateway has no authentication; ` +
        'use 127.0.0.1, ::1 or unix:PATH, or add --http-allow-remote',
    );
  }
  const interval = s.heartbeatInterval ?? DEFAULT_HEARTBEAT_INTERVAL_MS / 1000;
  const timeout = s.heartbeatTimeout ?? DEFAULT_HEARTBEAT_TIMEOUT_MS / 1000;
  if (timeout <= interval) {
    throw settingError(`--heartbeat-timeout (${timeout} s) must be greater than --heartbeat-interval (${interval} s)`);
  }
  const reconnectMin = s.reconnectMin ?? DEFAULT_RECONNECT_MIN_MS / 1000;
  const reconnectMax = s.reconnectMax ?? DEFAULT_RECONNECT_MAX_MS / 1000;
  if (reconnectMax < reconnectMin) {
    throw settingError(`--reconnect-max (${reconnectMax} s) must not be below --reconnect-min (${reconnectMin} s)`);
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
  if (typeof raw === 'number' && ['seconds', 'seconds0', 'bytes', 'count', 'tls-version'].includes(spec.kind)) raw = String(raw);
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
    case 'tls-version':
      return parseTlsMinVersion(raw, where);
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

/**
 * A flag's value from the original's split environment variables (`alsoEnv`): host and port
 * read separately, one cert path per role. Undefined when none of them is set.
 */
function splitEnvValue(name: string, role: Role, env: NodeJS.ProcessEnv): unknown {
  switch (name) {
    case 'listen':
      return splitEnvHostPort(env, 'RP_SERVER_BIND_INTERFACE', 'RP_SERVER_BIND_PORT', { host: '0.0.0.0', port: DEFAULT_SERVER_PORT });
    case 'server':
      return splitEnvHostPort(env, 'RP_CLIENT_TARGET_HOSTNAME', 'RP_CLIENT_TARGET_PORT', { host: 'localhost', port: DEFAULT_SERVER_PORT });
    case 'statsd':
      return splitEnvHostPort(env, 'RP_STATSD_HOST', 'RP_STATSD_PORT', { host: 'localhost', port: 8125 });
    case 'cert-dir': {
      const v = env[CERT_DIR_ENV[role]];
      return v === undefined || v === '' ? undefined : v;
    }
    default:
      return undefined;
  }
}

function splitEnvHostPort(env: NodeJS.ProcessEnv, hostVar: string, portVar: string, fallback: HostPort): HostPort | undefined {
  const host = env[hostVar];
  const port = env[portVar];
  if (host === undefined && port === undefined) return undefined;
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
