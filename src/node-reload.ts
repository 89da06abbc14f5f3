import type { RestpipeClient, RestpipeServer } from './create.js';
import { watchFile, type FileWatch } from './file-watch.js';
import type { LoadedCrl, LoadedIdentity } from './identity/index.js';
import type { Logger } from './log.js';
import { DEFAULT_GRACE_MS } from './options/defaults.js';
import type { RuleSet, RulesGate } from './rules/index.js';

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
  /** The access rules in force and their file, when the node has `--rules`. */
  rules: { path: string; gate: RulesGate; load(path: string): Promise<RuleSet> } | undefined;
}

/**
 * A node's reloads (SIGHUP, SPEC §3): its identity from its cert dir, the server's CRL and the
 * access rules from their files (also when a file changes), and the server's TLS ticket key
 * file. Each reload says in one line what it did: the new identity, CRL, rules or key are used,
 * nothing changed, there is nothing to reload, or it failed and the current ones stay (error).
 */
export class NodeReloader {
  readonly #t: ReloadTarget;
  #material: Material;
  readonly #watches: FileWatch[] = [];

  constructor(target: ReloadTarget, material: Material) {
    this.#t = target;
    this.#material = material;
  }

  /** Re-reads the identity, then (server) the CRL and the ticket key file, then the access rules: one line each. */
  async reload(): Promise<void> {
    await this.reloadIdentity();
    if (this.#t.role === 'server') {
      await this.reloadCrl();
      this.reloadTicketKeys();
    }
    await this.reloadRules();
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
   * Re-reads the access rules file and puts it in force. A file that cannot be used (unreadable,
   * not JSON, a bad pattern…) leaves the rules in force as they are, and the error line names
   * the problem and its place in the file (`rules.json:7:18: rules[1].allow[0]: …`).
   */
  async reloadRules(): Promise<void> {
    const { rules, logger } = this.#t;
    if (rules === undefined) return; // no --rules: nothing was asked for
    try {
      const next = await rules.load(rules.path);
      rules.gate.replace(next);
      const { document } = next;
      logger.info(
        { rules: rules.path, count: document.rules.length, patterns: document.patternCount, audit: rules.gate.audit },
        `access rules reloaded from ${rules.path}: ${document.rules.length} rule${document.rules.length === 1 ? '' : 's'}, ${document.patternCount} pattern${document.patternCount === 1 ? '' : 's'}`,
      );
    } catch (err) {
      const message = (err as Error).message;
      logger.error({ rules: rules.path, err: message }, `access rules not reloaded, the previous rules stay in force: ${message}`);
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

  /** Reloads the server's CRL and the access rules when their files change (file-watch.ts). */
  watchFiles(): void {
    const { crlPath, rules, logger } = this.#t;
    if (this.#t.server !== undefined && crlPath !== undefined) {
      this.#watches.push(watchFile(crlPath, () => void this.reloadCrl(), (err) => logger.warn({ err: err.message }, 'cannot watch the CRL file; reload it with SIGHUP')));
    }
    if (rules !== undefined) {
      this.#watches.push(watchFile(rules.path, () => void this.reloadRules(), (err) => logger.warn({ err: err.message }, 'cannot watch the access rules file; reload it with SIGHUP')));
    }
  }

  close(): void {
    for (const w of this.#watches) w.close();
    this.#watches.length = 0;
  }
}
