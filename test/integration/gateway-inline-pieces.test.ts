// Inline bodies that the gateways move without joining (src/body-pieces.ts): a request body
// of known length up to 64 KiB that reaches the gateway in several chunks goes into its event
// frame as those chunks, and an inline reply that arrives across network reads is written to the
// caller from views of them. Real nodes over TLS, both directions, bytes compared; and what the
// gateway tells its observers counts every byte.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';

import { channels, type GatewayEventMessage } from '../../src/diagnostics.js';
import type { Gateway } from '../../src/gateway/gateway.js';
import { startNodes, type TestNodes } from '../helpers/gateway-nodes.js';

let nodes: TestNodes;
before(async () => {
  nodes = await startNodes();
});
after(async () => {
  await nodes?.close();
});

/**
 * POSTs `body` with its Content-Length on a fresh connection, the head and then the body in
 * `pieces` writes a turn apart (so the gateway's HTTP parser hands it out in several chunks);
 * resolves with the raw response's status line and its body bytes.
 */
async function postInPieces(gw: Gateway, path: string, body: Buffer, pieces: number): Promise<{ status: string; body: Buffer }> {
  const socket = net.connect((gw.address as { port: number }).port, '127.0.0.1');
  await once(socket, 'connect');
  const received: Buffer[] = [];
  socket.on('data', (c: Buffer) => received.push(c));
  const ended = once(socket, 'end');
  socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
  const size = Math.ceil(body.length / pieces);
  for (let at = 0; at < body.length; at += size) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    socket.write(body.subarray(at, at + size));
  }
  await ended;
  socket.destroy();
  const raw = Buffer.concat(received);
  const headEnd = raw.indexOf('\r\n\r\n');
  assert.ok(headEnd > 0, 'a complete response head');
  const head = raw.subarray(0, headEnd).toString('latin1');
  assert.match(head, new RegExp(`\r\ncontent-length: ${body.length}\r\n`, 'i'));
  return { status: head.slice(0, head.indexOf('\r\n')), body: raw.subarray(headEnd + 4) };
}

for (const way of [
  { name: 'server node → client', gw: () => nodes.serverGw, path: '/client/client1/echo' },
  { name: 'client node → server', gw: () => nodes.clientGw, path: '/server/echo' },
]) {
  describe(way.name, () => {
    test('bodies up to 64 KiB sent in pieces come back whole, their replies spanning network reads', async () => {
      for (const [size, pieces] of [
        [16 * 1024 + 1, 2],
        [40_000, 3],
        [64 * 1024, 5],
      ] as const) {
        const body = randomBytes(size);
        const got = await postInPieces(way.gw(), way.path, body, pieces);
        assert.equal(got.status, 'HTTP/1.1 200 OK');
        assert.ok(got.body.equals(body), `${size} bytes in ${pieces} pieces echoed byte for byte`);
      }
    });

    test('observers are told every byte of a pieced body and of a reply from views', async () => {
      const seen: GatewayEventMessage[] = [];
      const onEnd = (m: unknown): void => void seen.push(m as GatewayEventMessage);
      channels.gatewayEventEnd.subscribe(onEnd);
      try {
        const body = randomBytes(60_000);
        const got = await postInPieces(way.gw(), way.path, body, 4);
        assert.ok(got.body.equals(body));
      } finally {
        channels.gatewayEventEnd.unsubscribe(onEnd);
      }
      const message = seen.find((m) => m.noun === 'echo');
      assert.ok(message !== undefined, 'the echo was observed');
      assert.equal(message.requestBytes, 60_000);
      assert.equal(message.replyBytes, 60_000);
      assert.equal(message.status, 200);
    });
  });
}
