// `direct`, and the backend of `http-proxy`: node:http answering by itself.
//   GET /time  → {"time_from_server": <epoch s>} (what restpipe's built-in get_time returns)
//   POST /echo → the request body, whole (read to the end first, as a handler gets it)
//   GET /blob?bytes=N → N bytes (a 64 KiB buffer again and again), streamed with Content-Length
//   POST /sink → reads the body to its end and answers {"bytes": N}
import http from 'node:http';


import { blob } from '../lib/blob.js';
import { parseArgs, startChildAgent } from '../lib/child.js';

const args = parseArgs();
const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/time') {
    const body = JSON.stringify({ time_from_server: Date.now() / 1000 });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
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
      res.writeHead(200, { 'Content-Type': req.headers['content-type'] ?? 'application/octet-stream', 'Content-Length': body.length });
      res.end(body);
    });
    return;
  }
  if (req.method === 'GET' && req.url?.startsWith('/blob?')) {
    const bytes = Number(new URL(req.url, 'http://x').searchParams.get('bytes'));
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes });
    blob(bytes).pipe(res);
    return;
  }
  if (req.method === 'POST' && req.url === '/sink') {
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
    });
    req.on('end', () => {
      const body = JSON.stringify({ bytes });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
      res.end(body);
    });
    return;
  }
  res.writeHead(404, { 'Content-Length': 0 });
  res.end();
});
// Longer than any run, so a keep-alive client (the proxy's agent) never races an idle close.
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
const agent = startChildAgent();
server.listen(Number(args.port ?? 0), '127.0.0.1', () => {
  agent.ready({ port: (server.address() as { port: number }).port });
});
