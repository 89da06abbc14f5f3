import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { once } from 'node:events';

import { ErrorCode, type RestpipeError } from '../../../src/errors.js';
import { readBody, readBodyAsync, contentLengthError } from '../../../src/gateway/body.js';

const LIMIT = 1024;

type Outcome = { body: Buffer; sync: boolean } | { err: RestpipeError; sync: boolean };
/** The outcome, the request, and every chunk the request emitted (seen by a second listener). */
type Delivered = { outcome: Outcome; req: IncomingMessage; chunks: Buffer[] };

/** A real server whose handler reads each body with readBody and reports the outcome. */
async function bodyServer(options: http.ServerOptions = {}): Promise<{
  port: number;
  server: http.Server;
  next(): Promise<Delivered>;
}> {
  const waiting: ((v: Delivered) => void)[] = [];
  const ready: Delivered[] = [];
  const deliver = (v: Delivered): void => {
    const w = waiting.shift();
    if (w !== undefined) w(v);
    else ready.push(v);
  };
  const server = http.createServer(options, (req: IncomingMessage, res: ServerResponse) => {
    let sync = true;
    const chunks: Buffer[] = [];
    readBody(req, LIMIT, {
      onBody(body) {
        deliver({ outcome: { body, sync }, req, chunks });
        if (!res.headersSent && !req.socket.destroyed) res.end(`got ${body.length}`);
      },
      onBodyError(err) {
        deliver({ outcome: { err, sync }, req, chunks });
        if (err.code === ErrorCode.BODY_TOO_LARGE && !req.socket.destroyed) {
          res.writeHead(413, { Connection: 'close', 'Content-Type': 'text/plain' });
          res.end('too large');
        }
      },
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    sync = false;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as AddressInfo).port,
    server,
    next: () =>
      new Promise((resolve) => {
        const r = ready.shift();
        if (r !== undefined) resolve(r);
        else waiting.push(resolve);
      }),
  };
}

/** A raw TCP client: full control over what is sent and when. */
async function rawClient(port: number): Promise<{ socket: net.Socket; received: () => string; ended: Promise<void> }> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  let data = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (data += chunk));
  socket.on('error', () => {});
  const ended = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received: () => data, ended };
}

async function waitFor(cond: () => boolean, socket: net.Socket, timeoutMs = 3_000): Promise<void> {
  const deadline = AbortSignal.timeout(timeoutMs);
  while (!cond()) {
    if (deadline.aborted) assert.fail('timed out waiting for data');
    await Promise.race([once(socket, 'data', { signal: deadline }).catch(() => {}), once(socket, 'close').catch(() => {})]);
  }
}

const servers: http.Server[] = [];
after(() => {
  for (const s of servers) s.closeAllConnections();
  for (const s of servers) s.close();
});

describe('readBody', () => {
  test('no body: an empty Buffer, synchronously', async () => {
    const s = await bodyServer();
    servers.push(s.server);
    const res = await fetch(`http://127.0.0.1:${s.port}/`);
    assert.equal(await res.text(), 'got 0');
    const { outcome } = await s.next();
    assert.ok('body' in outcome);
    assert.equal(outcome.body.length, 0);
    assert.equal(outcome.sync, true);
  });

  test('Content-Length: 0 is an empty body at once', async () => {
    const s = await bodyServer();
    servers.push(s.server);
    const res = await fetch(`http://127.0.0.1:${s.port}/`, { method: 'POST', body: '' });
    assert.equal(await res.text(), 'got 0');
    const { outcome } = await s.next();
    assert.ok('body' in outcome && outcome.sync);
  });

  test('a one-chunk body is handed on as the very chunk the parser emitted (no copy)', async () => {
    const s = await bodyServer();
    servers.push(s.server);
    const payload = Buffer.from('hello, body');
    const res = await fetch(`http://127.0.0.1:${s.port}/`, { method: 'POST', body: payload });
    assert.equal(await res.text(), `got ${payload.length}`);
    const { outcome, chunks } = await s.next();
    assert.ok('body' in outcome);
    assert.deepEqual(outcome.body, payload);
    assert.equal(chunks.length, 1);
    assert.equal(outcome.body, chunks[0], 'the same Buffer object, not a copy of it');
  });

  test('a chunked body in several chunks is joined once, bytes intact', async () => {
    const s = await bodyServer();
    servers.push(s.server);
    const c = await rawClient(s.port);
    c.socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n');
    const parts = [Buffer.from([0, 1, 2, 255]), Buffer.from('abc'), Buffer.alloc(300, 7)];
    for (const p of parts) {
      c.socket.write(`${p.length.toString(16)}\r\n`);
      c.socket.write(p);
      c.socket.write('\r\n');
      // Let each chunk arrive on its own, so the parser really hands out several.
      await new Promise((r) => setImmediate(r));
    }
    c.socket.write('0\r\n\r\n');
    const { outcome, chunks } = await s.next();
    assert.ok('body' in outcome);
    assert.deepEqual(outcome.body, Buffer.concat(parts));
    assert.ok(chunks.length > 1, `the parser handed out ${chunks.length} chunks`);
    c.socket.destroy();
  });

  test('exactly the limit is accepted', async () => {
    const s = await bodyServer();
    servers.push(s.server);
    const res = await fetch(`http://127.0.0.1:${s.port}/`, { method: 'POST', body: Buffer.alloc(LIMIT, 1) });
    assert.equal(res.status, 200);
    const { outcome } = await s.next();
    assert.ok('body' in outcome && outcome.body.length === LIMIT);
  });

  test('Content-Length over the limit: refused before a byte of the body is sent or read', async () => {
    const s = await bodyServer();
    servers.push(s.server);
    const c = await rawClient(s.port);
    const head = `POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${LIMIT + 1}\r\n\r\n`;
    c.socket.write(head); // and no body at all
    const { outcome, req } = await s.next();
    assert.ok('err' in outcome);
    assert.equal(outcome.err.code, ErrorCode.BODY_TOO_LARGE);
    assert.equal(outcome.sync, true, 'decided from the header alone');
    assert.match(outcome.err.message, new RegExp(`${LIMIT + 1} bytes exceeds the limit of ${LIMIT}`));
    assert.equal(req.socket.bytesRead, Buffer.byteLength(head), 'the server read the headers and nothing else');
    await waitFor(() => c.received().includes('too large'), c.socket);
    assert.match(c.received(), /^HTTP\/1\.1 413 /);
    assert.match(c.received(), /connection: close/i);
    await c.ended; // the server closes the connection: the unread body never gets read
  });

  test('contentLengthError alone', () => {
    assert.equal(contentLengthError({ 'content-length': String(LIMIT) }, LIMIT), undefined);
    assert.equal(contentLengthError({}, LIMIT), undefined);
    assert.equal(contentLengthError({ 'content-length': String(LIMIT + 1) }, LIMIT)?.code, ErrorCode.BODY_TOO_LARGE);
    // The message names the option and the CLI flag that raise the limit.
    assert.equal(
      contentLengthError({ 'content-length': String(LIMIT + 1) }, LIMIT)?.message,
      `request body of ${LIMIT + 1} bytes exceeds the limit of ${LIMIT} bytes (maxBodyBytes, --max-body)`,
    );
  });

  test('a chunked body is refused as soon as it passes the limit, and reading stops', async () => {
    const s = await bodyServer();
    servers.push(s.server);
    const c = await rawClient(s.port);
    c.socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n');
    const chunk = Buffer.alloc(600, 9);
    c.socket.write(`${chunk.length.toString(16)}\r\n`);
    c.socket.write(chunk);
    c.socket.write('\r\n');
    c.socket.write(`${chunk.length.toString(16)}\r\n`);
    c.socket.write(chunk); // 1200 > 1024: refused here, without a terminating chunk ever being sent
    c.socket.write('\r\n');
    const { outcome } = await s.next();
    assert.ok('err' in outcome);
    assert.equal(outcome.err.code, ErrorCode.BODY_TOO_LARGE);
    await waitFor(() => c.received().includes('too large'), c.socket);
    assert.match(c.received(), /^HTTP\/1\.1 413 /);
    await c.ended;
  });

  test('a caller that hangs up mid-body: aborted', async () => {
    const s = await bodyServer();
    servers.push(s.server);
    const c = await rawClient(s.port);
    c.socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nonly part');
    await new Promise((r) => setImmediate(r));
    c.socket.destroy();
    const { outcome } = await s.next();
    assert.ok('err' in outcome);
    assert.equal(outcome.err.code, ErrorCode.ABORTED);
  });

  test('a stalled body is ended by the server’s requestTimeout', async () => {
    const s = await bodyServer({ headersTimeout: 200, requestTimeout: 300, connectionsCheckingInterval: 50 });
    servers.push(s.server);
    const c = await rawClient(s.port);
    const started = Date.now();
    c.socket.write('POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nstall');
    const { outcome } = await s.next();
    assert.ok('err' in outcome);
    assert.equal(outcome.err.code, ErrorCode.ABORTED);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 250 && elapsed < 3_000, `ended after ${elapsed} ms`);
    await c.ended;
    assert.match(c.received(), /408/);
  });

  test('readBodyAsync resolves and rejects like the sink', async () => {
    const server = http.createServer((req, res) => {
      readBodyAsync(req, 4).then(
        (b) => res.end(`ok ${b.toString()}`),
        (e: RestpipeError) => {
          res.writeHead(413, { Connection: 'close' });
          res.end(e.code);
        },
      );
    });
    servers.push(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    assert.equal(await (await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'abcd' })).text(), 'ok abcd');
    const r = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'abcde' });
    assert.equal(r.status, 413);
    assert.equal(await r.text(), 'body_too_large');
  });
});
