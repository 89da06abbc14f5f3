// The floor for streams: a plain TLS socket copying bytes between two Node processes on
// loopback, with the same certificates and verification as a restpipe pipe (mutual TLS,
// TLS 1.3), and nothing else: no framing, no flow control, no HTTP. What restpipe's stream
// throughput is judged against (issue 11: ≥ 0.5× of it).
//   --role server --pki FILE       listens on 127.0.0.1:0; ready with { port }
//   --role client --pki FILE --port N
// Messages (either side): { type: 'send', bytes } writes that many bytes (a 64 KiB buffer again
// and again, waiting for 'drain'), answering once all were handed to the socket;
// { type: 'expect', bytes } answers { lastAt } (wall-clock ms) once that many have arrived.
import tls from 'node:tls';
import { parseArgs, required, startChildAgent } from '../lib/child.js';
import { readPki } from '../lib/pki.js';

const args = parseArgs();
const pki = readPki(required(args, 'pki'));
const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

let socket: tls.TLSSocket | undefined;
let received = 0;
let expected: { bytes: number; resolve: (v: { lastAt: number }) => void } | undefined;

function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

function attach(s: tls.TLSSocket): void {
  socket = s;
  s.setNoDelay(true);
  s.on('data', (chunk: Buffer) => {
    received += chunk.length;
    if (expected !== undefined && received >= expected.bytes) {
      const e = expected;
      expected = undefined;
      received -= e.bytes;
      e.resolve({ lastAt: wallNow() });
    }
  });
  s.on('error', (err) => process.stderr.write(`tls-floor socket error: ${err.message}\n`));
}

function send(bytes: number): Promise<{ startedAt: number }> {
  const s = socket;
  if (s === undefined) return Promise.reject(new Error('no connection'));
  const startedAt = wallNow();
  return new Promise((resolve, reject) => {
    let left = bytes;
    const pump = (): void => {
      while (left > 0) {
        const n = Math.min(left, CHUNK.length);
        left -= n;
        if (!s.write(n === CHUNK.length ? CHUNK : CHUNK.subarray(0, n))) {
          s.once('drain', pump);
          return;
        }
      }
      resolve({ startedAt });
    };
    s.once('error', reject);
    pump();
  });
}

const agent = startChildAgent((msg) => {
  if (msg.type === 'send') return send(Number(msg.bytes));
  if (msg.type === 'expect') {
    const bytes = Number(msg.bytes);
    return new Promise((resolve) => {
      if (received >= bytes) {
        received -= bytes;
        resolve({ lastAt: wallNow() });
      } else expected = { bytes, resolve };
    });
  }
  throw new Error(`unknown message ${msg.type}`);
});

if (required(args, 'role') === 'server') {
  const server = tls.createServer(
    { key: pki.server.keyPem, cert: pki.server.certPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: true },
    (s) => {
      attach(s);
      agent.send({ type: 'connected' });
    },
  );
  server.listen(0, '127.0.0.1', () => agent.ready({ port: (server.address() as { port: number }).port }));
} else {
  const s = tls.connect({ host: '127.0.0.1', port: Number(required(args, 'port')), servername: 'localhost', key: pki.client.keyPem, cert: pki.client.certPem, ca: pki.ca.certPem }, () => {
    attach(s);
    agent.ready();
  });
}
