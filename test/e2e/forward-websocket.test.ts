// Forwarding (issue 12, SPEC §10): WebSocket upgrades pass through. A `ws` client connects to
// the server's gateway; client1 forwards `up` to the upstream fixture's `ws` echo server. The
// caller gets 101, then 1,000 text and 1,000 binary messages go each way (some big enough to
// span several pipe frames), each echoed intact and in order; then a close from the caller's
// side, and on a second connection a close from the upstream's side: both ends see 1000.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import WebSocket from 'ws';

import { upstreamForwardBed } from '../helpers/forward.js';
import { withTimeout } from '../helpers/wait.js';

const EACH = 1_000;

const bed = upstreamForwardBed();

/** Opens a WebSocket through the gateway; resolves once the 101 has come (rejects on any other answer). */
async function connect(): Promise<{ ws: WebSocket; status: number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${bed.pair.gatewayPort}/client/client1/up/ws`);
  let status = 0;
  ws.once('upgrade', (res) => (status = res.statusCode ?? 0));
  const refused = new Promise<never>((_, reject) => {
    ws.once('unexpected-response', (_req, res) => reject(new Error(`no upgrade: ${res.statusCode} ${JSON.stringify(res.headers)}`)));
    ws.once('error', reject);
  });
  await withTimeout(Promise.race([once(ws, 'open'), refused]), 10_000, 'the WebSocket to open');
  return { ws, status };
}

/** Text messages k: varied lengths; binary messages k: random bytes, every 100th 256 KiB. */
function messages(): { text: string[]; binary: Buffer[] } {
  const text = Array.from({ length: EACH }, (_, k) => `text ${k} ` + 'é∑'.repeat(k % 50));
  const binary = Array.from({ length: EACH }, (_, k) => randomBytes(k % 100 === 0 ? 256 * 1024 : 1 + (k % 300)));
  return { text, binary };
}

test(`101, then ${EACH} text and ${EACH} binary messages each way, echoed intact and in order; the caller closes: 1000 at both ends`, async () => {
  const { ws, status } = await connect();
  assert.equal(status, 101);
  const { text, binary } = messages();
  const got: { data: Buffer; isBinary: boolean }[] = [];
  const all = new Promise<void>((resolve) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      got.push({ data, isBinary });
      if (got.length === 2 * EACH) resolve();
    });
  });
  for (let k = 0; k < EACH; k++) {
    ws.send(text[k]!);
    ws.send(binary[k]!);
  }
  await withTimeout(all, 60_000, `${2 * EACH} echoes (got ${got.length})`);
  for (let k = 0; k < EACH; k++) {
    const t = got[2 * k]!;
    const b = got[2 * k + 1]!;
    assert.equal(t.isBinary, false, `message ${2 * k} came back binary`);
    assert.equal(t.data.toString('utf8'), text[k]);
    assert.equal(b.isBinary, true, `message ${2 * k + 1} came back as text`);
    assert.ok(b.data.equals(binary[k]!), `binary message ${k} differs`);
  }
  const closed = once(ws, 'close');
  ws.close(1000, 'client done');
  const [code, reason] = (await withTimeout(closed, 10_000, 'the close handshake')) as [number, Buffer];
  assert.equal(code, 1000);
  assert.equal(reason.toString(), 'client done');
  const [, upCode, upReason] = await bed.upstream.child.waitForLine(/^ws-closed (\d+) (.*)$/);
  assert.equal(Number(upCode), 1000);
  assert.equal(upReason, 'client done');
});

test('a close from the upstream’s side: 1000 at both ends', async () => {
  const { ws } = await connect();
  ws.send('before the close');
  const [echo] = (await withTimeout(once(ws, 'message'), 10_000, 'an echo')) as [Buffer];
  assert.equal(echo.toString(), 'before the close');
  const closed = once(ws, 'close');
  ws.send('close-from-server');
  const [code, reason] = (await withTimeout(closed, 10_000, 'the close from the server')) as [number, Buffer];
  assert.equal(code, 1000);
  assert.equal(reason.toString(), 'server done');
  const [, upCode, upReason] = await bed.upstream.child.waitForLine(/^ws-closed (\d+) (.*)$/);
  assert.equal(Number(upCode), 1000);
  assert.equal(upReason, 'server done');
});
