import type { CertificateExpiryOptions } from './cert-expiry.js';
import { resolveClientOptions, type ResolvedClientOptions } from './client/client-options.js';
import { resolveGatewayOptions, type GatewayListen, type ResolvedGatewayOptions } from './gateway/gateway-options.js';
import type { Logger } from './log.js';
import { DEFAULT_FORWARD_TIMEOUT_MS, DEFAULT_INSPECT_EVENTS, DEFAULT_LISTEN_HOST, DEFAULT_SERVER_HOST, DEFAULT_SERVER_PORT, MAX_INSPECT_EVENTS } from './options/defaults.js';
import type { PipeTimingOptions } from './options/pipe.js';
import { KEY_NAMING, countOption, durationOption, invalidOption, type OptionNaming } from './options/validate.js';
import { ForwardTable } from './forward/forward-table.js';
import { resolveServerOptions, type ResolvedServerOptions } from './server/server-options.js';
import type { TlsMinVersion } from './tls-policy.js';

/**
 * Everything a running node is made of, as the CLI and `demo` configure it. The CLI's flags,
 * environment variables and config-file keys map onto these keys one to one (src/cli/config.ts).
 */
export interface NodeOptions extends PipeTimingOptions, CertificateExpiryOptions {
  role: 'server' | 'client';
  /** The node's identity: a cert dir with installed files, or the material itself. */
  identity: { certDir: string } | { key: string; cert: string; ca: string };
  /** Server: where pipes are accepted. @default 0.0.0.0:1234 */
  listen?: { host: string; port: number };
  /** Client: the server to dial. @default localhost:1234 */
  server?: { host: string; port: number };
  /** Client: the name the server's certificate must carry. @default the dialed host (none for an IP) */
  servername?: string;
  /** The local REST gateway, or null for none. */
  http: GatewayListen | null;
  /** Lets the gateway bind a non-loopback address (it has no authentication). @default false */
  httpAllowNonLoopback?: boolean;
  /** Host header values the gateway accepts besides loopback names. @default [] */
  httpAllowedHosts?: string[];
  /** Browser Origins the gateway accepts. @default [] */
  httpAllowedOrigins?: string[];
  /** The handler object or class. @default the built-in examples */
  handlers?: unknown;
  /** Client: backoff floor. @default 500 */
  reconnectMinMs?: number;
  /** Client: backoff ceiling. @default 30000 */
  reconnectMaxMs?: number;
  /** Client: TCP connect timeout (`--connect-timeout`). @default 3000 */
  connectTimeoutMs?: number;
  /** TLS handshake timeout. @default 10000 */
  handshakeTimeoutMs?: number;
  /** The lowest TLS version of the pipe, both roles (`--tls-min`). @default 'TLSv1.2' */
  tlsMinVersion?: TlsMinVersion;
  /** Server: a CRL file of revoked client certificates, reloaded on change and on `reload()`. */
  crlPath?: string;
  /**
   * An access-rules file (SPEC §11): which callers may send which events to this node, judged
   * before any handler runs. Reloaded when the file changes and on `reload()`; a file that
   * cannot be used at start is an `invalid_option` error, at a reload it keeps the rules in force.
   * @default none: every caller may call everything
   */
  rulesPath?: string;
  /** With `rulesPath`: refuse nothing, log what would be refused (without it: a warning, nothing to audit). @default false */
  rulesAudit?: boolean;
  /** Server: the TLS ticket key file (`--tls-ticket-keys`), re-read on `reload()`. @default keys in memory only */
  ticketKeyFile?: string;
  /** TLS 1.3 session resumption, both roles (its certificates are re-checked, SPEC §6). @default true */
  tlsResumption?: boolean;
  /** The inspector at `/inspect` on the gateway (SPEC §13); needs a gateway. @default false */
  inspect?: boolean;
  /** The inspector keeps the first 10 KiB of each body (credentials in headers are always redacted). @default false */
  inspectBodies?: boolean;
  /** Events the inspector keeps, newest; the oldest fall out. @default 500 */
  inspectEvents?: number;
  /**
   * Forwards (SPEC §10): `{ PREFIX: URL }`; an event whose noun starts with PREFIX goes to the
   * HTTP service at URL instead of a handler. @default none
   */
  forward?: Record<string, string>;
  /** How long a forward's upstream may take to send its response head. @default 60000 */
  forwardTimeoutMs?: number;
  /** A PEM file of CA certificates trusted for https upstreams besides the system's. */
  forwardCaPath?: string;
  /** statsd target for the original's metric names. @default off */
  statsd?: { host: string; port: number };
  logger?: Logger;
}

/** A node's options, checked once, with the library's defaults applied. */
export type ResolvedNodeOptions = (
  | { role: 'server'; listen: { host: string; port: number }; pipe: ResolvedServerOptions; gateway: ResolvedGatewayOptions | undefined }
  | { role: 'client'; pipe: ResolvedClientOptions; gateway: ResolvedGatewayOptions | undefined }
) & { inspect: ResolvedInspectOptions | undefined; forward: ResolvedForwardOptions };

/** The forwards of a node, checked (empty table: none). */
export interface ResolvedForwardOptions {
  table: ForwardTable;
  responseTimeoutMs: number;
}

/** The inspector's options, when it is on. */
export interface ResolvedInspectOptions {
  captureBodies: boolean;
  maxEvents: number;
}

/** The gateway's option keys under their node option names. */
const GATEWAY_KEYS: Record<string, string> = {
  listen: 'http',
  'listen.port': 'http',
  allowNonLoopback: 'httpAllowNonLoopback',
  allowedHosts: 'httpAllowedHosts',
  allowedOrigins: 'httpAllowedOrigins',
};

/** The client's option keys under their node option names. */
const CLIENT_KEYS: Record<string, string> = { host: 'server', port: 'server' };

/** `naming`, with a part's own keys named as the node options that feed them. */
function renamed(naming: OptionNaming, keys: Record<string, string>): OptionNaming {
  return { ...naming, name: (key) => naming.name(keys[key] ?? key), turnOn: (key) => naming.turnOn(keys[key] ?? key) };
}

/**
 * Checks every option of a node (its pipe end's, its gateway's) and applies the defaults,
 * before anything starts: startNode runs it first, and the CLI runs it on its flags so that a
 * bad value or combination is one line naming the flag (through `naming`) before any log line.
 * @throws RestpipeError `invalid_option` naming the option and the problem.
 */
export function resolveNodeOptions(o: Omit<NodeOptions, 'identity' | 'handlers' | 'logger'>, naming: OptionNaming = KEY_NAMING): ResolvedNodeOptions {
  if (o.role !== 'server' && o.role !== 'client') throw invalidOption(`role must be 'server' or 'client', got ${JSON.stringify(o.role)}`);
  let resolved: ResolvedNodeOptions;
  if (o.role === 'server') {
    const listen = o.listen ?? { host: DEFAULT_LISTEN_HOST, port: DEFAULT_SERVER_PORT };
    countOption('listen', listen.port, 0, { max: 65_535, naming });
    resolved = { role: 'server', listen, pipe: resolveServerOptions(o, naming), gateway: undefined, inspect: undefined, forward: resolveForward(o, naming) };
  } else {
    const server = o.server ?? { host: DEFAULT_SERVER_HOST, port: DEFAULT_SERVER_PORT };
    const pipe = resolveClientOptions({ ...o, host: server.host, port: server.port, ...(o.servername === undefined ? {} : { servername: o.servername }) }, renamed(naming, CLIENT_KEYS));
    resolved = { role: 'client', pipe, gateway: undefined, inspect: undefined, forward: resolveForward(o, naming) };
  }
  if (o.http !== null) {
    resolved.gateway = resolveGatewayOptions(
      {
        listen: o.http,
        eventTimeoutMs: resolved.pipe.timing.eventTimeoutMs,
        ...(o.httpAllowNonLoopback === undefined ? {} : { allowNonLoopback: o.httpAllowNonLoopback }),
        ...(o.httpAllowedHosts === undefined ? {} : { allowedHosts: o.httpAllowedHosts }),
        ...(o.httpAllowedOrigins === undefined ? {} : { allowedOrigins: o.httpAllowedOrigins }),
      },
      renamed(naming, GATEWAY_KEYS),
    );
  }
  const maxEvents = countOption('inspectEvents', o.inspectEvents, DEFAULT_INSPECT_EVENTS, { min: 1, max: MAX_INSPECT_EVENTS, naming });
  if (o.inspect === true) {
    if (o.http === null) throw invalidOption(`${naming.name('inspect')}: the inspector is a page on the gateway, and ${naming.name('http')} turns the gateway off`);
    resolved.inspect = { captureBodies: o.inspectBodies === true, maxEvents };
  }
  return resolved;
}

/** `forward` and `forwardTimeoutMs`, checked (createServer/createClient check them again, for library callers). */
function resolveForward(o: Pick<NodeOptions, 'forward' | 'forwardTimeoutMs'>, naming: OptionNaming): ResolvedForwardOptions {
  return {
    table: ForwardTable.parse(o.forward, naming),
    responseTimeoutMs: durationOption('forwardTimeoutMs', o.forwardTimeoutMs, DEFAULT_FORWARD_TIMEOUT_MS, { naming }),
  };
}
