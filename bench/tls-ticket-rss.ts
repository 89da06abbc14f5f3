// `node dist/bench/tls-ticket-rss.js [--connections N]`: what TLS 1.3 session tickets cost a
// Node TLS server per idle connection, without restpipe (issue 14, idle RSS per pipe). A bare
// `tls.Server` (mutual TLS, TLS 1.3) in a child process accepts N connections from this process
// and writes each a few bytes; its VmRSS growth per connection (after a GC) is read with
// tickets on (stateless: each ticket carries the client certificate), with tickets off
// (SSL_OP_NO_TICKET: OpenSSL then sends small stateful tickets that nothing can resume), with
// TLS 1.2 tickets (sent inside the handshake), and with tickets off but the server writing
// 2,500 bytes after the handshake instead of a few. Modes alternate. Not part of `npm run bench`.
import { fork } from 'node:child_process';
import { constants, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createCa, issueCertificate } from '../src/identity/index.js';
import { fmt } from './lib/stats.js';

type Mode = 'tickets on' | 'tickets off' | 'TLS 1.2 tickets' | 'tickets off, 2,500 B written';
const MODES: readonly Mode[] = ['tickets on', 'tickets off', 'TLS 1.2 tickets', 'tickets off, 2,500 B written'];

interface Material {
  server: { key: string; cert: string };
  client: { key: string; cert: string };
  ca: string;
}

function rssKiB(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? NaN);
}

/** The child: one TLS server in the given mode, reporting its RSS when asked. */
function runServer(mode: Mode, m: Material): void {
  const options: tls.TlsOptions = { key: m.server.key, cert: m.server.cert, ca: m.ca, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' };
  if (mode === 'tickets on') Object.assign(options, { ticketKeys: randomBytes(48), sessionTimeout: 86_400 });
  else if (mode === 'TLS 1.2 tickets') Object.assign(options, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ticketKeys: randomBytes(48) });
  else options.secureOptions = constants.SSL_OP_NO_TICKET;
  const sockets: tls.TLSSocket[] = [];
  const payload = mode === 'tickets off, 2,500 B written' ? Buffer.alloc(2_500, 0x78) : Buffer.from('hello');
  const server = tls.createServer(options, (socket) => {
    socket.on('error', () => {});
    sockets.push(socket);
    socket.write(payload);
  });
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port, rssKiB: rssKiB() }));
  process.on('message', () => setTimeout(() => process.send!({ rssKiB: rssKiB(), connections: sockets.length }), 1_000));
}

async function measure(mode: Mode, m: Material, connections: number): Promise<number> {
  const child = fork(fileURLToPath(import.meta.url), ['--child', mode], { execArgv: ['--expose-gc'], env: { ...process.env, TICKET_RSS_PKI: JSON.stringify(m) } });
  try {
    const next = (): Promise<{ port?: number; rssKiB: number; connections?: number }> => new Promise((r) => child.once('message', r as (v: unknown) => void));
    const started = await next();
    const context = tls.createSecureContext({ key: m.client.key, cert: m.client.cert, ca: m.ca });
    const sockets: tls.TLSSocket[] = [];
    for (let i = 0; i < connections; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, connections - i) }, () =>
          new Promise<void>((resolve) => {
            const socket = tls.connect({ host: '127.0.0.1', port: started.port!, servername: 'localhost', secureContext: context });
            socket.on('error', () => {});
            socket.on('data', () => resolve());
            sockets.push(socket);
          }),
        ),
      );
    }
    child.send('rss');
    const after = await next();
    for (const s of sockets) s.destroy();
    if (after.connections !== connections) throw new Error(`the server holds ${after.connections} connections, not ${connections}`);
    return (after.rssKiB - started.rssKiB) / connections;
  } finally {
    child.kill();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    runServer(args[1] as Mode, JSON.parse(process.env['TICKET_RSS_PKI']!) as Material);
    return;
  }
  const at = args.indexOf('--connections');
  const connections = at < 0 ? 1_000 : Number(args[at + 1]);
  const ca = await createCa({ cn: 'ticket-rss-ca' });
  const server = await issueCertificate({ ca, name: 'server' });
  const client = await issueCertificate({ ca, name: 'client1' });
  const m: Material = { server: { key: server.keyPem, cert: server.certPem }, client: { key: client.keyPem, cert: client.certPem }, ca: ca.certPem };
  const results = new Map<Mode, number[]>();
  for (let round = 0; round < 2; round++) {
    for (const mode of round % 2 === 0 ? MODES : [...MODES].reverse()) {
      const kib = await measure(mode, m, connections);
      (results.get(mode) ?? results.set(mode, []).get(mode)!).push(kib);
      process.stderr.write(`round ${round + 1}: ${mode}: ${fmt(kib, 1)} KiB/connection\n`);
    }
  }
  process.stdout.write(`\nbare Node TLS server, ${connections} idle mutual-TLS connections, VmRSS growth per connection after GC (KiB), 2 rounds:\n`);
  process.stdout.write('| server | KiB/connection |\n|:--|--:|\n');
  for (const mode of MODES) process.stdout.write(`| ${mode} | ${(results.get(mode) ?? []).map((x) => fmt(x, 1)).join(', ')} |\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
