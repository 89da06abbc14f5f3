import type { PipeStateMessage } from '../diagnostics.js';
import type { PipeInfo } from '../sender.js';
import { truncate } from '../text.js';

/** A pipe as the inspector lists it (SPEC §13). */
export interface InspectedPipe {
  /** The peer's name: the server's CN on a client, a client's CN on the server. */
  name: string;
  address: string | null;
  state: 'open' | 'closed';
  /** ISO time the current (or last) pipe opened. */
  connectedSince: string | null;
  /** ISO time it closed, and why, for a closed pipe. */
  closedAt: string | null;
  closeReason: string | null;
  /** Pipes to this peer that opened after the first one this node saw. */
  reconnects: number;
  rttMs: number | null;
  bytes: { sent: number; received: number } | null;
  inFlight: { outbound: number; inbound: number } | null;
}

/** Closed pipes kept for the list, the most recently closed first. */
const MAX_CLOSED = 100;
/** Peers whose reconnects are counted (a server may see many): past this, the oldest are forgotten. */
const MAX_PEERS = 10_000;

interface PeerHistory {
  opens: number;
  closedAt: number | undefined;
  closeReason: string | undefined;
  lastAddress: string | undefined;
  lastConnectedSince: Date | undefined;
}

/**
 * The pipes of one node: the open ones read live from the node when asked (address, RTT, bytes,
 * events in flight), and for each peer how often it opened and when and why it last closed,
 * kept from the pipe state messages.
 */
export class PipeTable {
  readonly #role: 'server' | 'client';
  readonly #livePipes: () => readonly PipeInfo[];
  readonly #peers = new Map<string, PeerHistory>();

  constructor(role: 'server' | 'client', livePipes: () => readonly PipeInfo[]) {
    this.#role = role;
    this.#livePipes = livePipes;
  }

  /** A pipe state message; false when it is not this node's. */
  onPipeState(m: PipeStateMessage): boolean {
    if (m.role !== this.#role) return false;
    let h = this.#peers.get(m.peer);
    if (h === undefined) {
      if (this.#peers.size >= MAX_PEERS) this.#peers.delete(this.#peers.keys().next().value!);
      h = { opens: 0, closedAt: undefined, closeReason: undefined, lastAddress: undefined, lastConnectedSince: undefined };
      this.#peers.set(m.peer, h);
    }
    if (m.state === 'open') {
      h.opens++;
      h.closedAt = undefined;
      h.closeReason = undefined;
      h.lastAddress = m.address;
      h.lastConnectedSince = new Date();
    } else {
      h.closedAt = Date.now();
      h.lastAddress = m.address ?? h.lastAddress;
      h.closeReason = truncate(m.reason ?? 'closed', 200);
    }
    // Most recent change last: the map's order is the order peers last changed.
    this.#peers.delete(m.peer);
    this.#peers.set(m.peer, h);
    return true;
  }

  /** The open pipes, then the most recently closed ones. */
  list(): InspectedPipe[] {
    const open = this.#livePipes();
    const openNames = new Set<string>();
    const out: InspectedPipe[] = [];
    for (const p of open) {
      openNames.add(p.name);
      const h = this.#peers.get(p.name);
      out.push({
        name: p.name,
        address: p.address,
        state: 'open',
        connectedSince: p.connectedSince.toISOString(),
        closedAt: null,
        closeReason: null,
        reconnects: Math.max(0, (h?.opens ?? 1) - 1),
        rttMs: p.rttMs ?? null,
        bytes: p.bytes,
        inFlight: p.inFlight,
      });
    }
    const closed: InspectedPipe[] = [];
    for (const [name, h] of this.#peers) {
      if (openNames.has(name) || h.closedAt === undefined) continue;
      closed.push({
        name,
        address: h.lastAddress ?? null,
        state: 'closed',
        connectedSince: h.lastConnectedSince?.toISOString() ?? null,
        closedAt: new Date(h.closedAt).toISOString(),
        closeReason: h.closeReason ?? null,
        reconnects: Math.max(0, h.opens - 1),
        rttMs: null,
        bytes: null,
        inFlight: null,
      });
    }
    closed.reverse();
    return out.concat(closed.slice(0, MAX_CLOSED));
  }
}
