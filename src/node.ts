import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { createClient, createServer, type RestpipeClient, type RestpipeServer } from './create.js';
import { createGateway, type Gateway, type GatewayListen } from './gateway/gateway.js';
import type { EventSender } from './gateway/event-sender.js';
import { clientEventSender, serverEventSender } from './gateway/pipe-senders.js';
import type { LoadedIdentity } from './identity/index.js';
import { silentLogger, type Logger } from './log.js';
import { createPrometheusMetrics, type PrometheusMetrics } from './metrics/prometheus.js';
import type { StatsdBridge } from './metrics/statsd.js';
import { DEFAULT_GRACE_MS, DEFAULT_SERVER_PORT, type PipeTimingOptions } from './options.js';
import type { TlsMinVersion } from './tls-policy.js';

/** Everything a running node is made of, as the CLI and `demo` configure it. */
export interface NodeOptions extends PipeTimingOptions {
  role: 'server' | 'client';
  /** The node's identity: a cert dir with installed files, or the material itself. */
  identity: { certDir: string } | { key: string; cert: string; ca: string };
  /** Server: where pipes are accepted. @default 0.0.0.0:1234 */
  listen?: { host: string; port: number };
  /** Client: the server to dial. @default localhost:1234 */
  server?: { host: string; port: number; servername?: string };
  /** The local REST gateway, or null for none. */
  http: GatewayListen | null;
  /** Lets the gateway bind a non-loopback address (it has no authentication). */
  httpAllowNonLoopback?: boolean;
  httpAllowedHosts?: string[];
  httpAllowedOrigins?: string[];
  /** The handler object or class; @default the built-in examples. */
  handlers?: unknown;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  connectTimeoutMs?: number;
  handshakeTimeoutMs?: number;
  /** The lowest TLS version of the pipe, both roles (`--tls-min`). @default 'TLSv1.2' */
  tlsMinVersion?: TlsMinVersion;
  /** Server: a CRL file of revoked client certificates, reloaded on change and on `reloadCrl()`. */
  crlPath?: string;
  /** Server: the TLS ticket key file (`--tls-ticket-keys`), re-read on `reloadTicketKeys()`. */
  ticketKeyFile?: string;
  /** TLS 1.3 session resumption, both roles (its certificates are re-checked, SPEC §6). @default true */
  tlsResumption?: boolean;
  /** statsd target for the original's metric names. */
  statsd?: { host: string; port: number };
  logger?: Logger;
}

/** A started node: its pipe end, its gateway, its metrics. */
export interface RunningNode {
  readonly role: 'server' | 'client';
  readonly name: string;
  readonly server: RestpipeServer | undefined;
  readonly client: RestpipeClient | undefined;
  readonly gateway: Gateway | undefined;
  readonly metrics: PrometheusMetrics;
  readonly sender: EventSender;
  /** Server: re-reads the CRL file (SIGHUP). */
  reloadCrl(): Promise<void>;
  /** Server: re-reads the TLS ticket key file (SIGHUP); a replaced secret ends every session made with the old one. */
  reloadTicketKeys(): void;
  /**
   * Re-reads the node's identity from its cert dir (SIGHUP; after `set-identity` installed a
   * renewed certificate) and, when it changed, uses it: a server for new connections, a client
   * by reconnecting with it. A new identity that fails the start-up checks, or names another
   * node, is refused with an error line and the current one stays.
   */
  reloadIdentity(): Promise<void>;
  /**
   * Stops the gateway taking requests, lets in-flight events finish within `graceMs`, closes
   * the pipes and the metrics. Idempotent.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/**
 * Starts a server or client node: identity, pipe end, gateway, metrics and statsd wired once.
 * The composition root the CLI and `demo` share; a library user may call it too.
 */
export async function startNode(options: NodeOptions): Promise<RunningNode> {
  const logger = options.logger ?? silentLogger;
  // Loaded lazily: @peculiar/x509 is only needed when files are read and checked.
  const { loadCrl, loadIdentity } = await import('./identity/index.js');
  let identity: { key: string; cert: string; ca: string } =
    'certDir' in options.identity ? await loadIdentity(options.role, options.identity.certDir, { logger }) : options.identity;
  const tls = { key: identity.key, cert: identity.cert, ca: identity.ca };
  let crlWatcher: FSWatcher | undefined;
  let server: RestpipeServer | undefined;
  let client: RestpipeClient | undefined;
  let sender: EventSender | undefined;

  const timing: PipeTimingOptions = pickTiming(options);
  // Logged once the pipe end exists: a handler module without handler methods is refused by
  // createServer/createClient, and that refusal must be the only line a bad flag prints.
  const logIdentity = (): void => {
    if (!('certDir' in options.identity)) return;
    const loaded = identity as LoadedIdentity;
    logger.info({ name: loaded.name, certDir: options.identity.certDir, notAfter: loaded.info.notAfter }, `identity '${loaded.name}' loaded`);
  };
  const crl = options.role === 'server' && options.crlPath !== undefined ? await loadCrl(options.crlPath, { caPem: identity.ca, logger }) : undefined;

  // Metrics subscribe before the pipe end exists, so that they see everything from its first
  // dial on (issue 9: the statsd bridge, imported after client.start(), missed the first
  // connection's ticks). The scrape-time gauges read the sender made below through this.
  const metrics = createPrometheusMetrics({
    role: options.role,
    sender: { isReady: () => sender?.isReady() ?? false, status: () => sender?.status() ?? {} },
  });
  let statsd: StatsdBridge | undefined;
  let gateway: Gateway | undefined;
  try {
    if (options.statsd !== undefined) {
      // hot-shots is loaded only when statsd is asked for.
      const { createStatsdBridge } = await import('./metrics/statsd.js');
      statsd = createStatsdBridge({ ...options.statsd, role: options.role, logger });
    }
    if (options.role === 'server') {
      server = createServer({
        ...timing,
        tls: { ...tls, ...(crl === undefined ? {} : { crl: crl.pem }) },
        handlers: options.handlers,
        logger,
        ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
        ...(options.tlsMinVersion === undefined ? {} : { tlsMinVersion: options.tlsMinVersion }),
        ...(options.ticketKeyFile === undefined ? {} : { ticketKeyFile: options.ticketKeyFile }),
        ...(options.tlsResumption === undefined ? {} : { tlsResumption: options.tlsResumption }),
      });
      logIdentity();
      await server.listen(options.listen ?? { host: '0.0.0.0', port: DEFAULT_SERVER_PORT });
      sender = serverEventSender(server);
    } else {
      client = createClient({
        ...timing,
        host: options.server?.host ?? 'localhost',
        port: options.server?.port ?? DEFAULT_SERVER_PORT,
        ...(options.server?.servername === undefined ? {} : { servername: options.server.servername }),
        tls,
        handlers: options.handlers,
        logger,
        ...(options.reconnectMinMs === undefined ? {} : { reconnectMinMs: options.reconnectMinMs }),
        ...(options.reconnectMaxMs === undefined ? {} : { reconnectMaxMs: options.reconnectMaxMs }),
        ...(options.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: options.connectTimeoutMs }),
        ...(options.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: options.handshakeTimeoutMs }),
        ...(options.tlsMinVersion === undefined ? {} : { tlsMinVersion: options.tlsMinVersion }),
        ...(options.tlsResumption === undefined ? {} : { tlsResumption: options.tlsResumption }),
      });
      logIdentity();
      client.start();
      sender = clientEventSender(client);
    }
    gateway =
      options.http === null
        ? undefined
        : await createGateway({
            sender,
            listen: options.http,
            maxBodyBytes: timing.maxBodyBytes ?? 64 * 1024 * 1024,
            eventTimeoutMs: timing.eventTimeoutMs ?? 60_000,
            allowNonLoopback: options.httpAllowNonLoopback ?? false,
            allowedHosts: options.httpAllowedHosts ?? [],
            allowedOrigins: options.httpAllowedOrigins ?? [],
            metricsText: () => metrics.text(),
            logger,
          });
  } catch (err) {
    await Promise.allSettled([server?.close({ graceMs: 0 }), client?.close({ graceMs: 0 }), statsd?.close()]);
    metrics.close();
    throw err;
  }
  const name = server?.name ?? client?.name ?? '';
  const reloadCrl = async (): Promise<void> => {
    if (server === undefined) return;
    if (options.crlPath === undefined) {
      // Someone sent SIGHUP expecting a reload: say why nothing happened.
      logger.info({}, 'no --crl configured: nothing to reload');
      return;
    }
    try {
      const crl = await loadCrl(options.crlPath, { caPem: identity.ca, logger });
      const dropping = server.updateTls({ crl: crl.pem });
      logger.info({ crl: options.crlPath, revoked: crl.revokedCount, nextUpdate: crl.nextUpdate }, 'CRL reloaded');
      // Open pipes whose certificates the new CRL revokes are closed (each with its own log line).
      await dropping;
    } catch (err) {
      logger.error({ crl: options.crlPath, err: (err as Error).message }, 'CRL reload failed; keeping the previous one');
    }
  };
  const reloadIdentity = async (): Promise<void> => {
    if (!('certDir' in options.identity)) return;
    const certDir = options.identity.certDir;
    try {
      const next = await loadIdentity(options.role, certDir, { logger });
      if (next.cert === identity.cert && next.key === identity.key && next.ca === identity.ca) {
        logger.info({ certDir }, 'identity unchanged');
        return;
      }
      if (next.name !== name) throw new Error(`the cert dir now holds the identity '${next.name}', not '${name}': a node keeps its name (restart it to change it)`);
      const material = { key: next.key, cert: next.cert, ca: next.ca };
      server?.updateTls(material);
      client?.updateTls(material, { graceMs: DEFAULT_GRACE_MS });
      identity = next;
      logger.info(
        { name, certDir, fingerprint256: next.info.fingerprint256, notAfter: next.info.notAfter },
        client === undefined ? `identity '${name}' reloaded: new connections use it` : `identity '${name}' reloaded: reconnecting with it`,
      );
    } catch (err) {
      logger.error({ certDir, err: (err as Error).message }, 'identity reload failed; keeping the current one');
    }
  };
  const reloadTicketKeys = (): void => {
    if (server === undefined || options.ticketKeyFile === undefined) return;
    try {
      const changed = server.reloadTicketKeys();
      logger.info({ ticketKeyFile: options.ticketKeyFile, changed }, changed ? 'TLS ticket key file re-read: a new secret; earlier sessions resume no more' : 'TLS ticket key file unchanged');
    } catch (err) {
      logger.error({ ticketKeyFile: options.ticketKeyFile, err: (err as Error).message }, 'TLS ticket key file reload failed; keeping the current key');
    }
  };
  if (server !== undefined && options.crlPath !== undefined) {
    let pending: NodeJS.Timeout | undefined;
    // Editors and `mv` replace the file rather than write it, so the directory is watched.
    const file = basename(options.crlPath);
    crlWatcher = watch(dirname(resolve(options.crlPath)), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== file) return;
      clearTimeout(pending);
      pending = setTimeout(() => void reloadCrl(), 100);
      pending.unref();
    });
    crlWatcher.on('error', (err) => logger.warn({ err: err.message }, 'cannot watch the CRL file; reload it with SIGHUP'));
  }

  let closing: Promise<void> | undefined;
  return {
    role: options.role,
    name,
    server,
    client,
    gateway,
    metrics,
    sender,
    reloadCrl,
    reloadIdentity,
    reloadTicketKeys,
    close({ graceMs = DEFAULT_GRACE_MS } = {}) {
      closing ??= (async () => {
        crlWatcher?.close();
        // The gateway first: no new requests; those in flight finish as their events do.
        await Promise.all([gateway?.close({ graceMs }), server?.close({ graceMs }), client?.close({ graceMs })]);
        await statsd?.close();
        metrics.close();
      })();
      return closing;
    },
  };
}

function pickTiming(o: NodeOptions): PipeTimingOptions {
  const t: PipeTimingOptions = {};
  for (const key of [
    'heartbeatIntervalMs',
    'heartbeatTimeoutMs',
    'connectWaitMs',
    'eventTimeoutMs',
    'maxBodyBytes',
    'helloTimeoutMs',
    'maxInflight',
    'maxQueuedBytes',
  ] as const) {
    if (o[key] !== undefined) t[key] = o[key];
  }
  return t;
}
