import type { CertificateExpiryOptions } from '../cert-expiry.js';
import type { Logger } from '../log.js';
import { DEFAULT_DNS_TIMEOUT_MS, DEFAULT_HANDSHAKE_TIMEOUT_MS, DEFAULT_IDLE_HOOK_INTERVAL_MS } from '../options/defaults.js';
import { resolvePipeTiming, type PipeTimingOptions, type ResolvedPipeTiming } from '../options/pipe.js';
import { KEY_NAMING, booleanOption, durationOption, optionalStringOption, type OptionNaming } from '../options/validate.js';
import { tlsMinVersionOption, type TlsMinVersion } from '../tls-policy.js';
import { ticketKeyRotationOption } from './ticket-keys.js';

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
  /**
   * TLS 1.3 session resumption: the server issues session tickets, and a client that offers one
   * skips the certificate signatures of a full handshake. The client certificate a resumed
   * session restores is checked again (dates, the CRL and the CA in force now) before the hello,
   * and refused with the same reasons as a full handshake (SPEC §6). `false`: no tickets, every
   * connection is a full handshake. @default true
   */
  tlsResumption?: boolean;
  /**
   * A file with the secret the ticket keys are derived from (hex, mode 0600; created when
   * missing), so that a restarted server, or another server given the same file, resumes the
   * sessions this one made. Without it, keys are random and in memory only (lost on restart).
   * Whoever reads it can make tickets for any client certificate they have seen: keep it like the
   * CA key.
   */
  ticketKeyFile?: string;
  /** How long one ticket key makes and accepts tickets: rotation period and ticket lifetime. @default 86400000 (24 h), at most 7 days */
  ticketKeyRotationMs?: number;
  logger?: Logger;
}

/** The server's options, checked, with every default applied. */
export interface ResolvedServerOptions {
  timing: ResolvedPipeTiming;
  handshakeTimeoutMs: number;
  tlsMinVersion: TlsMinVersion;
  idleHookIntervalMs: number;
  dnsTimeoutMs: number;
  tlsResumption: boolean;
  ticketKeyFile: string | undefined;
  ticketKeyRotationMs: number;
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
    tlsResumption: booleanOption('tlsResumption', o.tlsResumption, true, naming),
    ticketKeyFile: optionalStringOption('ticketKeyFile', o.ticketKeyFile, naming),
    ticketKeyRotationMs: ticketKeyRotationOption(o.ticketKeyRotationMs, naming),
  };
}
