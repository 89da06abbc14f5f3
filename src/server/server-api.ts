import type { EventEmitter } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { EventRequest, Reply, SendOptions } from '../event.js';
import type { EventSender, PipeInfo, ServerState, CertificateExpiry } from '../sender.js';
import type { GoAwayCode } from '../wire/messages.js';
import type { RefusedEvent } from './refusals.js';
import type { ServerTlsMaterial } from './server-options.js';

/** A server node's public face: what `createServer` returns (pipe-server.ts implements it). */

/** A connected client, as status and the gateway see it. */
export type ConnectedClient = PipeInfo;

/** Listener signatures of a server's events; the names are SPEC §5's hooks. */
export interface PipeServerEvents {
  connection_added: [name: string, count: number];
  connection_removed: [name: string, count: number];
  /** While no client is connected, once per idle interval. */
  idle: [waitingSince: Date, durationS: number];
  /**
   * A client was refused (bad certificate, TLS failure, protocol error before hello), or its open
   * pipe was closed because its certificate became invalid (CERT_REVOKED by a reloaded CRL,
   * CERT_HAS_EXPIRED). `resumed`: the certificate came from a resumed TLS session and failed
   * restpipe's re-check of it (issue 14).
   */
  refused: [refusal: RefusedEvent];
}

/**
 * The server node's pipe end, as `createServer` returns it: accepts clients' pipes, sends them
 * events by name, answers theirs with its handlers. Its events are SPEC §5's hooks
 * (`connection_added`, `connection_removed`, `idle`) and `refused`.
 */
export interface RestpipeServer extends EventEmitter<PipeServerEvents> {
  /** This node's name: its certificate's CN. */
  readonly name: string;
  readonly state: ServerState;
  /** Where it listens, once listening. */
  readonly address: AddressInfo | undefined;
  /** True while accepting pipes. */
  readonly listening: boolean;
  /** Connected clients (hello exchanged). */
  readonly clientCount: number;
  /** Senders waiting (connect-wait) for a client. */
  readonly waitingSenders: number;
  /** The server as a gateway sees it. */
  readonly sender: EventSender;
  /** Starts accepting pipes; resolves with the bound address (port 0 picks one). @default 0.0.0.0:1234 */
  listen(address?: { host?: string; port?: number }): Promise<AddressInfo>;
  /**
   * Sends an event to the client with this CN, waiting up to connect-wait for it; resolves
   * with its reply, whatever its code. Rejects with a RestpipeError: bad_request,
   * no_connection, pipe_broken, event_timeout, aborted, too_many_in_flight, body_too_large,
   * closed. Never re-sends.
   */
  send(clientName: string, event: EventRequest, options?: SendOptions): Promise<Reply>;
  /** Whether a client with this CN is connected. */
  hasClient(name: string): boolean;
  /** The connected clients. */
  clients(): ConnectedClient[];
  /** The client with that CN, if connected. */
  client(name: string): ConnectedClient | undefined;
  /** Connected clients whose address is `address`. */
  clientsAt(address: string): ConnectedClient[];
  /** Its own, its CA's and each connected client's certificate, with their expiry. */
  certificates(): CertificateExpiry[];
  /** With a CRL: its nextUpdate (null when it has none); undefined without a CRL or before it is read. */
  readonly crlNextUpdate: Date | null | undefined;
  /** Replaces TLS material (a CRL: live pipes it revokes are closed); resolves with the names dropped. */
  updateTls(material: Partial<ServerTlsMaterial>): Promise<string[]>;
  /**
   * Reads the TLS ticket key file again (`ticketKeyFile`, SIGHUP): a replaced secret ends every
   * session made with the old one. Returns whether the key changed; false without a file.
   * @throws RestpipeError `invalid_option` when the file cannot be used (the current key stays).
   */
  reloadTicketKeys(): boolean;
  /** Closes one client's pipe now, telling it `code` (@default SHUTDOWN); false when not connected. */
  disconnect(name: string, reason: string, code?: GoAwayCode): boolean;
  /** Stops accepting, drains in-flight events within `graceMs` (@default 10000), closes. */
  close(options?: { graceMs?: number }): Promise<void>;
}
