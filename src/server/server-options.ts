import type { CertificateExpiryOptions } from '../cert-expiry.js';
import type { Logger } from '../log.js';
import { DEFAULT_DNS_TIMEOUT_MS, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_IDLE_HOOK_INTERVAL_MS } from '../options/defaults.js';
import { resolvePipeTiming, type PipeTimingOptions, type ResolvedPipeTiming } from '../options/pipe.js';
import { KEY_NAMING, durationOption, type OptionNaming } from '../options/validate.js';
import { tlsMinVersionOption, type TlsMinVersion } from '../tls-policy.js';

/** The server's TLS material: its key and certificate, the CA that signs clients, an optional CRL. */
export interface ServerTlsMaterial {
  key: string | Buffer;
  cert: string | Buffer;
  ca: string | Buffer | Array<string | Buffer>;
  /** Revoked client certificates (PEM CRL); refused with CERT_REVOKED. */
  crl?: string | Buffer | Array<string | Buffer>;
}

/** Options of the server node's pipe end (`createServer`). */
export interface PipeServerOptions extends PipeTimingOptions, CertificateExpiryOptions {
  tls: ServerTlsMaterial;
  /** TLS handshake timeout for incoming connections. @default 10000 */
  handshakeTimeoutMs?: number;
  /** The lowest TLS version accepted (`--tls-min`); suites are fixed (src/tls-policy.ts). @default 'TLSv1.2' */
  tlsMinVersion?: TlsMinVersion;
  /** How often the idle hook fires while no client is connected. @default 60000 */
  idleHookIntervalMs?: number;
  /** Bound on the DNS lookup of a `/client/HOSTNAME/…` name (see `sender`). @default 2000 */
  dnsTimeoutMs?: number;
  logger?: Logger;
}

/** The server's options, checked, with every default applied. */
export interface ResolvedServerOptions {
  timing: ResolvedPipeTiming;
  handshakeTimeoutMs: number;
  tlsMinVersion: TlsMinVersion;
  idleHookIntervalMs: number;
  dnsTimeoutMs: number;
}

/**
 * Checks a server's options and fills in the defaults; the CLI calls it too, before anything
 * starts, naming its flags through `naming`.
 * @throws RestpipeError `invalid_option` naming the option and the problem.
 */
export function resolveServerOptions(o: Omit<PipeServerOptions, 'tls'>, naming: OptionNaming = KEY_NAMING): ResolvedServerOptions {
  return {
    timing: resolvePipeTiming(o, naming),
    handshakeTimeoutMs: durationOption('handshakeTimeoutMs', o.handshakeTimeoutMs, DEFAULT_HANDSHAKE_TIMEOUT_MS, { naming }),
    tlsMinVersion: tlsMinVersionOption(o.tlsMinVersion),
    idleHookIntervalMs: durationOption('idleHookIntervalMs', o.idleHookIntervalMs, DEFAULT_IDLE_HOOK_INTERVAL_MS, { naming }),
    dnsTimeoutMs: durationOption('dnsTimeoutMs', o.dnsTimeoutMs, DEFAULT_DNS_TIMEOUT_MS, { naming }),
  };
}
