import type { CertificateExpiryOptions } from '../cert-expiry.js';
import type { Logger } from '../log.js';
import {
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_RECONNECT_MAX_MS,
  DEFAULT_RECONNECT_MIN_MS,
  DEFAULT_SERVER_HOST,
  DEFAULT_SERVER_PORT,
} from '../options/defaults.js';
import { resolvePipeTiming, type PipeTimingOptions, type ResolvedPipeTiming } from '../options/pipe.js';
import { KEY_NAMING, booleanOption, countOption, durationOption, invalidOption, requireOrder, type OptionNaming } from '../options/validate.js';
import { tlsMinVersionOption, type TlsMinVersion } from '../tls-policy.js';
import type { ClientTlsMaterial, Connector } from './connector.js';

/** Options of a client node's pipe end (`createClient`). */
export interface PipeClientOptions extends PipeTimingOptions, CertificateExpiryOptions {
  /** Server host name or IP. @default 'localhost' */
  host?: string;
  /** @default 1234 */
  port?: number;
  /** The name the server's certificate must carry. @default host (none for an IP: its IP SAN is checked) */
  servername?: string;
  tls: ClientTlsMaterial;
  /** Backoff floor. @default 500 */
  reconnectMinMs?: number;
  /** Backoff ceiling; not below the floor. @default 30000 */
  reconnectMaxMs?: number;
  /** TCP connect timeout (`--connect-timeout`). @default 3000 */
  connectTimeoutMs?: number;
  /** TLS handshake timeout. @default 10000 */
  handshakeTimeoutMs?: number;
  /** The lowest TLS version offered (`--tls-min`); suites are fixed (src/tls-policy.ts). @default 'TLSv1.2' */
  tlsMinVersion?: TlsMinVersion;
  /**
   * TLS 1.3 session resumption: keep the session the server gives and offer it on the next
   * dial, which then skips the certificate signatures. The server certificate it restores is
   * checked again (dates, the CA in force now) before it is used; a resumed dial refused for
   * its certificate is followed at once by a full handshake. @default true
   */
  tlsResumption?: boolean;
  logger?: Logger;
  /** Random source for backoff jitter (tests pin it). @default Math.random */
  random?: () => number;
  /** Opens the TLS connection to the server (tests and the fault proxy stand in). @default dialTls */
  connector?: Connector;
}

/** The client's options, checked, with every default applied. */
export interface ResolvedClientOptions {
  timing: ResolvedPipeTiming;
  host: string;
  port: number;
  servername: string | undefined;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  connectTimeoutMs: number;
  handshakeTimeoutMs: number;
  tlsMinVersion: TlsMinVersion;
  tlsResumption: boolean;
}

/**
 * Checks a client's options and fills in the defaults; the CLI calls it too, before anything
 * starts, naming its flags through `naming`.
 * @throws RestpipeError `invalid_option` naming the option and the problem.
 */
export function resolveClientOptions(o: Omit<PipeClientOptions, 'tls'>, naming: OptionNaming = KEY_NAMING): ResolvedClientOptions {
  const host = o.host ?? DEFAULT_SERVER_HOST;
  if (typeof host !== 'string' || host === '') throw invalidOption(`${naming.name('host')}: expected a host name or IP address`);
  const r: ResolvedClientOptions = {
    timing: resolvePipeTiming(o, naming),
    host,
    port: countOption('port', o.port, DEFAULT_SERVER_PORT, { min: 1, max: 65_535, naming }),
    servername: o.servername,
    reconnectMinMs: durationOption('reconnectMinMs', o.reconnectMinMs, DEFAULT_RECONNECT_MIN_MS, { naming }),
    reconnectMaxMs: durationOption('reconnectMaxMs', o.reconnectMaxMs, DEFAULT_RECONNECT_MAX_MS, { naming }),
    connectTimeoutMs: durationOption('connectTimeoutMs', o.connectTimeoutMs, DEFAULT_CONNECT_TIMEOUT_MS, { naming }),
    handshakeTimeoutMs: durationOption('handshakeTimeoutMs', o.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS, { naming }),
    tlsMinVersion: tlsMinVersionOption(o.tlsMinVersion),
    tlsResumption: booleanOption('tlsResumption', o.tlsResumption, true, naming),
  };
  requireOrder({ key: 'reconnectMaxMs', ms: r.reconnectMaxMs }, { key: 'reconnectMinMs', ms: r.reconnectMinMs }, naming, { orEqual: true });
  return r;
}
