import { resolveCertDir } from '../../identity/index.js';
import { startNode, type RunningNode } from '../../node.js';
import type { Logger } from '../../log.js';
import { resolveRunSettings, type Role, type RunSettings } from '../config.js';
import { loadHandlerModule } from '../handler-module.js';
import { createCliLogger } from '../logger.js';

/** `restpipe server` / `restpipe client`: runs until SIGINT/SIGTERM, then drains and exits 0. */
export async function runNodeCommand(role: Role, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<number> {
  const settings = resolveRunSettings(role, flags, env);
  const logger = createCliLogger(settings.logLevel);
  const certDir = resolveCertDir(role, { ...(settings.certDir === undefined ? {} : { flag: settings.certDir }), env });
  logger.info({ certDir: certDir.dir, from: certDir.source }, `using cert dir ${certDir.dir}`);
  const handlers = settings.handlers === undefined ? undefined : await loadHandlerModule(settings.handlers);
  const node = await startNode(nodeOptions(settings, { certDir: certDir.dir }, handlers, logger));
  return waitForShutdown(node, settings.grace, logger);
}

/** Settings in seconds → the library's options in milliseconds (the one conversion). */
export function nodeOptions(
  s: RunSettings,
  identity: { certDir: string } | { key: string; cert: string; ca: string },
  handlers: unknown,
  logger: Logger,
): Parameters<typeof startNode>[0] {
  const ms = (v: number | undefined): number | undefined => (v === undefined ? undefined : Math.round(v * 1000));
  const o: Parameters<typeof startNode>[0] = {
    role: s.role,
    identity,
    listen: s.listen,
    server: { ...s.server, ...(s.serverName === undefined ? {} : { servername: s.serverName }) },
    http: s.http,
    httpAllowNonLoopback: s.httpAllowRemote,
    httpAllowedHosts: s.httpAllowHost,
    httpAllowedOrigins: s.httpAllowOrigin,
    handlers,
    logger,
  };
  const optional = {
    heartbeatIntervalMs: ms(s.heartbeatInterval),
    heartbeatTimeoutMs: ms(s.heartbeatTimeout),
    connectWaitMs: ms(s.connectWait),
    eventTimeoutMs: ms(s.eventTimeout),
    reconnectMinMs: ms(s.reconnectMin),
    reconnectMaxMs: ms(s.reconnectMax),
    maxBodyBytes: s.maxBody,
    maxInflight: s.maxInflight,
    crlPath: s.crl,
    statsd: s.statsd,
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  return o;
}

/**
 * SIGINT/SIGTERM: stop accepting, let in-flight events finish within the grace period, close,
 * exit 0. A second signal exits at once (1). SIGHUP reloads the CRL.
 */
export function waitForShutdown(node: RunningNode, graceS: number, logger: Logger): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onStop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        resolve(1);
        return;
      }
      stopping = true;
      logger.info({ signal, graceS }, `${signal}: shutting down; in-flight events have ${graceS} s to finish`);
      node.close({ graceMs: Math.round(graceS * 1000) }).then(
        () => {
          logger.info({}, 'stopped');
          resolve(0);
        },
        (err: Error) => {
          logger.error({ err: err.message }, 'error while shutting down');
          resolve(1);
        },
      );
    };
    const onHup = (): void => void node.reloadCrl();
    process.on('SIGINT', onStop);
    process.on('SIGTERM', onStop);
    process.on('SIGHUP', onHup);
  });
}
