import { resolve as resolvePath } from 'node:path';
import { resolveCertDir } from '../../identity/index.js';
import { startNode, type RunningNode } from '../../node.js';
import type { Logger } from '../../log.js';
import { ErrorCode, RestpipeError, hasErrorCode } from '../../errors.js';
import { resolveRunSettings, type Role, type RunSettings } from '../config.js';
import { loadHandlerModule } from '../handler-module.js';
import { createCliLogger } from '../logger.js';
import { type CertDirLogSource, describeCertDirSource } from './set-identity.js';

/** `restpipe server` / `restpipe client`: runs until SIGINT/SIGTERM, then drains and exits 0. */
export async function runNodeCommand(role: Role, flags: Record<string, unknown>, env: NodeJS.ProcessEnv): Promise<number> {
  // Everything a user can get wrong on the command line is checked before anything is logged,
  // so a bad flag, value or handler module is exactly one line on stderr (SPEC §3).
  const settings = resolveRunSettings(role, flags, env);
  const handlers = settings.handlers === undefined ? undefined : await loadHandlerModule(settings.handlers);
  // A cert dir from a flag, the environment or the config file was resolved with the others
  // (flag > environment > --config); without one, the default applies.
  const certDir: { dir: string; source: CertDirLogSource } =
    settings.certDir === undefined ? resolveCertDir(role, { env }) : { dir: resolvePath(settings.certDir), source: settings.certDirFrom ?? 'flag' };
  const logger = createCliLogger(settings.logLevel);
  let node: RunningNode;
  try {
    node = await startNode(nodeOptions(settings, { certDir: certDir.dir }, handlers, logger));
  } catch (err) {
    // The handler table is built (and a module without handler methods refused) inside
    // startNode; name the flag, as for a module that does not load.
    if (settings.handlers !== undefined && hasErrorCode(err, ErrorCode.HANDLER_INVALID)) {
      throw new RestpipeError(ErrorCode.HANDLER_INVALID, `--handlers ${settings.handlers}: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
  logger.info({ certDir: certDir.dir, from: certDir.source }, `using cert dir ${certDir.dir} (${describeCertDirSource(role, certDir.source)})`);
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
    ticketKeyFile: s.tlsTicketKeys,
    connectTimeoutMs: ms(s.connectTimeout),
    handshakeTimeoutMs: ms(s.handshakeTimeout),
    tlsMinVersion: s.tlsMin,
    statsd: s.statsd,
  };
  for (const [k, v] of Object.entries(optional)) if (v !== undefined) (o as unknown as Record<string, unknown>)[k] = v;
  return o;
}

/**
 * SIGINT/SIGTERM: stop accepting, let in-flight events finish within the grace period, close,
 * exit 0. A second signal exits at once (1). SIGHUP reloads the node's identity (a renewed
 * certificate installed by set-identity) and the server's CRL. The log says how many
 * events were in flight and whether they all finished.
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
      const inFlight = eventsInFlight(node);
      const graceMs = Math.round(graceS * 1000);
      const started = performance.now();
      logger.info(
        { signal, graceS, inFlight },
        `${signal}: shutting down; ${inFlight} event${inFlight === 1 ? '' : 's'} in flight, ${graceS} s to finish`,
      );
      node.close({ graceMs }).then(
        () => {
          const tookS = Number(((performance.now() - started) / 1000).toFixed(3));
          if (inFlight === 0 || performance.now() - started < graceMs) {
            logger.info({ inFlight, tookS, drained: true }, `stopped: drained ${inFlight} in-flight event${inFlight === 1 ? '' : 's'} in ${tookS} s`);
          } else {
            logger.warn({ inFlight, tookS, drained: false }, `stopped: the grace period of ${graceS} s ran out; events still in flight were cancelled`);
          }
          resolve(0);
        },
        (err: Error) => {
          logger.error({ err: err.message }, 'error while shutting down');
          resolve(1);
        },
      );
    };
    const onHup = (): void =>
      void node
        .reloadIdentity()
        .then(() => node.reloadCrl())
        .then(() => node.reloadTicketKeys());
    process.on('SIGINT', onStop);
    process.on('SIGTERM', onStop);
    process.on('SIGHUP', onHup);
  });
}

/** Events this node has in flight now, both ways: sent and waiting for a reply, or being handled. */
function eventsInFlight(node: RunningNode): number {
  const count = (x: unknown): number => {
    const f = x as { outbound?: unknown; inbound?: unknown } | undefined;
    return (typeof f?.outbound === 'number' ? f.outbound : 0) + (typeof f?.inbound === 'number' ? f.inbound : 0);
  };
  try {
    const status = node.sender.status();
    if (Array.isArray(status['clients'])) return (status['clients'] as Array<{ inFlight?: unknown }>).reduce((n, c) => n + count(c.inFlight), 0);
    return count(status['inFlight']);
  } catch {
    return 0;
  }
}
