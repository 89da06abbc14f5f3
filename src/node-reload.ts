import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { RestpipeClient, RestpipeServer } from './create.js';
import type { LoadedCrl, LoadedIdentity } from './identity/index.js';
import type { Logger } from './log.js';
import { DEFAULT_GRACE_MS } from './options/defaults.js';

type Material = { key: string; cert: string; ca: string };

/** What a node's reloads need: where its identity and CRL come from, and the pipe end to update. */
export interface ReloadTarget {
  role: 'server' | 'client';
  /** This node's name: a reloaded identity must keep it. */
  name: string;
  identity: { certDir: string } | Material;
  crlPath: string | undefined;
  /** Server: the TLS ticket key file, re-read on reload. */
  ticketKeyFile: string | undefined;
  server: RestpipeServer | undefined;
  client: RestpipeClient | undefined;
  logger: Logger;
  loadIdentity(role: 'server' | 'client', certDir: string, options: { logger: Logger }): Promise<LoadedIdentity>;
  loadCrl(path: string, options: { caPem: string; logger: Logger }): Promise<LoadedCrl>;
}

/**
 * A node's reloads (SIGHUP, SPEC §3): its identity from its cert dir, the server's CRL from its
 * file (also when the file changes) and its TLS ticket key file. Each reload says in one line what it did: the new
 * identity or CRL is used, nothing changed, there is nothing to reload, or it failed and the
 * current one stays (error).
 */
export class NodeReloader {
  readonly #t: ReloadTarget;
  #material: Material;
  #crlWatcher: FSWatcher | undefined;

  constructor(target: ReloadTarget, material: Material) {
    this.#t = target;
    this.#material = material;
  }

  /** Re-reads the identity, then (server) the CRL and the ticket key file: one line each. */
  async reload(): Promise<void> {
    await this.reloadIdentity();
    if (this.#t.role === 'server') {
      await this.reloadCrl();
      this.reloadTicketKeys();
    }
  }

  /**
   * Server: re-reads the TLS ticket key file (`--tls-ticket-keys`); a replaced secret ends every
   * session made with the old one. Silent without a file: keys in memory have nothing to reload.
   */
  reloadTicketKeys(): void {
    const { server, ticketKeyFile, logger } = this.#t;
    if (server === undefined || ticketKeyFile === undefined) return;
    try {
      const changed = server.reloadTicketKeys();
      logger.info(
        { ticketKeyFile, changed },
        changed ? 'TLS ticket key file re-read: a new secret; earlier sessions resume no more' : 'TLS ticket key file unchanged',
      );
    } catch (err) {
      logger.error({ ticketKeyFile, err: (err as Error).message }, 'TLS ticket key file reload failed; keeping the current key');
    }
  }

  /**
   * Re-reads the node's identity from its cert dir (after `set-identity` installed a renewed
   * certificate) and, when it changed, uses it: a server for new connections, a client by
   * reconnecting with it. One that fails the start-up checks, or names another node, is
   * refused with an error line and the current one stays.
   */
  async reloadIdentity(): Promise<void> {
    const { logger, identity, name } = this.#t;
    if (!('certDir' in identity)) {
      logger.info({}, 'identity given as material, not read from a cert dir: nothing to reload');
      return;
    }
    const { certDir } = identity;
    try {
      const next = await this.#t.loadIdentity(this.#t.role, certDir, { logger });
      const current = this.#material;
      if (next.cert === current.cert && next.key === current.key && next.ca === current.ca) {
        logger.info({ certDir }, 'identity unchanged');
        return;
      }
      if (next.name !== name) throw new Error(`the cert dir now holds the identity '${next.name}', not '${name}': a node keeps its name (restart it to change it)`);
      const material = { key: next.key, cert: next.cert, ca: next.ca };
      this.#t.server?.updateTls(material);
      this.#t.client?.updateTls(material, { graceMs: DEFAULT_GRACE_MS });
      this.#material = material;
      logger.info(
        { name, certDir, fingerprint256: next.info.fingerprint256, notAfter: next.info.notAfter },
        this.#t.client === undefined ? `identity '${name}' reloaded: new connections use it` : `identity '${name}' reloaded: reconnecting with it`,
      );
    } catch (err) {
      logger.error({ certDir, err: (err as Error).message }, 'identity reload failed; keeping the current one');
    }
  }

  /** Server: re-reads the CRL file; open pipes it revokes are closed (each with its own line). */
  async reloadCrl(): Promise<void> {
    const { server, crlPath, logger } = this.#t;
    if (server === undefined) return;
    if (crlPath === undefined) {
      // Someone sent SIGHUP expecting a reload: say why nothing happened.
      logger.info({}, 'no --crl configured: nothing to reload');
      return;
    }
    try {
      const crl = await this.#t.loadCrl(crlPath, { caPem: this.#material.ca, logger });
      const dropping = server.updateTls({ crl: crl.pem });
      logger.info({ crl: crlPath, revoked: crl.revokedCount, nextUpdate: crl.nextUpdate }, 'CRL reloaded');
      await dropping;
    } catch (err) {
      logger.error({ crl: crlPath, err: (err as Error).message }, 'CRL reload failed; keeping the previous one');
    }
  }

  /**
   * Server: reloads the CRL when its file changes. Editors and `mv` replace the file rather
   * than write it, so the directory is watched.
   */
  watchCrl(): void {
    const { crlPath, logger } = this.#t;
    if (this.#t.server === undefined || crlPath === undefined) return;
    let pending: NodeJS.Timeout | undefined;
    const file = basename(crlPath);
    this.#crlWatcher = watch(dirname(resolve(crlPath)), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== file) return;
      clearTimeout(pending);
      pending = setTimeout(() => void this.reloadCrl(), 100);
      pending.unref();
    });
    this.#crlWatcher.on('error', (err) => logger.warn({ err: err.message }, 'cannot watch the CRL file; reload it with SIGHUP'));
  }

  close(): void {
    this.#crlWatcher?.close();
  }
}
