// packaging/systemd/restpipe-openssl.cnf, the OPENSSL_CONF of the server unit (issue 14, idle
// RSS per pipe): `restpipe server` started with it sends one TLS 1.3 session ticket per full
// handshake instead of OpenSSL's two, and that one ticket resumes (the server re-checks the
// certificate, then sends its hello). Two tickets overflow the first buffer of Node's outgoing TLS
// queue and cost every idle pipe 16 KiB (BENCHMARKS.md, "Idle RSS with resumption on"). A plain
// TLS client counts the tickets: restpipe's server writes its hello right after the handshake,
// in the same flush as the tickets and after them, so every ticket is in when the hello arrives.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import tls from 'node:tls';

import { FAST_FLAGS, killAll, startServer } from '../helpers/cli-processes.js';
import { makePki, type Pki } from '../helpers/pki.js';

const OPENSSL_CONF = fileURLToPath(new URL('../../../packaging/systemd/restpipe-openssl.cnf', import.meta.url));

let pki: Pki;
before(async () => {
  pki = await makePki();
});
after(async () => {
  await killAll();
  await pki?.cleanup();
});

interface Dialled {
  /** Tickets received by the time the server's hello arrived. */
  tickets: Buffer[];
  resumed: boolean;
}

/** One TLS connection as client1, held until the server's hello (its first bytes), then closed. */
function dial(port: number, session?: Buffer): Promise<Dialled> {
  return new Promise((resolve, reject) => {
    const tickets: Buffer[] = [];
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...pki.client1.tls, ...(session === undefined ? {} : { session }) });
    socket.on('session', (ticket: Buffer) => tickets.push(ticket));
    socket.once('data', () => {
      resolve({ tickets, resumed: socket.isSessionReused() });
      socket.destroy();
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('closed before the server hello')));
  });
}

test('restpipe-openssl.cnf: one ticket per full handshake (OpenSSL sends two without it), and it resumes', async () => {
  const serverDir = await pki.certDir('server', pki.server);
  const flags = [...FAST_FLAGS, '--no-http'];

  const plain = await startServer(serverDir, flags);
  assert.equal((await dial(plain.pipePort)).tickets.length, 2, 'OpenSSL default: two tickets');
  await plain.proc.kill();

  const configured = await startServer(serverDir, flags, { env: { OPENSSL_CONF } });
  const full = await dial(configured.pipePort);
  assert.equal(full.resumed, false);
  assert.equal(full.tickets.length, 1, `one ticket with ${OPENSSL_CONF}`);
  const again = await dial(configured.pipePort, full.tickets[0]);
  assert.equal(again.resumed, true, 'the single ticket resumes, and the server accepted the re-checked certificate (its hello came)');
});
