// The pipe port of the real CLI server (`restpipe server --handshake-timeout S`), as an operator
// sees it in the log: a silent TCP connection is dropped at the handshake timeout given on the
// command line, and a burst of plain HTTP requests and garbage leaves a handful of readable JSON
// lines plus a suppressed-count summary on stderr, while a real client stays connected.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';

import { makePki, type Pki } from '../helpers/pki.js';
import { FAST_FLAGS, clientConnected, killAll, startClient, startServer, type CliProcess, type LogLine } from '../helpers/cli-processes.js';
import { onceEvent, withTimeout } from '../helpers/wait.js';

const TIMEOUT_S = 0.5;
let pki: Pki;
let server: CliProcess;
let client: CliProcess;
let port: number;
const msg = (l: LogLine): string => String(l['msg'] ?? '');

before(async () => {
  pki = await makePki();
  const started = await startServer(await pki.certDir('server', pki.server), [...FAST_FLAGS, '--no-http', '--handshake-timeout', String(TIMEOUT_S)]);
  server = started.proc;
  port = started.pipePort;
  ({ proc: client } = await startClient(await pki.certDir('client', pki.client1), port, [...FAST_FLAGS, '--no-http']));
  await clientConnected(server, 'client1');
});
after(async () => {
  await killAll();
  await pki?.cleanup();
});

test(`--handshake-timeout ${TIMEOUT_S}: a TCP connection that never speaks TLS is dropped at the timeout, with a log line`, async () => {
  const from = server.log.length;
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await onceEvent(socket, 'connect', { timeoutMs: 3_000 });
  const t0 = performance.now();
  await onceEvent(socket, 'close', { timeoutMs: 5_000 });
  const ms = performance.now() - t0;
  assert.ok(ms >= TIMEOUT_S * 1000 - 20 && ms <= TIMEOUT_S * 1000 + 1_500, `dropped after ${ms.toFixed(0)} ms`);
  const line = await server.waitForLog(
    (l) => server.log.indexOf(l) >= from && /TLS handshake not finished within 0\.5 s/.test(msg(l)),
    'the handshake timeout line',
  );
  assert.equal(line['code'], 'ERR_TLS_HANDSHAKE_TIMEOUT');
  console.log(`CLI --handshake-timeout 0.5: silent connection dropped after ${ms.toFixed(0)} ms; ${line.text}`);
});

test('300 plain HTTP requests and garbage connections: a few readable lines and a summary, the client unaffected', async () => {
  const from = server.log.length;
  const N = 300;
  const one = (i: number): Promise<void> =>
    new Promise((resolve) => {
      if (i % 2 === 0) {
        const req = http.request({ host: '127.0.0.1', port, path: '/server/time' }, (res) => {
          res.resume();
          resolve();
        });
        req.on('error', () => resolve());
        req.end();
      } else {
        const s = net.connect(port, '127.0.0.1', () => s.write('\x00\x01\x02\x03\x04 hello?\n'));
        s.on('error', () => {});
        s.once('close', () => resolve());
      }
    });
  let next = 0;
  await withTimeout(Promise.all(Array.from({ length: 20 }, async () => { while (next < N) await one(next++); })), 30_000, `${N} attempts`);
  // The window's summary comes when the 10 s window that suppressed lines ends.
  const accounted = (): number =>
    server.log
      .slice(from)
      .reduce((n, l) => n + (/^TLS handshake with a client failed/.test(msg(l)) ? 1 + Number(l['suppressed'] ?? 0) : /suppressed in the last/.test(msg(l)) ? Number(l['suppressed']) : 0), 0);
  await server.waitForLog(() => accounted() >= N, `all ${N} refusals logged or counted`, 15_000);
  const lines = server.log.slice(from);
  const summaries = lines.filter((l) => /more log lines like '.*' suppressed in the last 10 s/.test(msg(l)));
  assert.equal(accounted(), N);
  assert.ok(summaries.length >= 2, 'one summary per reason (HTTP, garbage)');
  // The summary's fields say what it summarises (a field named `key` came out "[redacted]").
  for (const s of summaries) assert.equal(msg(s), `${String(s['suppressed'])} more log lines like '${String(s['like'])}' suppressed in the last 10 s`);
  assert.ok(lines.length <= 2 * 6 * 3, `${lines.length} stderr lines for ${N} attempts`);
  assert.ok(lines.every((l) => !l.text.includes('SSL routines') && l.text.startsWith('{')), 'every line one JSON object, no OpenSSL dump');
  assert.ok(lines.some((l) => l['code'] === 'ERR_SSL_HTTP_REQUEST') && lines.some((l) => l['code'] === 'ERR_SSL_WRONG_VERSION_NUMBER'));
  assert.equal(client.log.filter((l) => msg(l).startsWith('pipe open to server')).length, 1, 'the client never reconnected');
  assert.equal(server.log.filter((l) => msg(l).startsWith("client 'client1' disconnected")).length, 0);
  console.log(`CLI: ${N} plain-HTTP/garbage attempts → ${lines.length} stderr lines:\n${lines.map((l) => `  ${msg(l)}`).join('\n')}`);
});

test('SIGHUP to a server without --crl: one line saying there is nothing to reload, and it keeps running', async () => {
  const from = server.log.length;
  server.signal('SIGHUP');
  await server.waitForLog((l) => server.log.indexOf(l) >= from && msg(l) === 'no --crl configured: nothing to reload', 'the no-CRL line');
  assert.equal(server.child.exitCode, null);
  assert.equal(client.log.filter((l) => msg(l).startsWith('pipe open to server')).length, 1);
});
