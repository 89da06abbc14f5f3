import { hkdfSync, randomBytes } from 'node:crypto';
import { linkSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { KEY_NAMING, durationOption, invalidOption, type OptionNaming } from '../options/validate.js';

// The keys a server encrypts its TLS session tickets with (issue 14, SPEC §6). Node takes one
// 48-byte key (a 16-byte name, an HMAC key, an AES key) and decrypts only tickets made with it,
// so rotating the key ends every ticket made before: the rotation period is also the longest a
// ticket can be used. Whoever holds a key can make tickets that name any client certificate
// they have seen, so keys are secrets like the CA key: in memory only, unless the operator
// asks for a file (0600) that a restarted server or another server of a cluster reads too.

/** The size of a ticket key for Node's `ticketKeys` / `setTicketKeys()`. */
export const TICKET_KEY_BYTES = 48;

/** One key a day, like Go's crypto/tls. @default 24 h */
export const DEFAULT_TICKET_KEY_ROTATION_MS = 24 * 3_600_000;

/** RFC 8446 §4.6.1: a ticket may not be used for longer than 7 days. */
export const MAX_TICKET_KEY_ROTATION_MS = 7 * 24 * 3_600_000;

/** The least secret a key file may hold. */
const MIN_SECRET_BYTES = 32;

/** Options of {@link TicketKeys}. */
export interface TicketKeysOptions {
  /**
   * A file holding the secret the keys are derived from (hex, mode 0600; created with a random
   * secret when missing). Servers given the same file use the same key at the same time, so a
   * restarted server, or another one, resumes sessions the first one made. Without it, each key
   * is random and held in memory only.
   */
  file?: string;
  /** How long one key makes and accepts tickets. @default 24 h; at most 7 days */
  rotationMs?: number;
  /** @default Date.now */
  now?: () => number;
}

/**
 * The current ticket key and its rotation. Keys change at fixed instants (multiples of the
 * rotation period since the epoch), so servers sharing a key file change keys together without
 * talking to each other: with a file, the key of each period is HKDF-SHA256 of the file's
 * secret and the period's number; without one, it is random.
 */
export class TicketKeys {
  readonly file: string | undefined;
  readonly rotationMs: number;
  readonly #now: () => number;
  #secret: Buffer | undefined;
  #period: number;
  #key: Buffer;
  #timer: NodeJS.Timeout | undefined;
  #onRotate: ((key: Buffer) => void) | undefined;

  /**
   * Reads (or creates) the key file, synchronously: a server reads it once, at start.
   * @throws RestpipeError `invalid_option` naming the file and what is wrong with it: readable by
   *   others, not a regular file, not hex, too short, or not creatable.
   */
  constructor(options: TicketKeysOptions = {}) {
    this.rotationMs = ticketKeyRotationOption(options.rotationMs);
    this.file = options.file;
    this.#now = options.now ?? Date.now;
    this.#secret = this.file === undefined ? undefined : readOrCreateSecret(this.file);
    this.#period = this.#currentPeriod();
    this.#key = this.#derive(this.#period);
  }

  /** The key tickets are made with now (48 bytes, for `ticketKeys`). */
  get key(): Buffer {
    return this.#key;
  }

  /** How long a ticket is accepted, in whole seconds (Node's `sessionTimeout`): one period. */
  get lifetimeS(): number {
    return Math.floor(this.rotationMs / 1000);
  }

  /** Starts rotating: `onRotate` gets each new key at the start of its period. */
  start(onRotate: (key: Buffer) => void): void {
    this.#onRotate = onRotate;
    this.#arm();
  }

  /**
   * Reads the key file again (SIGHUP): an operator replaces the secret to end every ticket made
   * with the old one. Returns whether the key changed (and `onRotate` was told).
   * @throws RestpipeError `invalid_option` as the constructor does; the current key stays.
   */
  reload(): boolean {
    if (this.file === undefined) return false;
    const secret = readOrCreateSecret(this.file);
    if (this.#secret !== undefined && secret.equals(this.#secret)) return false;
    this.#secret = secret;
    this.#setKey(this.#derive(this.#currentPeriod()));
    return true;
  }

  /** Stops rotating. */
  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#onRotate = undefined;
  }

  #arm(): void {
    clearTimeout(this.#timer);
    const delayMs = Math.max(0, (this.#period + 1) * this.rotationMs - this.#now());
    this.#timer = setTimeout(() => this.#rotate(), delayMs);
    this.#timer.unref();
  }

  #rotate(): void {
    // A timer can fire a little early or very late (a suspended machine): go by the clock.
    const period = this.#currentPeriod();
    if (period !== this.#period) {
      this.#period = period;
      this.#setKey(this.#derive(period));
    }
    if (this.#onRotate !== undefined) this.#arm();
  }

  #setKey(key: Buffer): void {
    this.#key = key;
    this.#onRotate?.(key);
  }

  #currentPeriod(): number {
    return Math.floor(this.#now() / this.rotationMs);
  }

  #derive(period: number): Buffer {
    if (this.#secret === undefined) return randomBytes(TICKET_KEY_BYTES);
    const info = `period ${period} of ${this.rotationMs} ms`;
    return Buffer.from(hkdfSync('sha256', this.#secret, 'restpipe TLS session ticket key v1', info, TICKET_KEY_BYTES));
  }
}

/**
 * The ticket key rotation period (ms): from 1 s to 7 days; `undefined` gives 24 h.
 * @throws RestpipeError `invalid_option` naming the option.
 */
export function ticketKeyRotationOption(value: number | undefined, naming: OptionNaming = KEY_NAMING): number {
  const ms = durationOption('ticketKeyRotationMs', value, DEFAULT_TICKET_KEY_ROTATION_MS, { naming });
  if (ms < 1_000 || ms > MAX_TICKET_KEY_ROTATION_MS) {
    throw invalidOption(`${naming.name('ticketKeyRotationMs')}: expected from ${naming.duration(1_000)} to ${naming.duration(MAX_TICKET_KEY_ROTATION_MS)} (7 days, RFC 8446), got ${naming.duration(ms)}`);
  }
  return ms;
}

/**
 * The secret in `path`, or a new random one written there (mode 0600) when the file does not
 * exist. Two servers starting together cannot both write it: the new file is linked into
 * place, which fails if one is already there, and then that one is read.
 */
function readOrCreateSecret(path: string): Buffer {
  try {
    return readSecret(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, `${randomBytes(TICKET_KEY_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
    try {
      linkSync(temp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  } catch (err) {
    throw invalidOption(`ticket key file ${path}: cannot create it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  } finally {
    try {
      unlinkSync(temp);
    } catch {
      // Never written, or already gone.
    }
  }
  return readSecret(path);
}

function readSecret(path: string): Buffer {
  const stat = statSync(path);
  if (!stat.isFile()) throw invalidOption(`ticket key file ${path}: not a regular file`);
  if ((stat.mode & 0o077) !== 0) {
    const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
    throw invalidOption(
      `ticket key file ${path}: mode ${mode} lets other users read it; it must be 0600 (chmod 600 ${path}): ` +
        'whoever has it can make session tickets for any client certificate they have seen',
    );
  }
  const text = readFileSync(path, 'utf8').trim();
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(text) || text.length < MIN_SECRET_BYTES * 2) {
    throw invalidOption(
      `ticket key file ${path}: expected at least ${MIN_SECRET_BYTES * 2} hex digits (e.g. from \`openssl rand -hex 48\`), ` +
        `got ${text.length} characters${/^[0-9a-fA-F]*$/.test(text) ? '' : ' that are not all hex digits'}`,
    );
  }
  return Buffer.from(text, 'hex');
}
