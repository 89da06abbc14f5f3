// A hand-written hostile pipe peer for the attack tests (issue 8): it holds a valid client
// certificate, speaks the wire protocol through restpipe's own encoder (so wire changes keep it
// honest), and then misbehaves on purpose: it never reads what the server sends, and it floods
// frames as fast as its own socket takes them. Nothing here is used by the library.
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';

import { FrameFlag, FrameType } from '../../src/wire/frame.js';
import { encodeFrame } from '../../src/wire/frame-encoder.js';
import {
  GoAwayCode,
  PROTOCOL_VERSION,
  encodeCancel,
  encodeEventFrame,
  encodeGoAway,
  encodeHello,
} from '../../src/wire/messages.js';

/** What the hostile peer floods with. */
export type FloodKind =
  /** `get nothing` events (~28 bytes each): every one costs the server a reply. */
  | 'events'
  /** CANCELs of ids never sent: they cost the receiver no write at all. */
  | 'free-frames';

/** One connection of a hostile peer. */
export interface HostilePeer {
  readonly socket: tls.TLSSocket;
  /** Bytes the peer has handed to its socket. */
  readonly bytesSent: number;
  /** Frames sent (all kinds). */
  readonly framesSent: number;
  /** Resolves when the server ended the connection (or it broke), with ms since the flood started. */
  readonly closed: Promise<{ afterFloodMs: number }>;
  /** Sends our HELLO (a client's, or a server's from startHostileServer); we never read the other's. */
  hello(name?: string): void;
  /** Writes frames as fast as the socket takes them (the peer's own memory stays bounded). */
  flood(kind: FloodKind): void;
  /** Writes one GOAWAY whose reason is `reason`, as is. */
  goAway(code: GoAwayCode, reason: string): void;
  /** Stops the flood and destroys the socket. */
  destroy(): void;
}

/** Frames per batch handed to the socket in one write. */
const BATCH = 2_000;

/**
 * Connects to a pipe port with the given identity and never reads: the socket is paused before
 * the handshake completes, so the server's hello, replies and heartbeats pile up in the kernel
 * and then in the server's own buffers, as they would for a peer that stopped reading.
 */
export function connectHostilePeer(port: number, identity: { key: string; cert: string; ca: string }): Promise<HostilePeer> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...identity });
    socket.pause();
    const peer = hostilePeer(socket, 'client');
    socket.once('secureConnect', () => {
      socket.removeListener('error', reject);
      resolve(peer);
    });
    socket.once('error', reject);
  });
}

/** A hostile server: it accepts restpipe clients, and hands each one's socket to `onPeer`. */
export interface HostileServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * A pipe server that is hostile the same way (for "the same holds for a client facing a
 * malicious server"): each accepted socket is paused at once and handed over as a HostilePeer
 * whose hello() speaks as a server.
 */
export async function startHostileServer(identity: { key: string; cert: string; ca: string }, onPeer: (peer: HostilePeer) => void): Promise<HostileServer> {
  const sockets = new Set<tls.TLSSocket>();
  const server = tls.createServer({ ...identity, requestCert: true, rejectUnauthorized: true }, (socket) => {
    socket.pause();
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    onPeer(hostilePeer(socket, 'server'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

function hostilePeer(socket: tls.TLSSocket, role: 'client' | 'server'): HostilePeer {
  let bytesSent = 0;
  let framesSent = 0;
  let flooding = false;
  let floodStartedAt = 0;
  let nextId = 1;
  let resolveClosed!: (v: { afterFloodMs: number }) => void;
  const closed = new Promise<{ afterFloodMs: number }>((r) => (resolveClosed = r));
  const onGone = (): void => {
    flooding = false;
    resolveClosed({ afterFloodMs: floodStartedAt === 0 ? 0 : performance.now() - floodStartedAt });
  };
  socket.on('error', onGone);
  socket.on('close', onGone);

  const write = (parts: readonly Uint8Array[]): boolean => {
    const buf = Buffer.concat(parts);
    bytesSent += buf.byteLength;
    return socket.write(buf);
  };
  const batch = (kind: FloodKind): Buffer => {
    const parts: Uint8Array[] = [];
    for (let i = 0; i < BATCH; i++) {
      const id = nextId;
      nextId = nextId === 0xffff_ffff ? 1 : nextId + 1;
      if (kind === 'events') {
        // Whole events (END_STREAM: no body follows), each costing the peer a reply.
        parts.push(...encodeEventFrame(id, { verb: 'get', noun: 'nothing', mimetype: '', data: new Uint8Array(0), timeoutMs: 0, query: '' }, FrameFlag.END_STREAM));
      } else {
        parts.push(...encodeFrame(FrameType.CANCEL, id, encodeCancel('')));
      }
    }
    framesSent += BATCH;
    return Buffer.concat(parts);
  };
  const pump = (kind: FloodKind): void => {
    while (flooding && !socket.destroyed) {
      const buf = batch(kind);
      bytesSent += buf.byteLength;
      if (!socket.write(buf)) {
        socket.once('drain', () => pump(kind));
        return;
      }
    }
  };

  return {
    socket,
    get bytesSent() {
      return bytesSent;
    },
    get framesSent() {
      return framesSent;
    },
    closed,
    hello(name = 'hostile') {
      write(
        encodeFrame(
          FrameType.HELLO,
          0,
          encodeHello({
            protocolVersion: PROTOCOL_VERSION,
            nodeName: name,
            role,
            maxFrameBytes: 1024 * 1024,
            heartbeatIntervalMs: 1_000,
            initialStreamWindow: 256 * 1024,
            maxStreamWindow: 16 * 1024 * 1024,
            pipeWindow: 32 * 1024 * 1024,
            maxInlineInflightBytes: 8 * 1024 * 1024,
          }),
        ),
      );
      framesSent++;
    },
    flood(kind) {
      if (flooding) return;
      flooding = true;
      floodStartedAt = performance.now();
      pump(kind);
    },
    goAway(code, reason) {
      write(encodeFrame(FrameType.GOAWAY, 0, encodeGoAway({ code, reason })));
      framesSent++;
    },
    destroy() {
      flooding = false;
      socket.destroy();
    },
  };
}

export { GoAwayCode };
