import dns from 'node:dns';
import { isIP } from 'node:net';
import { ErrorCode, RestpipeError } from '../errors.js';
import type { Logger } from '../log.js';
import { isIpLiteral } from '../names.js';
import { truncate } from '../text.js';

/** What the resolver asks of the server about its clients. */
export interface ClientDirectory {
  /** Whether `name` is the CN of a client connected now or at any time since the server started. */
  knowsClient(name: string): boolean;
  /** The CNs of the clients connected from this IP address. */
  clientsAt(address: string): string[];
}

/** DNS as the resolver uses it (injected in tests). */
export type LookupAll = (name: string) => Promise<Array<{ address: string }>>;

const lookupAll: LookupAll = (name) => dns.promises.lookup(name, { all: true });

/**
 * NAME of `/client/NAME/NOUN` → the CN an event goes to (SPEC §4), on the server's side:
 * - an IP address → the client connected from it, always (no CN can be an IP literal: the
 *   server refuses such certificates, and the address is looked up first anyway, so no
 *   certificate can capture another client's address);
 * - a string a resolver reads as IPv4 (`127.1`) → looked up numerically, then as an address;
 * - a known CN (connected now or since the server started) → as is, without DNS: a lookup of
 *   a CN that is between two pipes can take seconds where no resolver answers;
 * - a host name → the client connected from one of its addresses.
 * Several candidates → `bad_request` naming them; none (or DNS fails within `dnsTimeoutMs`) →
 * NAME is taken as a CN, so the send waits connect-wait for it and then answers `no_connection`.
 */
export class TargetResolver {
  readonly #clients: ClientDirectory;
  readonly #dnsTimeoutMs: number;
  readonly #log: Logger;
  readonly #lookup: LookupAll;

  constructor(clients: ClientDirectory, options: { dnsTimeoutMs: number; logger: Logger; lookup?: LookupAll }) {
    this.#clients = clients;
    this.#dnsTimeoutMs = options.dnsTimeoutMs;
    this.#log = options.logger;
    this.#lookup = options.lookup ?? lookupAll;
  }

  /**
   * The CN for `name`: synchronous (a string) in the common cases, a promise when DNS is asked.
   * @throws RestpipeError `bad_request` when the name matches several connected clients.
   */
  resolve(name: string): string | Promise<string> {
    if (isIP(name) !== 0) return this.#pick(name, this.#clients.clientsAt(name), name);
    // `127.1` and the like: an address to a resolver, never a CN; the lookup is numeric.
    if (isIpLiteral(name)) return this.#resolveByDns(name);
    if (this.#clients.knowsClient(name)) return name;
    return this.#resolveByDns(name);
  }

  async #resolveByDns(name: string): Promise<string> {
    let addresses: Array<{ address: string }>;
    let timer: NodeJS.Timeout | undefined;
    try {
      addresses = await Promise.race([
        this.#lookup(name),
        new Promise<never>((_, reject) => {
          timer = setTimeout(reject, this.#dnsTimeoutMs, new Error(`DNS lookup of ${name} timed out`));
        }),
      ]);
    } catch (err) {
      if (this.#log.isLevelEnabled('debug')) this.#log.debug({ name, err: (err as Error).message }, 'client name did not resolve; using it as a CN');
      return name;
    } finally {
      clearTimeout(timer);
    }
    const names = new Set<string>();
    for (const { address } of addresses) for (const cn of this.#clients.clientsAt(address)) names.add(cn);
    return this.#pick(name, [...names], addresses.map((a) => a.address).join(', '));
  }

  #pick(name: string, candidates: string[], addresses: string): string {
    if (candidates.length === 1) return candidates[0]!;
    if (candidates.length > 1) {
      throw new RestpipeError(
        ErrorCode.BAD_REQUEST,
        `'${truncate(name)}' (${truncate(addresses)}) matches several connected clients (${candidates.sort().join(', ')}): use a client name`,
      );
    }
    return name;
  }
}
