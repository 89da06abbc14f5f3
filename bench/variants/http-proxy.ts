// `http-proxy`: a keep-alive HTTP reverse proxy (node:http server + a keep-alive http.Agent),
// streaming both bodies through, to a second node:http process (bench/variants/http-server).
import http from 'node:http';
import { parseArgs, required, startChildAgent } from '../lib/child.js';

const args = parseArgs();
const targetPort = Number(required(args, 'target-port'));
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024, keepAliveMsecs: 1_000 });
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

function forwardHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const out: http.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

const server = http.createServer((req, res) => {
  const upstream = http.request(
    { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: forwardHeaders(req.headers), agent },
    (up) => {
      res.writeHead(up.statusCode ?? 502, forwardHeaders(up.headers));
      up.pipe(res);
    },
  );
  upstream.on('error', (err) => {
    if (!res.headersSent) {
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.end(err.message);
    } else res.destroy();
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 121_000;
const child = startChildAgent();
server.listen(0, '127.0.0.1', () => child.ready({ port: (server.address() as { port: number }).port }));
