import type { EventRequest, Reply } from '../event.js';

/**
 * What the gateway needs of a node: one interface, implemented for a client node (the target
 * is always the server) and for a server node (the target is a client's CN), so the gateway
 * never sees pipes, sessions or the wire.
 */
export interface EventSender {
  readonly role: 'server' | 'client';
  /**
   * Sends an event and resolves with the far side's reply (any code). `target` is undefined on
   * a client node and a connected client's CN on a server node. Waits up to connect-wait for
   * a missing pipe. Rejects with a RestpipeError whose code the gateway maps to a status.
   */
  send(target: string | undefined, event: EventRequest, options: { signal: AbortSignal; timeoutMs?: number }): Promise<Reply>;
  /**
   * Server node: whether `name` is a client's CN (connected now, or earlier since the server
   * started): such a NAME is sent to as a CN, without resolving it as a host name.
   */
  hasClient?(name: string): boolean;
  /** Server node: the CNs of the clients connected from this IP address. */
  clientsAt?(address: string): string[];
  /** Whether the node is ready: a client has its pipe, a server is listening. */
  isReady(): boolean;
  /** The node's state for `GET /status`. */
  status(): Record<string, unknown>;
}
