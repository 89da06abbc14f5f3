// A hand-written hostile pipe peer for the attack tests (issue 8): it holds a valid client
// certificate, speaks the wire protocol through restpipe's own encoder (so wire changes keep it
// honest), and then misbehaves on purpose: it never reads what the server sends, and it floods
// frames as fast as its own socket takes them. Nothing here is used by the library.
import tls from 'node:tls';

import { FrameType } from '../../src/wire/frame.js';
import { encodeFrame } from '../../src/wire/frame-encoder.js';
import {
  EMPTY_PAYLOAD,
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
  /** HEARTBEAT_REPLY frames with made-up ids and CANCELs of unknown ids: they cost the server no write at all. */
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
  /** Sends our HELLO (a client's); we never read the server's. */
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
          parts.push(...encodeEventFrame(id, { verb: 'get', noun: 'nothing', mimetype: '', data: new Uint8Array(0), timeoutMs: 0, query: '' }));
        } else if (i % 2 === 0) {
          parts.push(...encodeFrame(FrameType.HEARTBEAT_REPLY, id, EMPTY_PAYLOAD));
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

    const peer: HostilePeer = {
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
            encodeHello({ protocolVersion: PROTOCOL_VERSION, nodeName: name, role: 'client', maxFrameBytes: 1024 * 1024, heartbeatIntervalMs: 1_000 }),
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
    socket.once('secureConnect', () => {
      socket.removeListener('error', reject);
      resolve(peer);
    });
    socket.once('error', reject);
  });
}

export { GoAwayCode };
