import { readFileSync } from 'node:fs';
import { CERT_DIR_ENV } from '../identity/cert-dir.js';
import { resolveNodeOptions, type NodeOptions, type ResolvedNodeOptions } from '../node.js';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_CONNECT_WAIT_MS,
  DEFAULT_EVENT_TIMEOUT_MS,
  DEFAULT_FORWARD_TIMEOUT_MS,
  DEFAULT_GATEWAY_LISTEN,
  DEFAULT_GRACE_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  DEFAULT_HEARTBEAT_TIMEOUT_MS,
  DEFAULT_INSPECT_EVENTS,
  DEFAULT_LISTEN_HOST,
  DEFAULT_MAX_INFLIGHT,
  DEFAULT_RECONNECT_MAX_MS,
  DEFAULT_RECONNECT_MIN_MS,
  DEFAULT_SERVER_HOST,
  DEFAULT_SERVER_PORT,
  DEFAULT_STATSD,
} from '../options/defaults.js';
import type { OptionNaming } from '../options/validate.js';
import { parseHostPort, parseValue, settingError, type FlagKind, type HostPort } from './flag-values.js';

export { parseBytes, parseHostPort, parseSeconds, settingError, type HostPort } from './flag-values.js';

/**
 * The run flags of SPEC §3 in one table: each flag's environment names (the original's `RP_*`
 * names included), its config-file key (the flag's name), how its text parses, and the key of
 * the library's node options (src/node-options.ts) it sets, or the CLI's own setting. Commander's
 * options, the environment and `--config FILE` are all read through it, so the three cannot
 * drift apart. Precedence: flag, then environment, then config file, then the library's default.
 *
 * This module only maps and converts (seconds become milliseconds here, once): every check of a
 * value's range and of how values combine is the library's (resolveNodeOptions), which names
 * the flag, variable or config key the value came from.
 */

export type Role = 'server' | 'client';


/** The node options a flag can set: all but the identity, the handler object and the logger. */
export type NodeSettings = Omit<NodeOptions, 'role' | 'identity' | 'handlers' | 'logger'>;

/** The CLI's own settings (not node options). */
type CliKey = 'handlers' | 'certDir' | 'logLevel' | 'graceMs';

type Kind = FlagKind;

export interface FlagSpec {
  /** The flag without dashes; also the config-file key. */
  name: string;
  kind: Kind;
  roles: readonly Role[];
  /** The node option it sets (`node`), or the CLI's own setting (`cli`). */
  key: { node: keyof NodeSettings } | { cli: CliKey };
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
const hostPort = (a: HostPort): string => `${a.host}:${a.port}`;
const node = (key: keyof NodeSettings): FlagSpec['key'] => ({ node: key });
const cli = (key: CliKey): FlagSpec['key'] => ({ cli: key });

export const FLAGS: readonly FlagSpec[] = [
  { name: 'listen', kind: 'hostport', roles: ['server'], key: node('listen'), env: ['RP_LISTEN'], alsoEnv: ['RP_SERVER_BIND_INTERFACE', 'RP_SERVER_BIND_PORT'], default: `${DEFAULT_LISTEN_HOST}:${DEFAULT_SERVER_PORT}`, arg: 'HOST:PORT', description: 'where the server accepts pipes' },
  { name: 'server', kind: 'hostport', roles: ['client'], key: node('server'), env: ['RP_SERVER'], alsoEnv: ['RP_CLIENT_TARGET_HOSTNAME', 'RP_CLIENT_TARGET_PORT'], default: `${DEFAULT_SERVER_HOST}:${DEFAULT_SERVER_PORT}`, arg: 'HOST:PORT', description: 'the server to dial' },
  { name: 'server-name', kind: 'string', roles: ['client'], key: node('servername'), env: ['RP_SERVER_NAME'], default: 'the dialed host', arg: 'NAME', description: "the name the server's certificate must carry" },
  { name: 'http', kind: 'http', roles: BOTH, key: node('http'), env: ['RP_HTTP'], default: `${hostPort(DEFAULT_GATEWAY_LISTEN.server)} (server), ${hostPort(DEFAULT_GATEWAY_LISTEN.client)} (client)`, arg: 'HOST:PORT|unix:PATH', description: 'the local REST gateway; --no-http for none' },
  { name: 'http-allow-remote', kind: 'boolean', roles: BOTH, key: node('httpAllowNonLoopback'), env: ['RP_HTTP_ALLOW_REMOTE'], default: 'off', description: 'allow --http on a non-loopback address (the gateway has no authentication)' },
  { name: 'http-allow-host', kind: 'list', roles: BOTH, key: node('httpAllowedHosts'), env: ['RP_HTTP_ALLOW_HOST'], default: 'none', arg: 'NAMES', description: 'Host header values the gateway accepts besides loopback names (comma-separated)' },
  { name: 'http-allow-origin', kind: 'list', roles: BOTH, key: node('httpAllowedOrigins'), env: ['RP_HTTP_ALLOW_ORIGIN'], default: 'none', arg: 'ORIGINS', description: 'browser Origins the gateway accepts (comma-separated)' },
  { name: 'handlers', kind: 'string', roles: BOTH, key: cli('handlers'), env: ['RP_HANDLERS', 'RP_EVENT_HANDLER_FQ_CLASS'], default: 'built-in examples', arg: 'MODULE[#EXPORT]', description: 'handler module: its default export, or the one named after #' },
  { name: 'cert-dir', kind: 'path', roles: BOTH, key: cli('certDir'), env: [], alsoEnv: ['RP_SERVER_CERT_PATH', 'RP_CLIENT_CERT_PATH'], default: '/var/lib/restpipe if writable, else a per-user state dir', arg: 'DIR', description: 'where the installed identity files are' },
  { name: 'heartbeat-interval', kind: 'seconds', roles: BOTH, key: node('heartbeatIntervalMs'), env: ['RP_HEARTBEAT_INTERVAL', 'RP_CLIENT_HEARTBEAT_INTERVAL_S'], default: secs(DEFAULT_HEARTBEAT_INTERVAL_MS), arg: 'S', description: 'seconds between heartbeats (fractions allowed)' },
  { name: 'heartbeat-timeout', kind: 'seconds', roles: BOTH, key: node('heartbeatTimeoutMs'), env: ['RP_HEARTBEAT_TIMEOUT', 'RP_CLIENT_HEARTBEAT_TIMEOUT_S'], default: secs(DEFAULT_HEARTBEAT_TIMEOUT_MS), arg: 'S', description: 'seconds of silence after which the peer is dead' },
  { name: 'connect-wait', kind: 'seconds0', roles: BOTH, key: node('connectWaitMs'), env: ['RP_CONNECT_WAIT'], default: secs(DEFAULT_CONNECT_WAIT_MS), arg: 'S', description: 'seconds a request waits for a missing pipe (then 503)' },
  { name: 'event-timeout', kind: 'seconds', roles: BOTH, key: node('eventTimeoutMs'), env: ['RP_EVENT_TIMEOUT'], default: secs(DEFAULT_EVENT_TIMEOUT_MS), arg: 'S', description: 'seconds a request waits for its reply (then 504)' },
  { name: 'reconnect-min', kind: 'seconds', roles: ['client'], key: node('reconnectMinMs'), env: ['RP_RECONNECT_MIN'], default: secs(DEFAULT_RECONNECT_MIN_MS), arg: 'S', description: 'reconnect backoff floor, seconds' },
  { name: 'reconnect-max', kind: 'seconds', roles: ['client'], key: node('reconnectMaxMs'), env: ['RP_RECONNECT_MAX'], default: secs(DEFAULT_RECONNECT_MAX_MS), arg: 'S', description: 'reconnect backoff ceiling, seconds' },
  { name: 'log-level', kind: 'level', roles: BOTH, key: cli('logLevel'), env: ['RP_LOG_LEVEL'], default: 'info (debug if DEBUG=1)', arg: 'LEVEL', description: 'fatal, error, warn, info, debug, trace or silent' },
  { name: 'max-body', kind: 'bytes', roles: BOTH, key: node('maxBodyBytes'), env: ['RP_MAX_BODY'], default: '64MiB', arg: 'BYTES', description: 'largest body this node buffers: a request body for a handler that takes it whole, a reply body for a send() that wants it whole; streamed bodies have no limit (suffixes K, M, G, KiB, MiB, GiB)' },
  { name: 'max-inflight', kind: 'count', roles: BOTH, key: node('maxInflight'), env: ['RP_MAX_INFLIGHT'], default: String(DEFAULT_MAX_INFLIGHT), arg: 'N', description: 'events in flight per pipe and direction before 503' },
  { name: 'crl', kind: 'path', roles: ['server'], key: node('crlPath'), env: ['RP_CRL'], default: 'none', arg: 'FILE', description: 'revoked client certificates (PEM CRL); reloaded when the file at that path changes and on SIGHUP; open pipes it revokes are closed' },
  { name: 'rules', kind: 'path', roles: BOTH, key: node('rulesPath'), env: ['RP_RULES'], default: 'none (everyone may call everything)', arg: 'FILE', description: 'access rules (JSON): who may call what on this node; a refused event gets 403 (return code 254, forbidden). Reloaded when the file changes and on SIGHUP; a broken file keeps the rules in force' },
  { name: 'rules-audit', kind: 'boolean', roles: BOTH, key: node('rulesAudit'), env: ['RP_RULES_AUDIT'], default: 'off', description: 'with --rules: refuse nothing, log what the rules would refuse' },
  { name: 'tls-ticket-keys', kind: 'path', roles: ['server'], key: node('ticketKeyFile'), env: ['RP_TLS_TICKET_KEYS'], default: 'in memory', arg: 'FILE', description: 'TLS session ticket secret (hex, mode 0600, created if missing), so a restarted server or one sharing the file resumes sessions; re-read on SIGHUP. Whoever reads it can resume as any client: guard it like the CA key' },
  { name: 'connect-timeout', kind: 'seconds', roles: ['client'], key: node('connectTimeoutMs'), env: ['RP_CONNECT_TIMEOUT'], default: secs(DEFAULT_CONNECT_TIMEOUT_MS), arg: 'S', description: "seconds a dial's TCP connect may take before the client gives it up and redials (a SYN lost to a partition is not retried by the kernel for seconds)" },
  { name: 'handshake-timeout', kind: 'seconds', roles: BOTH, key: node('handshakeTimeoutMs'), env: ['RP_HANDSHAKE_TIMEOUT'], default: secs(DEFAULT_HANDSHAKE_TIMEOUT_MS), arg: 'S', description: 'seconds a TLS handshake may take: the server then drops the connection (a stalled peer holds nothing), the client redials' },
  { name: 'tls-min', kind: 'tls-version', roles: BOTH, key: node('tlsMinVersion'), env: ['RP_TLS_MIN'], default: '1.2', arg: '1.2|1.3', description: 'lowest TLS version of the pipe; 1.3 refuses TLS 1.2 peers. Suites are fixed: TLS 1.3, and for 1.2 only the ECDHE AEAD suites of Mozilla\'s "intermediate"' },
  { name: 'inspect', kind: 'boolean', roles: BOTH, key: node('inspect'), env: ['RP_INSPECT'], default: 'off (on in demo)', description: 'the inspector: a page at /inspect on the gateway (pipes, recent events live, detail, replay) and its JSON under /inspect/api/' },
  { name: 'inspect-bodies', kind: 'boolean', roles: BOTH, key: node('inspectBodies'), env: ['RP_INSPECT_BODIES'], default: 'off (on in demo)', description: 'the inspector keeps the first 10 KiB of each request and reply body (needed for replaying a request with a body); Authorization, Cookie and Set-Cookie are always redacted' },
  { name: 'inspect-events', kind: 'count', roles: BOTH, key: node('inspectEvents'), env: ['RP_INSPECT_EVENTS'], default: String(DEFAULT_INSPECT_EVENTS), arg: 'N', description: 'events the inspector keeps, newest first (1-50000)' },
  { name: 'forward', kind: 'forward', roles: BOTH, key: node('forward'), env: ['RP_FORWARD'], default: 'none', arg: 'PREFIX=URL', description: 'send events whose noun starts with PREFIX to the HTTP service at URL (the rest of the noun and the query appended) instead of a handler, and stream its response back; repeat the flag for more prefixes (env and config: comma-separated, or a config object); longest prefix wins' },
  { name: 'forward-timeout', kind: 'seconds', roles: BOTH, key: node('forwardTimeoutMs'), env: ['RP_FORWARD_TIMEOUT'], default: secs(DEFAULT_FORWARD_TIMEOUT_MS), arg: 'S', description: "seconds a forward's upstream may take to send its response head (then 504 upstream_timeout)" },
  { name: 'forward-ca', kind: 'path', roles: BOTH, key: node('forwardCaPath'), env: ['RP_FORWARD_CA'], default: 'the system trust store', arg: 'FILE', description: 'PEM CA certificates trusted for https:// forward upstreams, besides the system store' },
  { name: 'statsd', kind: 'hostport', roles: BOTH, key: node('statsd'), env: ['RP_STATSD'], alsoEnv: ['RP_STATSD_HOST', 'RP_STATSD_PORT'], default: 'off', arg: 'HOST:PORT', description: 'send the original metric names to statsd' },
  { name: 'grace', kind: 'seconds0', roles: BOTH, key: cli('graceMs'), env: ['RP_GRACE'], default: secs(DEFAULT_GRACE_MS), arg: 'S', description: 'on SIGINT/SIGTERM, seconds in-flight events may take to finish' },
];

/** The help text of a flag: its description, its default and its environment variables. */
export function flagHelp(spec: FlagSpec): string {
  const env = [...spec.env, ...(spec.alsoEnv ?? [])];
  return `${spec.description}${spec.default === undefined ? '' : ` (default ${spec.default})`}${env.length === 0 ? '' : ` [env ${env.join(', ')}]`}`;
}


/** Where a setting's value came from. */
export type SettingSource = 'flag' | 'env' | 'config';

/** Resolved settings of a `server` or `client` run. */
export interface RunSettings {
  role: Role;
  /** The node options the flags, environment and config file set, in the library's units (ms, bytes); `http` always set. */
  node: NodeSettings & { http: NodeOptions['http'] };
  /** The same, checked by the library with its defaults applied. */
  resolved: ResolvedNodeOptions;
  /** `--handlers` as given (MODULE[#EXPORT]). */
  handlers: string | undefined;
  certDir: string | undefined;
  /** Where `certDir` came from (undefined: not set, the cert dir default applies). */
  certDirFrom: SettingSource | undefined;
  logLevel: string;
  /** On SIGINT/SIGTERM, how long in-flight events may take. */
  graceMs: number;
}

/**
 * Merges flags (as commander parsed them, camelCase keys), the environment and the config file
 * into settings, and has the library check them. Every bad value is one clear line naming where
 * it came from (the flag, the variable or the config file's key).
 * @throws RestpipeError invalid_option.
 */
export function resolveRunSettings(role: Role, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): RunSettings {
  const configPath = str(flags['config']) ?? env['RP_CONFIG'];
  const file = configPath === undefined ? {} : readConfigFile(configPath);
  const nodeValues: Record<string, unknown> = { http: DEFAULT_GATEWAY_LISTEN[role] };
  const cliValues: Partial<Record<CliKey, unknown>> = {};
  /** Option key → where its value came from, as the user wrote it. */
  const where = new Map<string, string>();
  let certDirFrom: SettingSource | undefined;
  for (const spec of FLAGS) {
    if (!spec.roles.includes(role)) continue;
    const found = findValue(spec, role, flags, env, file, configPath);
    if (found === undefined) continue;
    if ('node' in spec.key) {
      nodeValues[spec.key.node] = found.value;
      where.set(spec.key.node, found.where);
    } else {
      cliValues[spec.key.cli] = found.value;
      if (spec.key.cli === 'certDir') certDirFrom = found.source;
    }
  }
  const settings = nodeValues as RunSettings['node'];
  return {
    role,
    node: settings,
    resolved: resolveNodeOptions({ role, ...settings }, cliNaming(where)),
    handlers: cliValues.handlers as string | undefined,
    certDir: cliValues.certDir as string | undefined,
    certDirFrom,
    logLevel: (cliValues.logLevel as string | undefined) ?? (isTruthy(env['DEBUG']) ? 'debug' : 'info'),
    graceMs: (cliValues.graceMs as number | undefined) ?? DEFAULT_GRACE_MS,
  };
}

/** A flag's value and where it came from: the flag, then the environment, then the config file. */
function findValue(
  spec: FlagSpec,
  role: Role,
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  file: Record<string, unknown>,
  configPath: string | undefined,
): { value: unknown; source: SettingSource; where: string } | undefined {
  const fromFlag = flags[camel(spec.name)];
  // --no-http: commander sets http to false; it beats the environment and the config file.
  if (spec.name === 'http' && fromFlag === false) return { value: null, source: 'flag', where: '--no-http' };
  if (fromFlag !== undefined) return { value: parseValue(spec.kind, fromFlag, `--${spec.name}`), source: 'flag', where: `--${spec.name}` };
  const envName = spec.env.find((e) => env[e] !== undefined && env[e] !== '');
  if (envName !== undefined) return { value: parseValue(spec.kind, env[envName], envName), source: 'env', where: envName };
  // The original's split variables are environment too: they beat the config file.
  const split = splitEnvValue(spec.name, role, env);
  if (split !== undefined) return { value: split.value, source: 'env', where: split.where };
  if (spec.name in file) {
    const where = `${configPath}: "${spec.name}"`;
    return { value: parseValue(spec.kind, file[spec.name], where), source: 'config', where };
  }
  return undefined;
}

/** How the library's errors name options for a CLI user: as they set them, in seconds. */
function cliNaming(where: ReadonlyMap<string, string>): OptionNaming {
  const flagOf = (key: string): string => {
    const spec = FLAGS.find((f) => 'node' in f.key && f.key.node === key);
    return spec === undefined ? key : `--${spec.name}`;
  };
  return {
    name: (key) => where.get(key) ?? flagOf(key),
    duration: (ms) => `${ms / 1000} s`,
    durationUnit: 'seconds',
    turnOn: (key) => `add ${flagOf(key)}`,
  };
}

function readConfigFile(path: string): Record<string, unknown> {
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
  // Keys of the other role are allowed so one file can serve both.
  const known = new Set(FLAGS.map((f) => f.name));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) throw settingError(`--config ${path}: unknown key "${key}" (keys are the flag names, e.g. "heartbeat-interval")`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * A flag's value from the original's split environment variables (`alsoEnv`): host and port
 * read separately (the other half keeps its default), one cert path per role. Undefined when
 * none of them is set.
 */
function splitEnvValue(name: string, role: Role, env: NodeJS.ProcessEnv): { value: unknown; where: string } | undefined {
  switch (name) {
    case 'listen':
      return splitEnvHostPort(env, 'RP_SERVER_BIND_INTERFACE', 'RP_SERVER_BIND_PORT', { host: DEFAULT_LISTEN_HOST, port: DEFAULT_SERVER_PORT });
    case 'server':
      return splitEnvHostPort(env, 'RP_CLIENT_TARGET_HOSTNAME', 'RP_CLIENT_TARGET_PORT', { host: DEFAULT_SERVER_HOST, port: DEFAULT_SERVER_PORT });
    case 'statsd':
      return splitEnvHostPort(env, 'RP_STATSD_HOST', 'RP_STATSD_PORT', DEFAULT_STATSD);
    case 'cert-dir': {
      const v = env[CERT_DIR_ENV[role]];
      return v === undefined || v === '' ? undefined : { value: v, where: CERT_DIR_ENV[role] };
    }
    default:
      return undefined;
  }
}

function splitEnvHostPort(env: NodeJS.ProcessEnv, hostVar: string, portVar: string, fallback: HostPort): { value: HostPort; where: string } | undefined {
  const host = env[hostVar];
  const port = env[portVar];
  if (host === undefined && port === undefined) return undefined;
  const where = `${hostVar}/${portVar}`;
  return { value: parseHostPort(`${host ?? fallback.host}:${port ?? fallback.port}`, where), where };
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
