import { resolve as resolvePath } from 'node:path';
import { ErrorCode, RestpipeError, hasErrorCode } from '../../errors.js';
import { resolveCertDir } from '../../identity/index.js';
import type { Logger } from '../../log.js';
import { startNode, type NodeOptions, type RunningNode } from '../../node.js';
import { resolveRunSettings, type Role } from '../config.js';
import { loadHandlerModule } from '../handler-module.js';
import { createCliLogger } from '../logger.js';
import type { NodeSignals, SignalTarget } from '../signals.js';
import { type CertDirLogSource, describeCertDirSource } from './set-identity.js';

/** `restpipe server` / `restpipe client`: runs until SIGINT/SIGTERM, then drains and exits 0. */
export async function runNodeCommand(role: Role, flags: Record<string, unknown>, env: NodeJS.ProcessEnv, signals: Pick<NodeSignals, 'attach'>): Promise<number> {
  // Everything a user can get wrong on the command line is checked before anything is logged,
  // so a bad flag, value or handler module is exactly one line on stderr (SPEC §3): the library
  // checks the values (resolveRunSettings runs its resolveNodeOptions).
  const settings = resolveRunSettings(role, flags, env);
  const handlers = settings.handlers === undefined ? undefined : await loadHandlerModule(settings.handlers);
  // A cert dir from a flag, the environment or the config file was resolved with the others
  // (flag > environment > --config); without one, the default applies.
  const certDir: { dir: string; source: CertDirLogSource } =
    settings.certDir === undefined ? resolveCertDir(role, { env }) : { dir: resolvePath(settings.certDir), source: settings.certDirFrom ?? 'flag' };
  const logger = createCliLogger(settings.logLevel);
  const options: NodeOptions = { role, ...settings.node, identity: { certDir: certDir.dir }, handlers, logger };
  let node: RunningNode;
  try {
    node = await startNode(options);
  } catch (err) {
    // The handler table is built (and a module without handler methods refused) inside
    // startNode; name the flag, as for a module that does not load.
    if (settings.handlers !== undefined && hasErrorCode(err, ErrorCode.HANDLER_INVALID)) {
      throw new RestpipeError(ErrorCode.HANDLER_INVALID, `--handlers ${settings.handlers}: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
  logger.info({ certDir: certDir.dir, from: certDir.source }, `using cert dir ${certDir.dir} (${describeCertDirSource(role, certDir.source)})`);
  return signals.attach(nodeSignalTarget(node, settings.graceMs, logger));
}

/**
 * What the signals do to a running node (SPEC §3). SIGINT/SIGTERM: stop accepting, let
 * in-flight events finish within the grace period, close, exit 0; the log says how many events
 * were in flight and whether they all finished; a second signal exits at once (1). SIGHUP:
 * reload the identity, the server's CRL and the access rules, each saying in one line what it did.
 */
export function nodeSignalTarget(node: RunningNode, graceMs: number, logger: Logger): SignalTarget {
  return {
    reload: () => node.reload(),
    reloadQueued: () => logger.info({ signal: 'SIGHUP' }, 'SIGHUP arrived while the node was starting: reloading now that it is up'),
    stopNow: (signal) => logger.warn({ signal }, 'second signal: exiting now'),
    async stop(signal) {
      const inFlight = eventsInFlight(node);
      const graceS = graceMs / 1000;
      const started = performance.now();
      logger.info({ signal, graceS, inFlight }, `${signal}: shutting down; ${inFlight} event${inFlight === 1 ? '' : 's'} in flight, ${graceS} s to finish`);
      try {
        await node.close({ graceMs });
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'error while shutting down');
        return 1;
      }
      const tookS = Number(((performance.now() - started) / 1000).toFixed(3));
      if (inFlight === 0 || performance.now() - started < graceMs) {
        logger.info({ inFlight, tookS, drained: true }, `stopped: drained ${inFlight} in-flight event${inFlight === 1 ? '' : 's'} in ${tookS} s`);
      } else {
        logger.warn({ inFlight, tookS, drained: false }, `stopped: the grace period of ${graceS} s ran out; events still in flight were cancelled`);
      }
      return 0;
    },
  };
}

/** Events this node has in flight now, both ways: sent and waiting for a reply, or being handled. */
function eventsInFlight(node: RunningNode): number {
  const status = node.sender.status();
  const pipes = status.role === 'server' ? status.clients.map((c) => c.inFlight) : [status.inFlight];
  return pipes.reduce((n, f) => n + f.outbound + f.inbound, 0);
}
