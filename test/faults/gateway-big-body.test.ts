// Gateway abuse, part 2 (issue 5 item 6): a 70 MB request body against real CLI nodes, for a
// handler that takes its body whole. Since wire v2 (SPEC §9) the gateway streams every body
// into the pipe and the node whose buffered handler would hold it applies its --max-body: the
// 413 comes from there (at once from a declared length, at the limit for a chunked body), it
// arrives while the caller is still sending, the gateway closes the connection, and neither the
// gateway's process nor the far node's grows by anything like 70 MB (read from
// /proc/PID/status: VmRSS and its peak VmHWM). v1 refused at the gateway, by its own limit.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { parseExchange, processMemory, rawExchange, rawGet, type ProcessMemory, type RawExchange } from '../helpers/abuse.js';
import { killAll, startClient, startServer, type StartedClient, type StartedServer } from '../helpers/cli-processes.js';
import { makePki, type Pki } from '../helpers/pki.js';

const HANDLERS = 'test/fixtures/abuse-handlers.js';
const FLAGS = ['--handlers', HANDLERS, '--heartbeat-interval', '0.2', '--heartbeat-timeout', '2', '--connect-wait', '0.3', '--event-timeout', '5', '--grace', '1'];
const BODY_BYTES = 70_000_000;
const MIB = 1024 * 1024;
/** Growth of the gateway's peak RSS we accept: well under the 67 MiB a buffered body would take. */
const MAX_GROWTH_MIB = 24;

let pki: Pki;
let server: StartedServer;
/** The default --max-body (64 MiB). */
let client: StartedClient;
/** --max-body 1MiB: its buffered handler refuses a chunked body (read up to the limit) sent from the server's gateway. */
let smallClient: StartedClient;

before(async () => {
  pki = await makePki();
  server = await startServer(await pki.certDir('server', pki.server), FLAGS);
  client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, FLAGS);
  smallClient = await startClient(await pki.certDir('client', pki.client2), server.pipePort, [...FLAGS, '--max-body', '1MiB']);
});

after(async () => {
  await killAll();
  await pki?.cleanup();
});

interface Upload {
  exchange: RawExchange;
  /** Body bytes handed to the socket when the first response byte arrived (or the socket closed). */
  sentAtAnswer: number;
  sentTotal: number;
  /** How the connection ended on our side: the server closed it ('end'/'error') before we finished. */
  closedByServer: boolean;
}

/**
 * Sends `head`, then `total` body bytes (chunked framing when `chunked`) from one reused 1 MiB
 * buffer, honouring backpressure, until the server answers and closes or everything is sent.
 */
function upload(port: number, head: string, total: number, chunked: boolean, timeoutMs = 30_000): Promise<Upload> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const piece = Buffer.alloc(MIB, 0x61);
    const chunkHead = Buffer.from(`${piece.length.toString(16)}\r\n`);
    const crlf = Buffer.from('\r\n');
    const received: Buffer[] = [];
    let sent = 0;
    let sentAtAnswer = -1;
    let finished = false;
    let done = false;
    const finish = (ended: RawExchange['ended']): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (sentAtAnswer === -1) sentAtAnswer = sent;
      resolve({
        exchange: parseExchange(Buffer.concat(received).toString('latin1'), ended),
        sentAtAnswer,
        sentTotal: sent,
        closedByServer: ended !== 'timeout' && !finished,
      });
    };
    const timer = setTimeout(() => finish('timeout'), timeoutMs);
    const pump = (): void => {
      while (!done && !socket.destroyed && sent < total) {
        const n = Math.min(piece.length, total - sent);
        const body = n === piece.length ? piece : piece.subarray(0, n);
        let ok: boolean;
        if (chunked) {
          socket.write(n === piece.length ? chunkHead : `${n.toString(16)}\r\n`);
          socket.write(body);
          ok = socket.write(crlf);
        } else {
          ok = socket.write(body);
        }
        sent += n;
        if (!ok) {
          socket.once('drain', pump);
          return;
        }
      }
      if (sent >= total && !finished) {
        finished = true;
        if (chunked) socket.write('0\r\n\r\n');
      }
    };
    socket.on('data', (c: Buffer) => {
      if (sentAtAnswer === -1) sentAtAnswer = sent;
      received.push(c);
    });
    socket.on('end', () => finish('end'));
    socket.on('close', () => finish('end'));
    socket.on('error', () => finish('error'));
    socket.on('connect', () => {
      socket.write(head);
      pump();
    });
  });
}

function memory(pid: number): ProcessMemory {
  const m = processMemory(pid);
  assert.ok(m !== undefined, 'no /proc here');
  return m;
}

function report(what: string, before: ProcessMemory, after: ProcessMemory, up: Upload): void {
  console.log(
    `# ${what}: gateway RSS before ${before.rssMiB.toFixed(1)} MiB (peak so far ${before.peakMiB.toFixed(1)}), ` +
      `peak ${after.peakMiB.toFixed(1)} MiB, after ${after.rssMiB.toFixed(1)} MiB; ` +
      `${(up.sentAtAnswer / MIB).toFixed(1)} MiB sent when the answer came, ${(up.sentTotal / MIB).toFixed(1)} MiB in all (${up.exchange.ended})`,
  );
}

function assertBounded(before: ProcessMemory, after: ProcessMemory): void {
  const growth = after.peakMiB - Math.max(before.peakMiB, before.rssMiB);
  assert.ok(growth < MAX_GROWTH_MIB, `the gateway's peak RSS grew by ${growth.toFixed(1)} MiB`);
}

function assertTooLarge(up: Upload, limit: RegExp, { early = true } = {}): void {
  assert.equal(up.exchange.status, 413, up.exchange.text.slice(0, 400));
  assert.equal(up.exchange.responses, 1);
  // v2: the gateway streams the body while the far node reads it; if the whole body had been
  // read when the 413 came, the connection is as good as any and is kept.
  if (early || up.sentTotal < BODY_BYTES) assert.match(up.exchange.text, /\r\nconnection: close\r\n/i);
  const err = (JSON.parse(up.exchange.body) as { error: { code: string; message: string } }).error;
  assert.equal(err.code, 'body_too_large');
  assert.match(err.message, limit);
  if (!early) return;
  assert.notEqual(up.exchange.ended, 'timeout', 'the gateway closed the connection');
  assert.ok(up.closedByServer, 'the gateway closed the connection before the caller had sent everything');
  assert.ok(up.sentAtAnswer < BODY_BYTES, `the answer came only after all ${up.sentAtAnswer} bytes were sent`);
}

const post = (path: string, headers: string): string => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n${headers}\r\n`;

describe('a 70 MB body', () => {
  test('with Content-Length, over the default --max-body (64 MiB): 413 at once, nothing buffered, connection closed', { timeout: 40_000 }, async () => {
    const pid = client.proc.pid;
    const before = memory(pid);
    const up = await upload(client.gateway!.port, post('/server/echo', `Content-Length: ${BODY_BYTES}\r\n`), BODY_BYTES, false);
    const after = memory(pid);
    report('Content-Length 70 MB', before, after, up);
    assertTooLarge(up, /request body of 70000000 bytes exceeds the receiving node's limit of 67108864/);
    // The declared length was enough: the answer came before (nearly) any body was sent.
    assert.ok(up.sentAtAnswer < 16 * MIB, `${up.sentAtAnswer} bytes sent before the answer`);
    assertBounded(before, after);
    const ok = await rawExchange(client.gateway!.port, rawGet('/server/time'), 10_000);
    assert.equal(ok.status, 200);
  });

  test('with Expect: 100-continue: the far node\'s 413 comes from the declared length, with no body sent', async () => {
    // v1 answered 413 instead of 100 Continue; the v2 gateway has no limit of its own, so it
    // invites the body, and the far node refuses it from its length before a byte is sent.
    const r = await rawExchange(client.gateway!.port, post('/server/echo', `Content-Length: ${BODY_BYTES}\r\nExpect: 100-continue\r\n`), 10_000);
    assert.match(r.text, /HTTP\/1\.1 413 /, r.text);
    assert.match(r.text, /exceeds the receiving node's limit of 67108864/);
  });

  test('chunked, no declared length, to a node with --max-body 1MiB: 413 when its limit is passed, reading stops, connection closed', { timeout: 40_000 }, async () => {
    const before = { gateway: memory(server.proc.pid), far: memory(smallClient.proc.pid) };
    const up = await upload(server.gateway!.port, post('/client/client2/echo', 'Transfer-Encoding: chunked\r\n'), BODY_BYTES, true);
    const after = { gateway: memory(server.proc.pid), far: memory(smallClient.proc.pid) };
    report('chunked 70 MB, far --max-body 1MiB (gateway)', before.gateway, after.gateway, up);
    report('chunked 70 MB, far --max-body 1MiB (far node)', before.far, after.far, up);
    assertTooLarge(up, /request body is longer than the receiving node's limit of 1048576 bytes/);
    assertBounded(before.gateway, after.gateway);
    assertBounded(before.far, after.far);
    const ok = await rawExchange(server.gateway!.port, rawGet('/client/client2/time'), 10_000);
    assert.equal(ok.status, 200);
  });

  test('chunked against the default --max-body: at most the limit is held (by the far node), then 413 and close', { timeout: 90_000 }, async () => {
    // The buffering node is the server (its handler takes bodies whole); the client's gateway
    // only streams, within the pipe's windows.
    const pid = server.proc.pid;
    const gatewayBefore = memory(client.proc.pid);
    const before = memory(pid);
    const up = await upload(client.gateway!.port, post('/server/echo', 'Transfer-Encoding: chunked\r\n'), BODY_BYTES, true);
    const after = memory(pid);
    report('chunked 70 MB, default --max-body 64 MiB', before, after, up);
    // The last 3 MiB fit in the sockets' buffers, so the caller may well have "sent" it all.
    assertTooLarge(up, /request body is longer than the receiving node's limit of 67108864 bytes/, { early: false });
    // The gateway only streams: what it holds is bounded by the windows (its RSS moves with the
    // garbage of 70 MB passing through, well under the 67 MiB a buffered body would take).
    const gatewayGrowth = memory(client.proc.pid).peakMiB - Math.max(gatewayBefore.peakMiB, gatewayBefore.rssMiB);
    assert.ok(gatewayGrowth < 48, `the streaming gateway's peak RSS grew by ${gatewayGrowth.toFixed(1)} MiB`);
    // Without a declared length the body must be read to know it is too big; it is dropped at
    // the limit: growth stays under the limit plus parser slack, never the whole 70 MB + copies.
    const growth = after.peakMiB - Math.max(before.peakMiB, before.rssMiB);
    assert.ok(growth < 64 + 40, `peak RSS grew by ${growth.toFixed(1)} MiB`);
    // Released chunks are freed by GC, which may lag a body behind: three more uploads, and the
    // peak levels off (measured: +30–65 MiB, then flat) instead of climbing 64 MiB each time.
    // (Three, not v1's six: each body now crosses the pipe before the far node refuses it.)
    const peaks: number[] = [];
    for (let i = 0; i < 3; i++) {
      const again = await upload(client.gateway!.port, post('/server/echo', 'Transfer-Encoding: chunked\r\n'), BODY_BYTES, true);
      assertTooLarge(again, /the receiving node's limit of 67108864 bytes/, { early: false });
      peaks.push(memory(pid).peakMiB);
    }
    console.log(`# three more chunked 70 MB bodies: peak after each ${peaks.map((p) => p.toFixed(0)).join(', ')} MiB; RSS now ${memory(pid).rssMiB.toFixed(1)} MiB`);
    assert.ok(peaks[2]! - Math.max(before.peakMiB, before.rssMiB) < 2 * 64 + 48, `peak RSS reached ${peaks[2]!.toFixed(1)} MiB`);
    // A body kept per upload would add 2 × 64 MiB here; GC lag adds at most about one body.
    assert.ok(peaks[2]! - peaks[0]! < 64 + 32, `the peak kept climbing: ${peaks.map((p) => p.toFixed(0)).join(', ')} MiB`);
    const ok = await rawExchange(client.gateway!.port, rawGet('/server/time'), 10_000);
    assert.equal(ok.status, 200);
  });
});
