import type { ParsedEvent, Reply } from '../event.js';
import type { RequestOptions } from '../pipe/session.js';
import type { ClientNodeStatus, EventSender } from '../sender.js';
import type { RestpipeClient } from './client-api.js';

/** What the sender reads of its client (PipeClient has it): the public face, and the send of a parsed event. */
export type SenderClient = Pick<RestpipeClient, 'name' | 'host' | 'port' | 'state' | 'connectedSince' | 'attempt' | 'lastFailure' | 'pipe' | 'certificates'> & {
  sendParsed(event: ParsedEvent, options: RequestOptions): Promise<Reply>;
};

/**
 * A client node as the gateway sees it: every event goes to the server. Ready while its pipe is
 * open; `status()` gives its identity, its state and its pipe's for `GET /status`.
 */
export function clientEventSender(client: SenderClient): EventSender {
  return {
    role: 'client',
    send: (_target, event, options) => client.sendParsed(event, options),
    isReady: () => client.state === 'ready',
    status(): ClientNodeStatus {
      const pipe = client.pipe();
      return {
        role: 'client',
        name: client.name,
        state: client.state,
        server: `${client.host}:${client.port}`,
        serverName: pipe?.name ?? null,
        serverAddress: pipe?.address ?? null,
        connectedSince: client.connectedSince,
        failedAttempts: client.attempt,
        lastFailure: client.lastFailure ?? null,
        inFlight: pipe?.inFlight ?? { outbound: 0, inbound: 0 },
        rttMs: pipe?.rttMs ?? null,
        certificates: client.certificates(),
      };
    },
  };
}
