// The ceiling for streams through a gateway: a bare relay, node:http in front of one mutual-TLS
// socket to another Node process, the shape of restpipe's stream path (HTTP caller → gateway →
// TLS → far process) with nothing of restpipe in it: no framing, no windows, no events, one TLS
// connection per request. Its MiB/s is what any Node gateway of that shape reaches on this
// machine with the same HTTP client; restpipe's stream figures are read against it as well as
// against the floor (tls-floor.ts), which has no HTTP hop at all.
//   --role end --pki FILE                  TLS server; ready with { port }. A connection starts
//       with one line: `down N` (it writes N bytes, a 64 KiB buffer again and again, then ends) or
//       `up N` (it reads N bytes, then answers `ok` and ends).
//   --role relay --pki FILE --port N       node:http on 127.0.0.1:0; ready with { port }.
//       GET /blob?bytes=N streams `down N` from the end; POST /sink streams the body as `up N`.
//       The callers' sockets have the gateway's high-water mark (coalesce.ts).
import http from 'node:http';
import tls from 'node:tls';
import { pipeline } from 'node:stream';
import { STREAMED_SOCKET_HIGH_WATER_BYTES } from '../../src/stream/coalesce.js';
import { blob } from '../lib/blob.js';
import { parseArgs, required, startChildAgent } from '../lib/child.js';
import { readPki } from '../lib/pki.js';

const args = parseArgs();
const pki = readPki(required(args, 'pki'));
const agent = startChildAgent(() => undefined);

function endServer(): void {
  const server = tls.createServer({ key: pki.server.keyPem, cert: pki.server.certPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: true }, (s) => {
    s.setNoDelay(true);
    s.on('error', () => s.destroy());
    let head = '';
    const onHead = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const nl = head.indexOf('\n');
      if (nl < 0) return;
      s.off('data', onHead);
      const [kind, n] = head.slice(0, nl).split(' ');
      const bytes = Number(n);
      const rest = Buffer.from(head.slice(nl + 1), 'latin1');
      if (kind === 'down') {
        pipeline(blob(bytes), s, () => {});
        return;
      }
      let got = rest.length;
      const done = (): void => {
        s.end('ok\n');
      };
      if (got >= bytes) done();
      else
        s.on('data', (c: Buffer) => {
          got += c.length;
          if (got >= bytes) done();
        });
    };
    s.on('data', onHead);
  });
  server.listen(0, '127.0.0.1', () => agent.ready({ port: (server.address() as { port: number }).port }));
}

function relayServer(endPort: number): void {
  const dial = (line: string, ready: (s: tls.TLSSocket) => void, fail: (err: Error) => void): void => {
    const s = tls.connect({ host: '127.0.0.1', port: endPort, servername: 'localhost', key: pki.client.keyPem, cert: pki.client.certPem, ca: pki.ca.certPem }, () => {
      s.setNoDelay(true);
      s.write(line);
      ready(s);
    });
    s.on('error', fail);
  };
  const server = http.createServer({ highWaterMark: STREAMED_SOCKET_HIGH_WATER_BYTES }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://relay');
    const fail = (err: Error): void => {
      if (!res.headersSent) res.writeHead(502).end(err.message);
      else res.destroy(err);
    };
    if (req.method === 'GET' && url.pathname === '/blob') {
      const bytes = Number(url.searchParams.get('bytes') ?? 0);
      dial(`down ${bytes}\n`, (s) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes) });
        pipeline(s, res, () => {}); // on an error pipeline destroys both; the caller sees a cut reply
      }, fail);
      return;
    }
    if (req.method === 'POST' && url.pathname === '/sink') {
      const bytes = Number(req.headers['content-length'] ?? 0);
      dial(`up ${bytes}\n`, (s) => {
        let answer = '';
        s.on('data', (c: Buffer) => {
          answer += c.toString();
        });
        s.on('end', () => {
          if (answer.startsWith('ok')) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes }));
          else fail(new Error(`the end answered ${JSON.stringify(answer.slice(0, 40))}`));
        });
        req.pipe(s, { end: false });
      }, fail);
      return;
    }
    res.writeHead(404).end();
  });
  server.listen(0, '127.0.0.1', () => agent.ready({ port: (server.address() as { port: number }).port }));
}

if (required(args, 'role') === 'end') endServer();
else relayServer(Number(required(args, 'port')));
