// The gateway's lingering close (src/gateway/linger.ts, client-error.ts): a caller that sends
// its whole oversized body (or header flood) before it reads anything still gets the answer,
// instead of a reset that discards it; and the lingering is bounded in time.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';

import { createGateway, type Gateway } from '../../../src/gateway/gateway.js';
import type { EventSender } from '../../../src/sender.js';
import { fakeStatus } from '../../helpers/fake-sender.js';

// v2: the gateway has no body limit of its own (SPEC §9); the far node refuses a body its
// buffered handler would hold, at once, from the declared length. This sender answers as such a
// node does, without reading the body: the gateway's answer comes while the caller still sends.
const sender: EventSender = {
  role: 'client',
  send: async () => ({
    code: 252,
    mimetype: 'application/json',
    data: Buffer.from(JSON.stringify({ error: { code: 'body_too_large', message: 'request body exceeds the receiving node\'s limit' } })),
  }),
  isReady: () => true,
  status: () => fakeStatus('client'),
};

let gw: Gateway;
let port: number;

before(async () => {
  gw = await createGateway({ sender, listen: { host: '127.0.0.1', port: 0 }, eventTimeoutMs: 5_000 });
  port = (gw.address as { port: number }).port;
});

after(async () => {
  await gw.close({ graceMs: 0 });
});

/** Writes `head` and `bodyBytes` bytes, reading nothing, then reads what came back. */
async function sendAllThenRead(head: string, bodyBytes: number): Promise<{ text: string; writeError: string | undefined }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.pause();
  let writeError: string | undefined;
  socket.on('error', (err: NodeJS.ErrnoException) => (writeError = err.code));
  socket.write(head);
  const piece = Buffer.alloc(256 * 1024, 0x61);
  for (let sent = 0; sent < bodyBytes && !socket.destroyed; sent += piece.length) {
    if (!socket.write(piece)) await Promise.race([once(socket, 'drain'), once(socket, 'close')]);
  }
  // Only now does the caller look at what came back.
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.resume();
  await Promise.race([once(socket, 'close'), new Promise((resolve) => setTimeout(resolve, 5_000))]);
  socket.destroy();
  return { text: Buffer.concat(chunks).toString('latin1'), writeError };
}

test('a body over the limit, sent in full before reading: the 413 arrives, no reset', async () => {
  for (let i = 0; i < 5; i++) {
    const r = await sendAllThenRead(`POST /server/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${8 * 1024 * 1024}\r\n\r\n`, 8 * 1024 * 1024);
    assert.match(r.text, /^HTTP\/1\.1 413 /, `round ${i}: got ${JSON.stringify(r.text.slice(0, 100))}, write error ${r.writeError}`);
    assert.match(r.text, /"body_too_large"/);
    assert.equal(r.writeError, undefined, `round ${i}`);
  }
});

test('a header flood sent in full before reading: the JSON 431 arrives', async () => {
  const r = await sendAllThenRead(`GET /server/time HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: `, 2 * 1024 * 1024);
  assert.match(r.text, /^HTTP\/1\.1 431 /, `got ${JSON.stringify(r.text.slice(0, 100))}, write error ${r.writeError}`);
  assert.match(r.text, /"headers_too_large"/);
});

test('a caller that never stops sending is cut off after the linger time', { timeout: 15_000 }, async () => {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('error', () => {});
  socket.write(`POST /server/echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${1e12}\r\n\r\n`);
  const piece = Buffer.alloc(64 * 1024, 0x61);
  let answered = 0;
  socket.on('data', () => (answered ||= performance.now()));
  const closed = once(socket, 'close');
  let open = true;
  void closed.then(() => (open = false));
  while (open) {
    if (!socket.write(piece)) await Promise.race([once(socket, 'drain'), closed]);
  }
  const lingered = performance.now() - answered;
  assert.ok(answered > 0, 'the 413 arrived');
  assert.ok(lingered < 5_000, `closed ${lingered.toFixed(0)} ms after the answer`);
});
