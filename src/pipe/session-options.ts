import type { EventHandlerFn, PeerInfo } from '../event.js';
import type { Logger } from '../log.js';
import type { ResolvedPipeTiming } from '../options/pipe.js';

/** What a pipe session is given, and the states and close it reports (session.ts). */

/** hello → open → draining → closed (or hello → closed); a session never goes back. */
export type SessionState = 'hello' | 'open' | 'draining' | 'closed';

/** The moves a session may make (see StateMachine). */
export const SESSION_MOVES = {
  hello: ['open', 'closed'],
  open: ['draining', 'closed'],
  draining: ['closed'],
  closed: [],
} as const satisfies Record<SessionState, readonly SessionState[]>;

/** Why a pipe closed, for logs, status and the errors of the events it took down. */
export interface CloseInfo {
  /** A short reason, e.g. "heartbeat timeout: no data for 10.2 s". */
  reason: string;
  /** True when the close was asked for (close(), goaway exchange), false when the pipe broke. */
  graceful: boolean;
  /** When the pipe's session ended. */
  at: Date;
}

export interface SessionOptions {
  role: 'server' | 'client';
  /** This node's name, sent in the hello. */
  localName: string;
  /** The peer as far as TLS tells (CN and address); the hello adds nothing to it. */
  peer: PeerInfo;
  timing: ResolvedPipeTiming;
  /** Handles inbound events (the dispatcher). */
  handler: EventHandlerFn;
  logger: Logger;
  /**
   * The fields this pipe's log lines carry (the peer's name, its address), as a child of
   * `logger` made on first use: most pipes never log a line, and a child logger per pipe was
   * ~300 B of each idle pipe (issue 14). Without it, lines go to `logger` as it is.
   */
  logFields?: (peer: PeerInfo) => Record<string, string>;
  /** Called once when the session has closed, after its in-flight events failed. */
  onClose?: (info: CloseInfo) => void;
  /** Called once when the peer announced it is going away: send no new events on this pipe. */
  onPeerGoAway?: (reason: string) => void;
  /**
   * Writes a log line about this peer that the peer can cause at will (its goaway, its protocol
   * error) through a rate limit (the server's: per CN and kind). Without it, lines are written.
   */
  limitPeerLog?: (kind: string, write: (extra: { suppressed?: number }) => void) => void;
  /** The clock of the session's state (when it opened, when it closed). @default Date.now */
  now?: () => number;
}
