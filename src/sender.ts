import type { ParsedEvent, Reply } from './event.js';

/**
 * What the gateway, the metrics and the CLI need of a node, and nothing else: send an event,
 * say whether the node is ready, describe it. A client node (the target is its server), a
 * server node (the target is a client's name, CN, address or host name) and, later, a cluster
 * of servers each implement it; the gateway never sees a pipe, a session or the wire.
 */

/** idle → connecting → handshaking → ready → backoff → connecting … → closed. */
export type ClientState = 'idle' | 'connecting' | 'handshaking' | 'ready' | 'backoff' | 'closed';

/** A server: not listening yet → listening → closing → closed. */
export type ServerState = 'not_listening' | 'listening' | 'closing' | 'closed';

/** Events in flight on a pipe: sent and waiting for their reply, and being handled here. */
export interface InFlight {
  outbound: number;
  inbound: number;
}

/** An open pipe, as its owner describes it: a snapshot to read, nothing to call. */
export interface PipeInfo {
  /** The peer's name: a client's CN on the server, the server's CN on a client. */
  name: string;
  /** The peer's IP address. */
  address: string;
  /** When the pipe opened (the hello arrived). */
  connectedSince: Date;
  inFlight: InFlight;
  /** Round trip of the last heartbeat; undefined before the first answer. */
  rttMs: number | undefined;
  /** Bytes waiting to go out on the pipe: in the socket, and event frames queued behind it. */
  queuedBytes: { socket: number; events: number };
  /** Replies that arrived after their event had timed out or been cancelled. */
  lateReplies: number;
  /** Whether new events may be sent on it (open, and the peer has not said goaway). */
  usable: boolean;
  /** Bytes written to and read from its socket since it connected (TLS records included). */
  bytes: { sent: number; received: number };
}

/** A certificate a node depends on, with its expiry: `GET /status` and the expiry gauge show each. */
export interface CertificateExpiry {
  /** `ca` for the CA certificate, else the role of the node that holds it (this node, or a peer). */
  role: 'server' | 'client' | 'ca';
  /** Its CN. */
  name: string;
  notAfter: Date;
}

/** A client node as `GET /status` shows it. */
export interface ClientNodeStatus {
  role: 'client';
  /** This node's name (its certificate CN). */
  name: string;
  state: ClientState;
  /** The server it dials, `HOST:PORT`. */
  server: string;
  /** The server's CN and address while a pipe is open. */
  serverName: string | null;
  serverAddress: string | null;
  connectedSince: Date | null;
  /** Consecutive failed dials. */
  failedAttempts: number;
  lastFailure: string | null;
  inFlight: InFlight;
  /** Round trip of the last heartbeat. */
  rttMs: number | null;
  /** Its own certificate, its CA's, and the server's while a pipe is open. */
  certificates: CertificateExpiry[];
}

/** A connected client as the server's `GET /status` lists it. */
export interface ConnectedClientStatus {
  name: string;
  address: string;
  connectedSince: Date;
  inFlight: InFlight;
  rttMs: number | null;
}

/** The server node as `GET /status` shows it. */
export interface ServerNodeStatus {
  role: 'server';
  name: string;
  state: ServerState;
  listen: { host: string; port: number } | null;
  clientCount: number;
  clients: ConnectedClientStatus[];
  /** Its own certificate, its CA's, and each connected client's. */
  certificates: CertificateExpiry[];
  /** With a CRL (`--crl`): when its issuer promises the next one (past it, every client is refused). */
  crl: { nextUpdate: Date | null } | null;
}

/** A forward of the node (`--forward PREFIX=URL`) as `GET /status` lists it. */
export interface ForwardStatus {
  prefix: string;
  url: string;
}

/**
 * Either role's status; `role` tells which. A node (startNode, the CLI) adds its forwards,
 * longest prefix first (the order they are matched in); a bare server or client has none to list.
 */
export type NodeStatus = (ClientNodeStatus | ServerNodeStatus) & { forwards?: ForwardStatus[] };

/** How the gateway sends one event: the caller's signal and its reply deadline (already checked). */
export interface SenderOptions {
  signal: AbortSignal;
  timeoutMs: number;
  /** Resolve at the reply's head, its body (when not inline) in `Reply.body` as a stream. @default false */
  stream?: boolean;
}

/** See the module's description. */
export interface EventSender {
  /** Which role's routes the gateway serves: `/server/NOUN` (client) or `/client/NAME/NOUN` (server). */
  readonly role: 'server' | 'client';
  /**
   * Sends a parsed event and resolves with the far side's reply (any code). `target` is
   * undefined on a client node and the NAME of `/client/NAME/…` on a server node, which the
   * sender resolves (CN, IP address, host name). Waits up to connect-wait for a missing pipe.
   * Rejects with a RestpipeError whose code the gateway maps to a status.
   */
  send(target: string | undefined, event: ParsedEvent, options: SenderOptions): Promise<Reply>;
  /** Whether the node is ready: a client has its pipe, a server is listening. */
  isReady(): boolean;
  /** The node's state for `GET /status`. */
  status(): NodeStatus;
}
