// An in-process TCP relay on 127.0.0.1 that can misbehave on command (RELIABILITY §5.4):
//
//   pass       forward both ways
//   blackhole  keep every socket open and forward nothing, FIN and close included: a silent
//              partition (frp's half-open relay). New connections are accepted and go nowhere.
//   pause      stop reading both ways (kernel buffers fill; sockets stay open)
//   delay      forward each chunk after `delayMs`, order kept
//   throttle   forward at most `bytesPerSecond` each way, in slices, order kept; the relay reads
//              the next chunk only once the previous one left, so a fast sender meets TCP
//              backpressure (its socket buffers fill) instead of an unbounded relay buffer
//   cut()      close every relayed connection now (FIN); reset() sends RST instead
//
// Kernel keepalive cannot see a blackhole here (the relay's kernel ACKs everything): only the
// application's heartbeats can, which is what the tests want.
import net, { type AddressInfo } from 'node:net';

export type FaultMode = 'pass' | 'blackhole' | 'pause' | 'delay' | 'throttle';

export interface FaultProxy {
  /** The port clients dial instead of the target's. */
  readonly port: number;
  readonly mode: FaultMode;
  /** Relayed connections open now. */
  readonly connections: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Switches mode for existing and new connections. */
  setMode(mode: FaultMode, opts?: { delayMs?: number; bytesPerSecond?: number }): void;
  /** Chunks held in the relay's delay/throttle queues, not yet forwarded. */
  readonly backlog: number;
  /** Bytes forwarded so far, client → server and server → client. */
  readonly forwarded: { up: number; down: number };
  /** Closes every relayed connection (both sides) now. */
  cut(): void;
  /** Resets every relayed connection (RST) now. */
  reset(): void;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

interface Pair {
  down: net.Socket;
  up: net.Socket;
  /** Set when either side ended or closed while black-holed (not forwarded). */
  brokenInBlackhole: boolean;
}

export async function startFaultProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<FaultProxy> {
  let mode: FaultMode = 'pass';
  let delayMs = 0;
  let bytesPerSecond = 0;
  let accepted = 0;
  const forwarded = { up: 0, down: 0 };
  let backlog = 0;
  const pairs = new Set<Pair>();

  const destroyPair = (p: Pair): void => {
    pairs.delete(p);
    p.down.destroy();
    p.up.destroy();
  };

  const relay = (p: Pair, from: net.Socket, to: net.Socket, direction: 'up' | 'down'): void => {
    let chain = Promise.resolve(); // keeps chunks in order under delay and throttle
    let queued = 0; // chunks still in the chain: later ones must not overtake them
    let linkFreeAt = 0; // throttle: when the simulated link has sent everything so far
    const enqueue = (step: () => Promise<void>): void => {
      queued++;
      backlog++;
      chain = chain.then(step).then(() => {
        queued--;
        backlog--;
      });
    };
    from.on('data', (buf: Buffer) => {
      if (mode === 'blackhole') return; // read and discard: both sockets stay open
      if (mode === 'delay') {
        // A latency, not a pacing: each chunk is due `delayMs` after it arrived, whatever
        // waits before it (sleeping delayMs per chunk in turn would make a queue that grows).
        const due = performance.now() + delayMs;
        enqueue(async () => {
          await sleep(due - performance.now());
          if (!to.destroyed) {
            forwarded[direction] += buf.byteLength;
            to.write(buf);
          }
        });
        return;
      }
      if (mode === 'throttle') {
        from.pause();
        const rate = bytesPerSecond;
        enqueue(async () => {
          for (let off = 0; off < buf.byteLength && !to.destroyed; off += THROTTLE_SLICE) {
            const part = buf.subarray(off, off + THROTTLE_SLICE);
            const now = performance.now();
            linkFreeAt = Math.max(now, linkFreeAt) + (part.byteLength / rate) * 1000;
            await sleep(linkFreeAt - now);
            if (to.destroyed) break;
            forwarded[direction] += part.byteLength;
            if (!to.write(part)) await drained(to);
          }
          if (mode !== 'pause' && !from.destroyed) from.resume();
        });
        return;
      }
      if (queued > 0) {
        enqueue(async () => {
          if (!to.destroyed) {
            forwarded[direction] += buf.byteLength;
            to.write(buf);
          }
        });
        return;
      }
      forwarded[direction] += buf.byteLength;
      if (!to.write(buf)) {
        from.pause();
        to.once('drain', () => {
          if (mode !== 'pause') from.resume();
        });
      }
    });
    from.on('end', () => {
      if (mode === 'blackhole') {
        p.brokenInBlackhole = true;
        return;
      }
      void chain.then(() => to.end());
    });
  };

  const server = net.createServer((down) => {
    accepted++;
    const up = net.connect(targetPort, targetHost);
    const p: Pair = { down, up, brokenInBlackhole: false };
    pairs.add(p);
    const onGone = (): void => {
      // A partition hides a closing peer from the other side.
      if (mode === 'blackhole') {
        p.brokenInBlackhole = true;
        return;
      }
      destroyPair(p);
    };
    for (const s of [down, up]) {
      s.on('error', onGone);
      s.on('close', onGone);
    }
    relay(p, down, up, 'up');
    relay(p, up, down, 'down');
    if (mode === 'pause') {
      down.pause();
      up.pause();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    port,
    get mode() {
      return mode;
    },
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    forwarded,
    get backlog() {
      return backlog;
    },
    setMode(next, opts = {}) {
      if (next === 'throttle' && !((opts.bytesPerSecond ?? 0) > 0)) throw new RangeError('throttle needs bytesPerSecond > 0');
      const leavingBlackhole = mode === 'blackhole' && next !== 'blackhole';
      mode = next;
      delayMs = opts.delayMs ?? 0;
      bytesPerSecond = opts.bytesPerSecond ?? 0;
      for (const p of [...pairs]) {
        if (leavingBlackhole && (p.brokenInBlackhole || p.down.destroyed || p.up.destroyed)) {
          // What closed during the partition is gone once it heals.
          destroyPair(p);
          continue;
        }
        for (const s of [p.down, p.up]) {
          if (next === 'pause') s.pause();
          else s.resume();
        }
      }
    },
    cut() {
      for (const p of [...pairs]) destroyPair(p);
    },
    reset() {
      for (const p of [...pairs]) {
        pairs.delete(p);
        p.down.resetAndDestroy();
        p.up.resetAndDestroy();
      }
    },
    close() {
      for (const p of [...pairs]) destroyPair(p);
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Throttled data leaves in slices this big, so the far side sees a steady trickle, not bursts. */
const THROTTLE_SLICE = 16 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}

/** Resolves on 'drain', or when the socket goes away (then no 'drain' will come). */
function drained(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
  });
}
