// Gateway abuse, part 4 (issue 5 item 6): 10,000 requests in flight at once against a handler
// that holds every event, on real CLI nodes: a server with `--max-inflight 1000` and two
// clients, half of the flood through each one's gateway.
// - client1 runs the default limit (4096), so the server's limit is what bites (the far side):
//   the server answers events past its 1000 on that pipe with return code 253 → 503;
// - client2 runs `--max-inflight 500`, so its own limit bites (the near side): sends past its
//   500 outbound events are refused at once → 503.
// Both 503s carry a JSON error naming the limit. The admitted ones complete 200 once the
// handler lets go (SIGUSR2 to the server). Every request gets exactly one response (its own),
// no event runs twice, and memory stays bounded.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';

import { openFilesLimit, parseExchange, processMemory, rawExchange, rawGet, type ProcessMemory, type RawExchange } from '../helpers/abuse.js';
import { killAll, startClient, startServer, type StartedClient, type StartedServer } from '../helpers/cli-processes.js';
import { onceEvent } from '../helpers/wait.js';
import { makePki, type Pki } from '../helpers/pki.js';

const HANDLERS = 'test/fixtures/abuse-handlers.js';
const WANTED = 10_000;
// One descriptor per request here and one in the client node's gateway; keep a margin for
// everything else (pipes, node itself, the runner). With `ulimit -n` 1024 this is ~700.
const REQUESTS = Math.min(WANTED, openFilesLimit() - 300);
const SERVER_LIMIT = Math.max(10, Math.floor(REQUESTS / 10));
const CLIENT2_LIMIT = Math.floor(SERVER_LIMIT / 2);
const FLAGS = ['--handlers', HANDLERS, '--heartbeat-interval', '0.5', '--heartbeat-timeout', '10', '--connect-wait', '1', '--event-timeout', '60', '--grace', '1'];
const CONNECT_BATCH = 400;

let pki: Pki;
let server: StartedServer;
let client: StartedClient;
let client2: StartedClient;

before(async () => {
  pki = await makePki();
  server = await startServer(await pki.certDir('server', pki.server), [...FLAGS, '--max-inflight', String(SERVER_LIMIT)]);
  client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, FLAGS);
  client2 = await startClient(await pki.certDir('client', pki.client2), server.pipePort, [...FLAGS, '--max-inflight', String(CLIENT2_LIMIT)]);
});

after(async () => {
  await killAll();
  await pki?.cleanup();
});

function mib(m: ProcessMemory | undefined, field: keyof ProcessMemory): string {
  return m === undefined ? '?' : m[field].toFixed(1);
}

type Status = { clients: Array<{ name: string; inFlight: { outbound: number; inbound: number } }> };

async function serverStatus(): Promise<Map<string, { outbound: number; inbound: number }>> {
  const status = JSON.parse((await rawExchange(server.gateway!.port, rawGet('/status'))).body) as Status;
  return new Map(status.clients.map((c) => [c.name, c.inFlight]));
}

test(`${REQUESTS.toLocaleString('en')} requests in flight: the excess gets 503 naming the limit (near and far side), the admitted complete 200, exactly one response each`, { timeout: 60_000 }, async () => {
  if (REQUESTS < WANTED) console.log(`# ulimit -n is ${openFilesLimit()}: ${REQUESTS} requests instead of ${WANTED}, limits ${SERVER_LIMIT}/${CLIENT2_LIMIT}`);
  // Request i goes through client1's gateway when i is even, client2's when odd.
  const gateways = [client.gateway!.port, client2.gateway!.port];
  const nodes = [client, client2];
  for (const port of gateways) assert.equal((await rawExchange(port, rawGet('/server/time'))).status, 200);
  const before = [...nodes, server].map((n) => processMemory(n.proc.pid));

  const results: Array<RawExchange | undefined> = new Array(REQUESTS).fill(undefined);
  const sockets: net.Socket[] = [];
  let answered = 0;
  let onAnswer: (() => void) | undefined;
  const t0 = performance.now();
  for (let batch = 0; batch < REQUESTS; batch += CONNECT_BATCH) {
    // In batches, so that the gateways' listen backlogs (511) are never overrun.
    const connected: Promise<unknown>[] = [];
    for (let i = batch; i < Math.min(REQUESTS, batch + CONNECT_BATCH); i++) {
      const socket = net.connect(gateways[i % 2]!, '127.0.0.1');
      sockets.push(socket);
      const chunks: Buffer[] = [];
      let ended = false;
      const end = (how: RawExchange['ended']): void => {
        if (ended) return;
        ended = true;
        results[i] = parseExchange(Buffer.concat(chunks).toString('latin1'), how);
        answered++;
        onAnswer?.();
      };
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('end', () => end('end'));
      socket.on('close', () => end('end'));
      socket.on('error', () => end('error'));
      connected.push(once(socket, 'connect').then(() => socket.write(rawGet(`/server/hold//t${i}`))));
    }
    await Promise.all(connected);
  }
  const sentMs = performance.now() - t0;

  const waitAnswered = async (n: number, timeoutMs: number, what: string): Promise<void> => {
    const deadline = performance.now() + timeoutMs;
    while (answered < n) {
      const left = deadline - performance.now();
      assert.ok(left > 0, `${what}: only ${answered} of ${REQUESTS} answered`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        onAnswer = () => {
          if (answered >= n) {
            clearTimeout(timer);
            resolve();
          }
        };
      });
    }
    onAnswer = undefined;
  };

  const admitted = SERVER_LIMIT + CLIENT2_LIMIT;
  try {
    // Everything past the limits is refused at once, without waiting for the handler.
    await waitAnswered(REQUESTS - admitted, 30_000, 'the refusals');
    const refusedMs = performance.now() - t0;
    const peak = [...nodes, server].map((n) => processMemory(n.proc.pid));
    const inFlight = await serverStatus();
    assert.deepEqual(inFlight.get('client1'), { outbound: 0, inbound: SERVER_LIMIT }, 'client1: the server holds exactly its limit');
    assert.deepEqual(inFlight.get('client2'), { outbound: 0, inbound: CLIENT2_LIMIT }, "client2: exactly client2's own limit");
    assert.equal(answered, REQUESTS - admitted, 'no admitted request was answered before the handler let go');

    server.proc.signal('SIGUSR2');
    await waitAnswered(REQUESTS, 20_000, 'after the release');
    const doneMs = performance.now() - t0;
    // Settled: nothing in flight on either pipe (the condition, not a pause).
    await waitUntilAsync(async () => {
      const s = await serverStatus();
      return [...s.values()].every((f) => f.outbound === 0 && f.inbound === 0);
    }, 10_000, 'both pipes settled');
    const after = [...nodes, server].map((n) => processMemory(n.proc.pid));

    // --- every request: exactly one response, its own ------------------------------------
    const counts = { ok: [0, 0], near: [0, 0], far: [0, 0] };
    for (let i = 0; i < REQUESTS; i++) {
      const r = results[i]!;
      const via = i % 2;
      assert.equal(r.responses, 1, `request ${i}: ${r.responses} responses (${r.ended}): ${r.text.slice(0, 300)}`);
      if (r.status === 200) {
        assert.equal((JSON.parse(r.body) as { tag: string }).tag, `t${i}`, 'each response answers its own request');
        counts.ok[via]!++;
        continue;
      }
      assert.equal(r.status, 503, `request ${i}: ${r.text.slice(0, 300)}`);
      const err = (JSON.parse(r.body) as { error: { code: string; message: string } }).error;
      assert.equal(err.code, 'too_many_in_flight', r.body);
      const code = /\r\nX-Event-Return-Code: (\d+)\r\n/i.exec(r.text)?.[1];
      if (code === '253') {
        counts.far[via]!++;
        assert.match(err.message, new RegExp(`already handles ${SERVER_LIMIT} events from this pipe`));
      } else {
        counts.near[via]!++;
        assert.equal(code, undefined, r.text.slice(0, 300));
        assert.match(err.message, new RegExp(`events already in flight to 'server' \\(limit ${CLIENT2_LIMIT}: maxInflight, --max-inflight\\)`));
      }
    }
    const half = [Math.ceil(REQUESTS / 2), Math.floor(REQUESTS / 2)];
    assert.deepEqual(counts, {
      ok: [SERVER_LIMIT, CLIENT2_LIMIT],
      far: [half[0]! - SERVER_LIMIT, 0],
      near: [0, half[1]! - CLIENT2_LIMIT],
    });

    // --- each admitted event ran exactly once -------------------------------------------
    const holds = JSON.parse((await rawExchange(gateways[0]!, rawGet('/server/holds'))).body) as {
      executions: number;
      tags: number;
      doubled: string[];
      held: number;
      peakHeld: number;
    };
    assert.deepEqual(holds, { executions: admitted, tags: admitted, doubled: [], held: 0, peakHeld: admitted });
    const settled = await serverStatus();
    assert.deepEqual(settled.get('client1'), { outbound: 0, inbound: 0 });
    assert.deepEqual(settled.get('client2'), { outbound: 0, inbound: 0 });

    console.log(
      `# ${REQUESTS} in flight (server --max-inflight ${SERVER_LIMIT}; client1 default, client2 ${CLIENT2_LIMIT}): ` +
        `connected and sent in ${(sentMs / 1000).toFixed(1)} s, all refusals in ${(refusedMs / 1000).toFixed(1)} s, ` +
        `all answered in ${(doneMs / 1000).toFixed(1)} s; 200 × ${admitted}, 503 × ${counts.far[0]} far (253) + ${counts.near[1]} near`,
    );
    const names = ['client1', 'client2', 'server'];
    console.log(
      `# RSS MiB before / peak / after: ` +
        names.map((n, k) => `${n} ${mib(before[k], 'rssMiB')} / ${mib(after[k], 'peakMiB')} / ${mib(after[k], 'rssMiB')}`).join('; ') +
        ` (peak at the refusals: ${names.map((n, k) => `${n} ${mib(peak[k], 'peakMiB')}`).join(', ')})`,
    );
    // Each open HTTP connection costs a gateway some 10–20 KiB; nothing may scale with what
    // callers pile up beyond that. Bounds with a generous margin for a loaded machine.
    for (let k = 0; k < 3; k++) {
      const b = before[k];
      const a = after[k];
      if (b === undefined || a === undefined) continue;
      const growth = a.peakMiB - b.rssMiB;
      const bound = k < 2 ? 64 + (half[k]! * 40) / 1024 : 64 + (admitted * 40) / 1024;
      assert.ok(growth < bound, `${names[k]} grew by ${growth.toFixed(1)} MiB (bound ${bound.toFixed(0)})`);
    }
  } finally {
    for (const s of sockets) s.destroy();
  }
});

/** Waits until an async condition holds, checking it again after each check settles (bounded). */
async function waitUntilAsync(condition: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** How often a condition that needs a request to read is checked again. */
const POLL_MS = 50;

/** Splits a stream of HTTP/1.1 responses (each with Content-Length) into status and body. */
function splitResponses(text: string): Array<{ status: number; body: string; head: string }> {
  const out: Array<{ status: number; body: string; head: string }> = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1) break;
    const head = text.slice(at, end);
    const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? NaN);
    if (!Number.isFinite(length) || end + 4 + length > text.length) break;
    out.push({ status: Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? 0), body: text.slice(end + 4, end + 4 + length), head });
    at = end + 4 + length;
  }
  return out;
}

const PIPELINED = 50_000;

test(`${PIPELINED.toLocaleString('en')} requests pipelined on one connection that reads nothing until late: parsing stops, memory bounded, answered in order, once each`, { timeout: 60_000 }, async () => {
  const port = client.gateway!.port;
  const before = processMemory(client.proc.pid);
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.pause(); // the caller does not read: only the gateway's own backpressure can bound it
  let written = 0;
  const pump = (): void => {
    while (written < PIPELINED && !socket.destroyed) {
      if (!socket.write(`GET /server/hold//p${written++} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
  // Stalled: the server holds its limit of events and the gateway's count of parsed requests
  // has stopped growing (the same in three reads in a row). Waited for as a condition.
  let lastParsed = -1;
  let sameReads = 0;
  await waitUntilAsync(async () => {
    const held = (await serverStatus()).get('client1')?.inbound;
    const parsed = (JSON.parse((await rawExchange(port, rawGet('/status'))).body) as { gateway: { requestsInFlight: number } }).gateway.requestsInFlight;
    sameReads = parsed === lastParsed ? sameReads + 1 : 0;
    lastParsed = parsed;
    return held === SERVER_LIMIT && sameReads >= 2;
  }, 20_000, 'the caller stalled with the server holding its limit');
  const stalled = processMemory(client.proc.pid);
  const status = await serverStatus();
  const heldWhileStalled = status.get('client1')?.inbound ?? -1;
  const gw = JSON.parse((await rawExchange(port, rawGet('/status'))).body) as { gateway: { requestsInFlight: number } };
  // Requests parsed and waiting for their turn to answer (the held ones and the 503s behind them).
  const parsedWhileStalled = gw.gateway.requestsInFlight;
  // The gateway stopped parsing once answers queued up behind the first, held one: it has
  // not turned all of the requests into events or buffered answers.
  assert.ok(heldWhileStalled <= SERVER_LIMIT, `${heldWhileStalled} held`);
  // Node stops reading a connection whose answers queue up unread (measured: some 2,000–6,000
  // requests in), so what one caller can pile up is bounded however much it sends.
  assert.ok(parsedWhileStalled < PIPELINED / 4, `${parsedWhileStalled} of ${PIPELINED} requests parsed while the caller read nothing`);

  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  socket.resume();
  // Let the handler go, again and again: each release lets the gateway parse the next batch.
  const deadline = performance.now() + 45_000;
  let responses: ReturnType<typeof splitResponses> = [];
  let releases = 0;
  while (performance.now() < deadline) {
    server.proc.signal('SIGUSR2');
    releases++;
    // Each release lets answers through: wait for the next of them (bounded), not for a time.
    await onceEvent(socket, 'data', { timeoutMs: 1_000 }).catch(() => undefined);
    responses = splitResponses(Buffer.concat(chunks).toString('latin1'));
    if (responses.length >= PIPELINED) break;
  }
  responses = splitResponses(Buffer.concat(chunks).toString('latin1'));
  socket.destroy();
  const after = processMemory(client.proc.pid);

  assert.equal(responses.length, PIPELINED, `${responses.length} responses of ${PIPELINED}`);
  let ok = 0;
  let busy = 0;
  responses.forEach((r, i) => {
    if (r.status === 200) {
      assert.equal((JSON.parse(r.body) as { tag: string }).tag, `p${i}`, `response ${i} answers request ${i}`);
      ok++;
    } else {
      assert.equal(r.status, 503, r.head);
      assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'too_many_in_flight');
      busy++;
    }
  });
  assert.ok(ok >= 1, 'the first one, at least, was admitted');
  console.log(
    `# ${PIPELINED} pipelined on one connection: ${parsedWhileStalled} parsed and ${heldWhileStalled} events held while the caller read nothing; ` +
      `${ok} × 200, ${busy} × 503 in ${releases} releases; client node RSS ${mib(before, 'rssMiB')} → stalled ${mib(stalled, 'rssMiB')} → peak ${mib(after, 'peakMiB')} → ${mib(after, 'rssMiB')} MiB`,
  );
  if (before !== undefined && stalled !== undefined) {
    assert.ok(stalled.rssMiB - before.rssMiB < 64, `the stalled connection cost ${(stalled.rssMiB - before.rssMiB).toFixed(1)} MiB`);
  }
  const settled = await serverStatus();
  assert.deepEqual(settled.get('client1'), { outbound: 0, inbound: 0 });
});
