// A node's status as an EventSender reports it, for gateway tests that stand in for a node.
import type { ClientState, NodeStatus } from '../../src/sender.js';

/** A plausible status of a `role` node, in `state` (a client's state; a server listens). */
export function fakeStatus(role: 'server' | 'client', state: ClientState = 'ready'): NodeStatus {
  if (role === 'server') return { role, name: 'server', state: 'listening', listen: null, clientCount: 0, clients: [], certificates: [], crl: null };
  return {
    role,
    name: 'client',
    state,
    server: 'localhost:1234',
    serverName: null,
    serverAddress: null,
    connectedSince: null,
    failedAttempts: 0,
    lastFailure: null,
    inFlight: { outbound: 0, inbound: 0 },
    rttMs: null,
    certificates: [],
  };
}
