import { readFile } from 'node:fs/promises';
import { certificateCommonName } from './certificate.js';
import { createClient, createServer, type RestpipeClient, type RestpipeServer } from './create.js';
import { createGateway, type Gateway } from './gateway/gateway.js';
import type { LoadedIdentity } from './identity/index.js';
import { createRecorder, type InspectRecorder } from './inspect/recorder.js';
import { createInspectPages } from './inspect/routes.js';
import { silentLogger } from './log.js';
import { createPrometheusMetrics, type PrometheusMetrics } from './metrics/prometheus.js';
import type { StatsdBridge } from './metrics/statsd.js';
import { resolveNodeOptions, type NodeOptions } from './node-options.js';
import { NodeReloader } from './node-reload.js';
import { DEFAULT_GRACE_MS } from './options/defaults.js';
import { invalidOption } from './options/validate.js';
import { loadRules, RulesGate } from './rules/index.js';
import type { ForwardTable } from './forward/index.js';
import type { EventSender, ForwardStatus } from './sender.js';

export { resolveNodeOptions, type NodeOptions, type ResolvedNodeOptions } from './node-options.js';

/** A started node: its pipe end, its gateway, its metrics. */
export interface RunningNode {
  readonly role: 'server' | 'client';
  readonly name: string;
  readonly server: RestpipeServer | undefined;
  readonly client: RestpipeClient | undefined;
  readonly gateway: Gateway | undefined;
  readonly metrics: PrometheusMetrics;
  /** The inspector's recorder, with `inspect` on. */
  readonly inspector: InspectRecorder | undefined;
  readonly sender: EventSender;
  /**
   * What SIGHUP does: re-reads the node's identity from its cert dir (a renewed certificate
   * installed by `set-identity`: a server uses it for new connections, a client reconnects with
   * it; one that fails the checks or names another node is refused and the current one stays),
   * then the server's CRL and TLS ticket key file, then the access rules (a file that cannot be
   * used keeps the rules in force). Each says in one log line what it did.
   */
  reload(): Promise<void>;
  /** The identity part of {@link reload}. */
  reloadIdentity(): Promise<void>;
  /** The CRL part of {@link reload} (server; also run when the CRL file changes). */
  reloadCrl(): Promise<void>;
  /** The access-rules part of {@link reload} (also run when the rules file changes). */
  reloadRules(): Promise<void>;
  /**
   * Stops the gateway taking requests, lets in-flight events finish within `graceMs`, closes
   * the pipes and the metrics. Idempotent.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/**
 * Starts a server or client node: options checked (resolveNodeOptions), identity, pipe end,
 * gateway, metrics and statsd wired once. The composition root the CLI and `demo` share; a
 * library user may call it too.
 * @throws RestpipeError invalid_option, identity_invalid, handler_invalid; the listen error.
 */
export async function startNode(options: NodeOptions): Promise<RunningNode> {
  const resolved = resolveNodeOptions(options);
  const logger = options.logger ?? silentLogger;
  // Loaded lazily: @peculiar/x509 is only needed when files are read and checked.
  const { loadCrl, loadIdentity } = await import('./identity/index.js');
  const identity: { key: string; cert: string; ca: string } =
    'certDir' in options.identity ? await loadIdentity(options.role, options.identity.certDir, { logger }) : options.identity;
  const tls = { key: identity.key, cert: identity.cert, ca: identity.ca };
  let server: RestpipeServer | undefined;
  let client: RestpipeClient | undefined;
  let sender: EventSender | undefined;

  // Logged once the pipe end exists: a handler module without handler methods is refused by
  // createServer/createClient, and that refusal must be the only line a bad flag prints.
  const logIdentity = (): void => {
    if (!('certDir' in options.identity)) return;
    const loaded = identity as LoadedIdentity;
    logger.info({ name: loaded.name, certDir: options.identity.certDir, notAfter: loaded.info.notAfter }, `identity '${loaded.name}' loaded`);
  };
  const forwardCa = options.forwardCaPath === undefined ? undefined : await readForwardCa(options.forwardCaPath);
  const crl = options.role === 'server' && options.crlPath !== undefined ? await loadCrl(options.crlPath, { caPem: identity.ca, logger }) : undefined;
  // A rules file that cannot be used stops the start (invalid_option: its one line names the
  // problem and its place). Without --rules there is no gate: the check then costs nothing.
  const rulesGate =
    options.rulesPath === undefined
      ? undefined
      : new RulesGate({
          rules: await loadRules(options.rulesPath),
          callee: { role: options.role, name: certificateCommonName(identity.cert) },
          audit: options.rulesAudit ?? false,
          logger,
        });

  // Metrics subscribe before the pipe end exists, so that they see everything from its first
  // dial on (issue 9: the statsd bridge, imported after client.start(), missed the first
  // connection's ticks). The scrape-time gauges read the sender made below through this.
  const metrics = createPrometheusMetrics({
    role: options.role,
    sender: { isReady: () => sender?.isReady() ?? false, status: () => sender?.status() },
  });
  // The inspector too records from the first pipe on; it only subscribes when asked for.
  const inspector =
    resolved.inspect === undefined
      ? undefined
      : createRecorder({
          role: options.role,
          maxEvents: resolved.inspect.maxEvents,
          captureBodies: resolved.inspect.captureBodies,
          pipes: () => server?.clients() ?? (client?.pipe() === undefined ? [] : [client.pipe()!]),
        });
  let statsd: StatsdBridge | undefined;
  let gateway: Gateway | undefined;
  try {
    if (options.statsd !== undefined) {
      // hot-shots is loaded only when statsd is asked for.
      const { createStatsdBridge } = await import('./metrics/statsd.js');
      statsd = createStatsdBridge({ ...options.statsd, role: options.role, logger });
    }
    // The node's options are the pipe end's under the same keys (NodeOptions extends them).
    if (resolved.role === 'server') {
      server = createServer({ ...options, forwardCa, tls: { ...tls, ...(crl === undefined ? {} : { crl: crl.pem }) }, logger, accessRules: rulesGate });
      logIdentity();
      await server.listen(resolved.listen);
      sender = withForwards(server.sender, resolved.forward.table);
    } else {
      const { host, port } = resolved.pipe;
      client = createClient({ ...options, forwardCa, host, port, tls, logger, accessRules: rulesGate });
      logIdentity();
      client.start();
      sender = withForwards(client.sender, resolved.forward.table);
    }
    gateway =
      options.http === null
        ? undefined
        : await createGateway({
            sender,
            listen: options.http,
            eventTimeoutMs: resolved.pipe.timing.eventTimeoutMs,
            allowNonLoopback: options.httpAllowNonLoopback ?? false,
            allowedHosts: options.httpAllowedHosts ?? [],
            allowedOrigins: options.httpAllowedOrigins ?? [],
            metricsText: () => metrics.text(),
            ...(inspector === undefined ? {} : { pages: createInspectPages(inspector) }),
            logger,
          });
  } catch (err) {
    await Promise.allSettled([server?.close({ graceMs: 0 }), client?.close({ graceMs: 0 }), statsd?.close()]);
    metrics.close();
    inspector?.close();
    rulesGate?.close();
    throw err;
  }
  if (rulesGate === undefined && options.rulesAudit === true) {
    // Harmless (without rules everything is allowed) but surely not what was meant.
    logger.warn({}, 'rules audit is on but no access-rules file is given (--rules): there is nothing to audit, every caller may call everything');
  }
  if (rulesGate !== undefined) {
    const { document } = rulesGate.rules;
    logger.info(
      { rules: options.rulesPath, count: document.rules.length, patterns: document.patternCount, audit: rulesGate.audit },
      `access rules from ${options.rulesPath} in force${rulesGate.audit ? ' in audit mode (refusing nothing, logging what they would refuse)' : ''}: ${document.rules.length} rule${document.rules.length === 1 ? '' : 's'}, ${document.patternCount} pattern${document.patternCount === 1 ? '' : 's'}`,
    );
  }
  const name = server?.name ?? client?.name ?? '';
  const reloader = new NodeReloader(
    {
      role: options.role,
      name,
      identity: options.identity,
      crlPath: options.crlPath,
      ticketKeyFile: options.ticketKeyFile,
      server,
      client,
      logger,
      loadIdentity,
      loadCrl,
      rules: rulesGate === undefined || options.rulesPath === undefined ? undefined : { path: options.rulesPath, gate: rulesGate, load: loadRules },
    },
    tls,
  );
  reloader.watchFiles();

  let closing: Promise<void> | undefined;
  return {
    role: options.role,
    name,
    server,
    client,
    gateway,
    metrics,
    inspector,
    sender,
    reload: () => reloader.reload(),
    reloadIdentity: () => reloader.reloadIdentity(),
    reloadCrl: () => reloader.reloadCrl(),
    reloadRules: () => reloader.reloadRules(),
    close({ graceMs = DEFAULT_GRACE_MS } = {}) {
      closing ??= (async () => {
        reloader.close();
        // The gateway first: no new requests; those in flight finish as their events do.
        await Promise.all([gateway?.close({ graceMs }), server?.close({ graceMs }), client?.close({ graceMs })]);
        await statsd?.close();
        rulesGate?.close();
        metrics.close();
        inspector?.close();
      })();
      return closing;
    },
  };
}

/** The node's sender, its status listing the node's forwards (prefix and URL as given, none: []). */
function withForwards(sender: EventSender, table: ForwardTable): EventSender {
  const forwards: ForwardStatus[] = table.targets.map((t) => ({ prefix: t.prefix, url: t.url }));
  return { ...sender, status: () => ({ ...sender.status(), forwards }) };
}

/** The PEM certificates of `forwardCaPath`, or one `invalid_option` line naming the file and the problem. */
async function readForwardCa(path: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw invalidOption(`forward CA file ${path} (--forward-ca): cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw invalidOption(`forward CA file ${path} (--forward-ca): holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  return text;
}
