import { ErrorCode, RestpipeError } from '../errors.js';
import type { EventRequest, Reply } from '../event.js';
import type { RestpipeClient, RestpipeServer } from '../index.js';
import type { EventSender } from './event-sender.js';

/**
 * The two {@link EventSender}s the gateway runs on: a client node's pipe (the target is always
 * the server) and the server node's pipes (the target is a client's CN). Built on the public
 * library objects only, so the gateway never sees a session or the wire.
 */

/**
 * A client node's sender: every event goes to the server. `status()` gives role, identity and
 * pipe state for `GET /status`; the node is ready while its pipe is open.
 */
export function clientEventSender(client: RestpipeClient): EventSender {
  return {
    role: 'client',
    send(target: string | undefined, event: EventRequest, options: { signal: AbortSignal; timeoutMs?: number }): Promise<Reply> {
      return client.send(event, options);
    },
    isReady(): boolean {
      return client.state === 'ready';
    },
    status(): Record<string, unknown> {
      const session = client.session;
      return {
        role: 'client',
        name: client.name,
        state: client.state,
        server: `${client.host}:${client.port}`,
        serverName: session?.peer.name ?? null,
        serverAddress: session?.peer.address ?? null,
        connectedSince: client.connectedSince,
        failedAttempts: client.attempt,
        lastFailure: client.lastFailure ?? null,
        inFlight: { outbound: session?.outboundInFlight ?? 0, inbound: session?.inboundInFlight ?? 0 },
        rttMs: session?.rttMs ?? null,
      };
    },
  };
}

/**
 * The server node's sender: events go to the client named by the target (its CN); the gateway
 * resolves IP addresses and host names to CNs through `hasClient` and `clientsAt`. Ready once
 * the server listens. `status()` lists the connected clients with name, address,
 * connected-since and in-flight counts.
 */
export function serverEventSender(server: RestpipeServer): EventSender {
  return {
    role: 'server',
    send(target: string | undefined, event: EventRequest, options: { signal: AbortSignal; timeoutMs?: number }): Promise<Reply> {
      if (target === undefined) {
        return Promise.reject(new RestpipeError(ErrorCode.BAD_REQUEST, 'an event from the server node needs a client name'));
      }
      return server.send(target, event, options);
    },
    hasClient(name: string): boolean {
      return server.knowsClient(name);
    },
    clientsAt(address: string): string[] {
      return server.clientsAt(address).map((c) => c.name);
    },
    isReady(): boolean {
      return server.listening;
    },
    status(): Record<string, unknown> {
      const address = server.address;
      return {
        role: 'server',
        name: server.name,
        state: server.listening ? 'listening' : address === undefined ? 'not_listening' : 'closing',
        listen: address === undefined ? null : { host: address.address, port: address.port },
        clientCount: server.clientCount,
        clients: server.clients().map((c) => ({
          name: c.name,
          address: c.address,
          connectedSince: c.connectedSince,
          inFlight: c.inFlight,
          rttMs: c.rttMs ?? null,
        })),
      };
    },
  };
}
