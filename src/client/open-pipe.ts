import { ErrorCode, type RestpipeError } from '../errors.js';
import type { EventHandlerFn, PeerInfo } from '../event.js';
import type { Logger } from '../log.js';
import { PipeSession } from '../pipe/session.js';
import { GoAwayCode } from '../wire/messages.js';
import type { ClientTlsMaterial, Connector, DialedPipe } from './connector.js';
import type { ResolvedClientOptions } from './client-options.js';
import { sessionListener, type ClientSessions } from './session-cache.js';

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
  /** The client's TLS sessions (issue 14), and this server's key among them. */
  sessions: ClientSessions;
  sessionKey: string;
  /** The TCP and TLS connection is up; the hello starts (a session close() can end). */
  onHandshaking(session: PipeSession): void;
  /** The server said it is closing an open pipe. */
  onPeerGoAway(session: PipeSession, reason: string): void;
}

/** An attempt's outcome: an open pipe, or why there is none. */
export type OpenPipeResult =
  | {
      ok: true;
      session: PipeSession;
      serverName: string;
      dialed: DialedPipe;
      resumed: boolean;
      /** The server certificate's notAfter and fingerprint (also for a resumed session): the client ends the pipe at its expiry. */
      serverCertificate: { serverValidTo?: string | undefined; serverFingerprint256?: string | undefined };
    }
  | {
      ok: false;
      reason: string;
      /**
       * A resumed TLS session was refused for its certificate (by the server, or by our re-check
       * of the server's) and dropped: dial again at once with a full handshake, which is judged
       * on its own merits (it offers no session, so this cannot loop).
       */
      retryNow?: true;
    };

/**
 * One attempt to open the pipe (SPEC §6): dial (TCP connect and TLS, each within its timeout),
 * then the hello both ways. A client counts as connected only once the server's hello has
 * arrived: under TLS 1.3 a refused client certificate shows up only after the handshake seemed
 * done, as the server closing the connection before its hello, and that is said in the reason.
 */
export async function openPipe(ctx: OpenPipeContext): Promise<OpenPipeResult> {
  const { options, sessions } = ctx;
  const tls = ctx.tls;
  const offered = sessions.offer(ctx.sessionKey, tls.ca);
  const onSession = sessions.enabled ? sessionListener() : undefined;
  let dialed: DialedPipe;
  try {
    dialed = await ctx.connector({
      host: options.host,
      port: options.port,
      ...(options.servername === undefined ? {} : { servername: options.servername }),
      tls,
      tlsMinVersion: options.tlsMinVersion,
      connectTimeoutMs: options.connectTimeoutMs,
      handshakeTimeoutMs: options.handshakeTimeoutMs,
      keepAliveMs: options.timing.heartbeatIntervalMs,
      signal: ctx.signal,
      ...(offered === undefined ? {} : { session: offered }),
      ...(onSession === undefined ? {} : { onSession }),
    });
  } catch (err) {
    return { ok: false, reason: (err as Error).message ?? String(err) };
  }
  if (ctx.signal.aborted) {
    dialed.socket.destroy();
    return { ok: false, reason: 'client closed' };
  }

  // Issue 14: a resumed session restores the server certificate of an earlier handshake, which
  // OpenSSL does not check again; it must still pass now.
  const dial = sessions.dialed(ctx.sessionKey, dialed, tls.ca, onSession);
  if (dial.refusal !== undefined) {
    dialed.socket.destroy();
    dial.failed(true);
    return { ok: false, reason: `the server certificate restored from the resumed TLS session is refused now (${dial.refusal})`, retryNow: true };
  }

  const { socket } = dialed;
  const serverName = dial.serverCn || options.host;
  const session: PipeSession = new PipeSession(socket, {
    role: 'client',
    localName: ctx.localName,
    peer: { name: serverName, address: socket.remoteAddress ?? options.host },
    timing: options.timing,
    handler: ctx.handler,
    logger: ctx.logger,
    logFields: serverLogFields,
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
    // Only a server that said it refused our certificate gets a full handshake at once.
    return { ok: false, reason, ...(dial.failed(session.peerGoAwayCode === GoAwayCode.UNAUTHORIZED) ? { retryNow: true as const } : {}) };
  }
  dial.pipeUp();
  return { ok: true, session, serverName, dialed, resumed: dial.resumed, serverCertificate: { serverValidTo: dial.serverValidTo, serverFingerprint256: dial.serverFingerprint256 } };
}

/** The server pipe's log fields (SessionOptions.logFields). */
function serverLogFields(peer: PeerInfo): Record<string, string> {
  return { peer: peer.name };
}
