import { ErrorCode, type RestpipeError } from '../errors.js';
import type { EventHandlerFn } from '../event.js';
import type { Logger } from '../log.js';
import { PipeSession } from '../pipe/session.js';
import type { ClientTlsMaterial, Connector, DialedPipe } from './connector.js';
import type { ResolvedClientOptions } from './client-options.js';

/** What one attempt needs: the client's options, its identity and handler, and hooks for its phases. */
export interface OpenPipeContext {
  options: ResolvedClientOptions;
  tls: ClientTlsMaterial;
  /** This node's name (its CN). */
  localName: string;
  handler: EventHandlerFn;
  logger: Logger;
  connector: Connector;
  /** Cancels the dial (the client is closing). */
  signal: AbortSignal;
  /** The TCP and TLS connection is up; the hello starts (a session close() can end). */
  onHandshaking(session: PipeSession): void;
  /** The server said it is closing an open pipe. */
  onPeerGoAway(session: PipeSession, reason: string): void;
}

/** An attempt's outcome: an open pipe, or why there is none. */
export type OpenPipeResult =
  | { ok: true; session: PipeSession; serverName: string; dialed: DialedPipe }
  | { ok: false; reason: string };

/**
 * One attempt to open the pipe (SPEC §6): dial (TCP connect and TLS, each within its timeout),
 * then the hello both ways. A client counts as connected only once the server's hello has
 * arrived: under TLS 1.3 a refused client certificate shows up only after the handshake seemed
 * done, as the server closing the connection before its hello, and that is said in the reason.
 */
export async function openPipe(ctx: OpenPipeContext): Promise<OpenPipeResult> {
  const { options } = ctx;
  let dialed: DialedPipe;
  try {
    dialed = await ctx.connector({
      host: options.host,
      port: options.port,
      ...(options.servername === undefined ? {} : { servername: options.servername }),
      tls: ctx.tls,
      tlsMinVersion: options.tlsMinVersion,
      connectTimeoutMs: options.connectTimeoutMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      keepAliveMs: options.timing.heartbeatIntervalMs,
      signal: ctx.signal,
    });
  } catch (err) {
    return { ok: false, reason: (err as Error).message ?? String(err) };
  }
  if (ctx.signal.aborted) {
    dialed.socket.destroy();
    return { ok: false, reason: 'client closed' };
  }

  const { socket } = dialed;
  const serverName = dialed.serverCn || options.host;
  const session: PipeSession = new PipeSession(socket, {
    role: 'client',
    localName: ctx.localName,
    peer: { name: serverName, address: socket.remoteAddress ?? options.host },
    timing: options.timing,
    handler: ctx.handler,
    logger: ctx.logger.child({ peer: serverName }),
    onPeerGoAway: (reason) => ctx.onPeerGoAway(session, reason),
  });
  ctx.onHandshaking(session);
  try {
    await session.handshake();
  } catch (err) {
    const e = err as RestpipeError;
    const reason =
      e.code === ErrorCode.PIPE_BROKEN
        ? `the server closed the connection before its hello: our certificate was probably refused (see the server's log) [${e.message}]`
        : e.message;
    return { ok: false, reason };
  }
  return { ok: true, session, serverName, dialed };
}
