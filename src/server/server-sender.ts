import { DEFAULT_DNS_TIMEOUT_MS } from '../options/defaults.js';
import { ErrorCode, RestpipeError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import type { ParsedEvent, Reply } from '../event.js';
import type { RequestOptions } from '../pipe/session.js';
import type { EventSender, PipeInfo, ServerNodeStatus, ServerState, CertificateExpiry } from '../sender.js';
import { TargetResolver, type LookupAll } from './target-resolver.js';

/** What the sender reads of its server (PipeServer has it). */
export interface SenderServer {
  readonly name: string;
  readonly state: ServerState;
  readonly listening: boolean;
  readonly address: { address: string; port: number } | undefined;
  readonly clientCount: number;
  clients(): PipeInfo[];
  clientsAt(address: string): PipeInfo[];
  knowsClient(name: string): boolean;
  certificates(): CertificateExpiry[];
  readonly crlNextUpdate: Date | null | undefined;
  sendParsed(clientName: string, event: ParsedEvent, options: RequestOptions): Promise<Reply>;
}

/** Options of {@link serverEventSender}. */
export interface ServerSenderOptions {
  /** Bound on the DNS lookup of a `/client/HOSTNAME/…` name. @default 2000 */
  dnsTimeoutMs?: number;
  /** @default silent */
  logger?: Logger;
  /** DNS, for tests. @default dns.promises.lookup with all: true */
  lookup?: LookupAll;
}

/**
 * The server node as the gateway sees it: an event goes to the client the target names (its
 * CN, an IP address or a host name, resolved here: target-resolver.ts), waiting up to
 * connect-wait for it. Ready once the server listens; `status()` lists the connected clients.
 */
export function serverEventSender(server: SenderServer, options: ServerSenderOptions = {}): EventSender {
  const resolver = new TargetResolver(
    { knowsClient: (name) => server.knowsClient(name), clientsAt: (address) => server.clientsAt(address).map((c) => c.name) },
    {
      dnsTimeoutMs: options.dnsTimeoutMs ?? DEFAULT_DNS_TIMEOUT_MS,
      logger: options.logger ?? silentLogger,
      ...(options.lookup === undefined ? {} : { lookup: options.lookup }),
    },
  );
  return {
    role: 'server',
    send(target, event, sendOptions) {
      if (target === undefined) return Promise.reject(new RestpipeError(ErrorCode.BAD_REQUEST, 'an event from the server node needs a client name'));
      try {
        const name = resolver.resolve(target);
        if (typeof name === 'string') return server.sendParsed(name, event, sendOptions);
        return name.then((cn) => server.sendParsed(cn, event, sendOptions));
      } catch (err) {
        return Promise.reject(err);
      }
    },
    isReady: () => server.listening,
    status(): ServerNodeStatus {
      const address = server.address;
      return {
        role: 'server',
        name: server.name,
        state: server.state,
        listen: address === undefined ? null : { host: address.address, port: address.port },
        clientCount: server.clientCount,
        clients: server.clients().map((c) => ({
          name: c.name,
          address: c.address,
          connectedSince: c.connectedSince,
          inFlight: c.inFlight,
          rttMs: c.rttMs ?? null,
        })),
        certificates: server.certificates(),
        crl: server.crlNextUpdate === undefined ? null : { nextUpdate: server.crlNextUpdate },
      };
    },
  };
}
