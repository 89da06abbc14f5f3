// `node dist/bench/tls-ticket-rss.js [--connections N] [--rounds R] [--only SUBSTRING] [--records]`:
// what TLS 1.3 session tickets cost a bare Node TLS server per idle connection, without restpipe
// (issue 14, idle RSS per pipe). A bare `tls.Server` (mutual TLS, TLS 1.3) in a child process
// accepts N connections from this process and writes each a few bytes; its VmRSS growth per
// connection (after a GC) is read in each mode below. Modes alternate between rounds.
// `--records` instead prints, per mode, the sizes of the TLS records the server sends one
// connection (through a counting TCP relay): the handshake flight, then what follows it.
// Not part of `npm run bench`.
//
// Why these modes: Node's TLS layer (src/crypto/crypto_bio.cc, NodeBIO) queues outgoing TLS
// bytes in a ring of buffers; the first is as large as the first flight (the server's handshake,
// ~1.3 KB here), and a later write that does not fit adds a 16 KiB buffer that the ring keeps for
// the connection's life. The modes test that, and what could keep the tickets inside the first one.
import { fork } from 'node:child_process';
import { constants, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { createCa, issueCertificate } from '../src/identity/index.js';
import { fmt } from './lib/stats.js';

/** One way to run the server (and its clients). */
interface Mode {
  name: string;
  /** TLS 1.3 stateless tickets (the default); 'off' is SSL_OP_NO_TICKET; '1.2' is TLS 1.2 with tickets. */
  tickets: 'on' | 'off' | '1.2';
  /** Bytes the server writes once the handshake is done. @default 5 */
  write?: number;
  /** The server runs with packaging/systemd/restpipe-openssl.cnf (NumTickets = 1). */
  oneTicket?: boolean;
  /** The server's `cert` is its certificate followed by the CA's. */
  caInChain?: boolean;
  /** The clients resume one session got beforehand. */
  resumed?: boolean;
}

const MODES: readonly Mode[] = [
  { name: 'tickets on (OpenSSL default: 2 after a full handshake)', tickets: 'on' },
  { name: 'tickets on, NumTickets = 1 (restpipe-openssl.cnf)', tickets: 'on', oneTicket: true },
  { name: 'tickets on, CA certificate appended to the server cert', tickets: 'on', caInChain: true },
  { name: 'tickets on, every connection resumed', tickets: 'on', resumed: true },
  { name: 'tickets off (SSL_OP_NO_TICKET)', tickets: 'off' },
  { name: 'TLS 1.2 tickets', tickets: '1.2' },
  { name: 'tickets off, 1,000 B written', tickets: 'off', write: 1_000 },
  { name: 'tickets off, 1,500 B written', tickets: 'off', write: 1_500 },
  { name: 'tickets off, 2,500 B written', tickets: 'off', write: 2_500 },
  { name: 'NumTickets = 1, 2,500 B written', tickets: 'on', oneTicket: true, write: 2_500 },
];

/** The OpenSSL config restpipe's server unit uses (NumTickets = 1); this file runs from dist/bench/. */
const ONE_TICKET_CONF = fileURLToPath(new URL('../../packaging/systemd/restpipe-openssl.cnf', import.meta.url));

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
  const options: tls.TlsOptions = {
    key: m.server.key,
    cert: mode.caInChain === true ? m.server.cert + m.ca : m.server.cert,
    ca: m.ca,
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.3',
  };
  if (mode.tickets === 'on') Object.assign(options, { ticketKeys: randomBytes(48), sessionTimeout: 86_400 });
  else if (mode.tickets === '1.2') Object.assign(options, { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2', ticketKeys: randomBytes(48) });
  else options.secureOptions = constants.SSL_OP_NO_TICKET;
  const sockets: tls.TLSSocket[] = [];
  const payload = Buffer.alloc(mode.write ?? 5, 0x78);
  let resumed = 0;
  const server = tls.createServer(options, (socket) => {
    socket.on('error', () => {});
    sockets.push(socket);
    if (socket.isSessionReused()) resumed++;
    socket.write(payload);
  });
  server.listen(0, '127.0.0.1', () => process.send!({ port: (server.address() as { port: number }).port, rssKiB: rssKiB() }));
  process.on('message', () => setTimeout(() => process.send!({ rssKiB: rssKiB(), connections: sockets.length, resumed }), 1_000));
}

interface ServerReport {
  port?: number;
  rssKiB: number;
  connections?: number;
  resumed?: number;
}

/** The server child of one mode. */
interface ServerChild {
  port: number;
  /** Its RSS growth figures, a second after asking (to let writes and GC settle). */
  ask: () => Promise<ServerReport>;
  stop: () => void;
}

async function startServer(mode: Mode, m: Material): Promise<ServerChild> {
  const execArgv = ['--expose-gc'];
  if (mode.oneTicket === true) execArgv.push(`--openssl-config=${ONE_TICKET_CONF}`);
  const child = fork(fileURLToPath(import.meta.url), ['--child', JSON.stringify(mode)], { execArgv, env: { ...process.env, TICKET_RSS_PKI: JSON.stringify(m) } });
  const next = (): Promise<ServerReport> => new Promise((r) => child.once('message', r as (v: unknown) => void));
  const started = await next();
  return {
    port: started.port!,
    ask: () => {
      child.send('rss');
      return next();
    },
    stop: () => child.kill(),
  };
}

/** One client connection; resolves with it once the server's first bytes arrived. */
function connect(port: number, context: tls.SecureContext, session?: Buffer): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', secureContext: context, ...(session === undefined ? {} : { session }) });
    socket.on('error', reject);
    socket.once('data', () => resolve(socket));
  });
}

/** A session to resume: the last ticket of one full handshake (tickets come after the first bytes). */
async function fetchSession(port: number, context: tls.SecureContext): Promise<Buffer> {
  let session: Buffer | undefined;
  const socket = await connect(port, context);
  socket.on('session', (s: Buffer) => (session = s));
  await new Promise((resolve) => setTimeout(resolve, 200));
  socket.destroy();
  if (session === undefined) throw new Error('the server sent no ticket');
  return session;
}

/** Server RSS growth per idle connection (KiB) in `mode`. */
async function measure(mode: Mode, m: Material, connections: number): Promise<number> {
  const server = await startServer(mode, m);
  const sockets: tls.TLSSocket[] = [];
  try {
    const context = tls.createSecureContext({ key: m.client.key, cert: m.client.cert, ca: m.ca });
    const session = mode.resumed === true ? await fetchSession(server.port, context) : undefined;
    const before = await server.ask();
    for (let i = 0; i < connections; i += 100) {
      const wave = Array.from({ length: Math.min(100, connections - i) }, () => connect(server.port, context, session));
      sockets.push(...(await Promise.all(wave)));
    }
    const after = await server.ask();
    const held = after.connections! - before.connections!;
    if (held !== connections) throw new Error(`the server holds ${held} new connections, not ${connections}`);
    if (mode.resumed === true && after.resumed !== connections) throw new Error(`${after.resumed} of ${connections} connections resumed`);
    return (after.rssKiB - before.rssKiB) / connections;
  } finally {
    for (const s of sockets) s.destroy();
    server.stop();
  }
}

/**
 * The TLS records the server sends one connection in `mode`, as seen by a TCP relay: one line
 * per chunk read (on loopback, one server write each), each record as its type:length.
 */
async function records(mode: Mode, m: Material): Promise<string> {
  const server = await startServer(mode, m);
  const chunks: Buffer[] = [];
  const relay = net.createServer((down) => {
    const up = net.connect(server.port, '127.0.0.1');
    down.on('data', (d) => up.write(d));
    up.on('data', (d: Buffer) => {
      chunks.push(d);
      down.write(d);
    });
    for (const s of [up, down]) s.on('error', () => {});
    down.on('close', () => up.destroy());
  });
  try {
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const context = tls.createSecureContext({ key: m.client.key, cert: m.client.cert, ca: m.ca });
    const session = mode.resumed === true ? await fetchSession(server.port, context) : undefined;
    const socket = await connect((relay.address() as net.AddressInfo).port, context, session);
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();
    return chunks
      .map((chunk) => {
        const recs: string[] = [];
        for (let at = 0; at + 5 <= chunk.length; at += 5 + chunk.readUInt16BE(at + 3)) recs.push(`${chunk[at]}:${chunk.readUInt16BE(at + 3)}`);
        return `  ${chunk.length} B: ${recs.join(' ')}`;
      })
      .join('\n');
  } finally {
    relay.close();
    server.stop();
  }
}

function option(args: string[], name: string): string | undefined {
  const at = args.indexOf(name);
  return at < 0 ? undefined : args[at + 1];
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === '--child') {
    runServer(JSON.parse(args[1]!) as Mode, JSON.parse(process.env['TICKET_RSS_PKI']!) as Material);
    return;
  }
  const connections = Number(option(args, '--connections') ?? 1_000);
  const rounds = Number(option(args, '--rounds') ?? 2);
  const only = option(args, '--only');
  const modes = MODES.filter((mode) => only === undefined || mode.name.includes(only));
  const ca = await createCa({ cn: 'ticket-rss-ca' });
  const server = await issueCertificate({ ca, name: 'server' });
  const client = await issueCertificate({ ca, name: 'client1' });
  const m: Material = { server: { key: server.keyPem, cert: server.certPem }, client: { key: client.keyPem, cert: client.certPem }, ca: ca.certPem };
  if (args.includes('--records')) {
    for (const mode of modes) process.stdout.write(`${mode.name}: server → client (TLS record type:length)\n${await records(mode, m)}\n`);
    return;
  }
  const results = new Map<string, number[]>();
  for (let round = 0; round < rounds; round++) {
    for (const mode of round % 2 === 0 ? modes : [...modes].reverse()) {
      const kib = await measure(mode, m, connections);
      (results.get(mode.name) ?? results.set(mode.name, []).get(mode.name)!).push(kib);
      process.stderr.write(`round ${round + 1}: ${mode.name}: ${fmt(kib, 1)} KiB/connection\n`);
    }
  }
  process.stdout.write(`\nbare Node ${process.version} TLS server, ${connections} idle mutual-TLS connections, VmRSS growth per connection after GC (KiB), ${rounds} rounds:\n`);
  process.stdout.write('| server | KiB/connection |\n|:--|--:|\n');
  for (const mode of modes) process.stdout.write(`| ${mode.name} | ${(results.get(mode.name) ?? []).map((x) => fmt(x, 1)).join(', ')} |\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
