import type { CertificateExpiry } from '../sender.js';
import type { EventEmitter } from 'node:events';
import type { EventRequest, Reply, SendOptions } from '../event.js';
import type { ClientState, EventSender, PipeInfo } from '../sender.js';
import type { GoAwayCode } from '../wire/messages.js';
import type { ClientTlsMaterial } from './connector.js';

/** A client node's public face: what `createClient` returns (pipe-client.ts implements it). */

/** One status change of a client, as `status()` yields them. */
export interface ClientStatus {
  state: ClientState;
  /** Consecutive failed dials so far. */
  attempt: number;
  /** Why the last dial or pipe failed, when the state follows a failure. */
  reason?: string;
  /** In backoff: how long until the next dial. */
  delayMs?: number;
}

/** Listener signatures of a client's events; the names are SPEC §5's hooks. */
export interface PipeClientEvents {
  /** A pipe is up. `retryAttempts` failed dials came before it; `lastDisconnected` is when the previous pipe ended (null at first). */
  connect_success: [retryAttempts: number, lastDisconnected: Date | null];
  /** A dial or hello failed; the client will retry. */
  connect_fail: [retryAttempts: number, lastDisconnected: Date | null];
  /** Every state change. */
  status: [status: ClientStatus];
}

/**
 * A client node's pipe end, as `createClient` returns it: dials the server and keeps one pipe
 * up (reconnecting forever), sends events to the server, answers the server's with its
 * handlers. Its events are SPEC §5's hooks (`connect_success`, `connect_fail`) and `status`.
 */
export interface RestpipeClient extends EventEmitter<PipeClientEvents> {
  /** This node's name: its certificate's CN. */
  readonly name: string;
  /** The server it dials. */
  readonly host: string;
  readonly port: number;
  readonly state: ClientState;
  /** When the current pipe opened; null without one. */
  readonly connectedSince: Date | null;
  /** Its own certificate, its CA's, and the server's while a pipe is open, with their expiry. */
  certificates(): CertificateExpiry[];
  /** Consecutive failed dials. */
  readonly attempt: number;
  /** Successful connections so far (the first one included). */
  readonly connects: number;
  /** Senders waiting (connect-wait) for a pipe. */
  readonly waitingSenders: number;
  /** Why the last dial or pipe failed. */
  readonly lastFailure: string | undefined;
  /** The client as a gateway sees it. */
  readonly sender: EventSender;
  /** Starts dialing (once); returns at once. @throws RestpipeError closed */
  start(): this;
  /** Status changes as an async iterator; ends when `signal` aborts. */
  status(signal?: AbortSignal): AsyncGenerator<ClientStatus>;
  /** Waits until a pipe is open, up to `timeoutMs` (@default connectWaitMs). @throws RestpipeError no_connection, closed or aborted */
  waitReady(timeoutMs?: number, signal?: AbortSignal): Promise<void>;
  /**
   * Sends an event to the server; resolves with its reply, whatever its code. Rejects with a
   * RestpipeError: bad_request, no_connection, pipe_broken, event_timeout, aborted,
   * too_many_in_flight, body_too_large, closed. Never re-sends.
   */
  send(event: EventRequest, options?: SendOptions): Promise<Reply>;
  /** The open pipe, when there is one: a snapshot. */
  pipe(): PipeInfo | undefined;
  /** Closes the current pipe now (the client reconnects); false without one. */
  disconnect(reason: string, code?: GoAwayCode): boolean;
  /** Uses renewed TLS material from the next dial; the open pipe is closed within `graceMs`. @throws RestpipeError invalid_option for another CN */
  updateTls(material: ClientTlsMaterial, options?: { graceMs?: number }): void;
  /** Stops reconnecting, drains in-flight events within `graceMs` (@default 10000), closes. */
  close(options?: { graceMs?: number }): Promise<void>;
}
