// `socket.io`: the gateway process. A socket.io server over wss (HTTPS with verified client
// certificates, websocket transport only) that the handler process dials into, and a node:http
// gateway that turns each request into an emit to that handler, answered by acknowledgement.
//   GET /time  → emit('get_time', ack)        → 200 JSON of the ack's object
//   POST /echo → emit('post_echo', body, ack) → 200 the ack's bytes (socket.io binary attachment)
import http from 'node:http';
import https from 'node:https';
import { Server, type Socket } from 'socket.io';
import { parseArgs, required, startChildAgent } from '../lib/child.js';
import { readNodePki } from '../lib/pki.js';

const args = parseArgs();
const pki = readNodePki(required(args, 'pki'));
const EVENT_TIMEOUT_MS = 60_000;

const wss = https.createServer({
  key: pki.server.keyPem,
  cert: pki.server.certPem,
  ca: pki.ca.certPem,
  requestCert: true,
  rejectUnauthorized: true,
  minVersion: 'TLSv1.2',
});
const io = new Server(wss, {
  transports: ['websocket'],
  serveClient: false,
  perMessageDeflate: false,
  // The default (1e6 bytes) refuses a 1 MiB body.
  maxHttpBufferSize: 128 * 1024 * 1024,
});
let handler: Socket | undefined;
io.on('connection', (socket) => {
  handler = socket;
  socket.on('disconnect', () => {
    if (handler === socket) handler = undefined;
  });
});

function fail(res: http.ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ error: { message } });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

const gateway = http.createServer((req, res) => {
  const h = handler;
  if (h === undefined) {
    fail(res, 503, 'no handler connected');
    return;
  }
  if (req.method === 'GET' && req.url === '/time') {
    h.timeout(EVENT_TIMEOUT_MS).emit('get_time', (err: Error | null, reply: unknown) => {
      if (err) return fail(res, 504, err.message);
      const body = JSON.stringify(reply);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
    return;
  }
  if (req.method === 'POST' && req.url === '/echo') {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      chunks.push(c);
      bytes += c.length;
    });
    req.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes);
      const mimetype = req.headers['content-type'] ?? 'application/octet-stream';
      h.timeout(EVENT_TIMEOUT_MS).emit('post_echo', mimetype, body, (err: Error | null, reply: Buffer) => {
        if (err) return fail(res, 504, err.message);
        res.writeHead(200, { 'Content-Type': mimetype, 'Content-Length': reply.length });
        res.end(reply);
      });
    });
    return;
  }
  fail(res, 404, 'not found');
});
gateway.keepAliveTimeout = 120_000;
gateway.headersTimeout = 121_000;

const agent = startChildAgent((msg) => {
  if (msg.type === 'has-handler') return handler !== undefined;
  return undefined;
});
wss.listen(0, '127.0.0.1', () => {
  gateway.listen(0, '127.0.0.1', () => {
    agent.ready({ wssPort: (wss.address() as { port: number }).port, port: (gateway.address() as { port: number }).port });
  });
});
