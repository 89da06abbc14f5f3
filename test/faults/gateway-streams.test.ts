// Bodies of any size through both gateways (SPEC §9, issue 11), with real CLI processes and
// curl: uploads and downloads compared by SHA-256, with and without Content-Length; headers end
// to end minus hop-by-hop; each node's peak memory does not grow with the size (64 MiB runs, then
// 256 MiB); an abnormal end is never a clean one for curl; a caller that leaves fires the far
// handler's signal and leaves nothing in flight; a slow reader holds the far side back while
// small events on the same pipe keep answering. Sizes keep this within seconds; the 1 GiB and
// 10 GiB runs are in the bench (bench/streams.ts).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { killAll, startClient, startServer, type CliProcess, type StartedClient, type StartedServer } from '../helpers/cli-processes.js';
import { curl, pattern, patternSha256, peakRss, startCurl, STREAM_HANDLERS } from '../helpers/curl.js';
import { makePki, type Pki } from '../helpers/pki.js';

const MiB = 1024 * 1024;
const FLAGS = ['--handlers', STREAM_HANDLERS, '--heartbeat-interval', '0.2', '--heartbeat-timeout', '2', '--connect-wait', '0.5', '--event-timeout', '5', '--max-body', '1MiB', '--grace', '1'];

let pki: Pki;
let server: StartedServer;
let client: StartedClient;
const sha = new Map<string, string>();

before(async () => {
  // The digests first: hashing takes the test process's CPU for a moment, better before than
  // during the transfers.
  for (const [bytes, seed] of [[64 * MiB, 3], [16 * MiB, 4], [256 * MiB, 5]] as const) sha.set(`${bytes}/${seed}`, await patternSha256(bytes, seed));
  pki = await makePki();
  server = await startServer(await pki.certDir('server', pki.server), FLAGS);
  client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, FLAGS);
});

after(async () => {
  await killAll();
  await pki?.cleanup();
});

const WAYS = [
  { name: 'client node → server (/server/…)', gw: () => client.gateway!, prefix: '/server', far: () => server.proc, near: () => client.proc },
  { name: 'server node → client (/client/client1/…)', gw: () => server.gateway!, prefix: '/client/client1', far: () => client.proc, near: () => server.proc },
];

const url = (way: (typeof WAYS)[number], path: string): string => `http://127.0.0.1:${way.gw().port}${way.prefix}/${path}`;

async function memory(way: (typeof WAYS)[number]): Promise<{ near: number; far: number }> {
  // get_memory answers for the far node; the near one is asked the other way round.
  const other = WAYS.find((w) => w !== way)!;
  const far = await peakRss(url(way, 'memory'));
  return { near: await peakRss(url(other, 'memory')), far };
}

async function eventsInFlight(way: (typeof WAYS)[number]): Promise<number> {
  const r = await curl(`http://127.0.0.1:${way.gw().port}/status`);
  return (JSON.parse(r.head) as { gateway?: { eventsInFlight?: number } }).gateway?.eventsInFlight ?? -1;
}

function waitAborted(p: CliProcess, method: string): Promise<unknown> {
  const seen = p.log.filter((l) => l['streams'] === 'aborted' && l['method'] === method).length;
  let n = 0;
  return p.waitForLog((l) => l['streams'] === 'aborted' && l['method'] === method && ++n > seen, `${method}'s signal fires`, 10_000);
}

for (const way of WAYS) {
  describe(way.name, () => {
    test('64 MiB down with Content-Length and 16 MiB chunked: bytes whole (SHA-256), reply headers carried', async () => {
      const r = await curl(url(way, `pattern//${64 * MiB}/3`));
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.status, 200);
      assert.equal(r.headers['content-length'], String(64 * MiB));
      assert.equal(r.headers['x-pattern-seed'], '3', 'a header the handler set');
      assert.equal(r.sha256, sha.get(`${64 * MiB}/3`));
      const c = await curl(url(way, `chunked//${16 * MiB}/4`));
      assert.equal(c.code, 0, c.stderr);
      assert.equal(c.headers['transfer-encoding'], 'chunked');
      assert.equal(c.headers['content-length'], undefined);
      assert.equal(c.sha256, sha.get(`${16 * MiB}/4`));
    });

    test('64 MiB up chunked and 16 MiB up with Content-Length reach a streaming handler whole; request headers carried, hop-by-hop ones not', async () => {
      const r = await curl(url(way, 'hash'), ['-X', 'POST', '-H', 'X-Trace: abc', '-H', 'Connection: keep-alive, X-Hop', '-H', 'X-Hop: 1'], await pattern(64 * MiB, 3));
      assert.equal(r.code, 0, r.stderr);
      const got = JSON.parse(r.head) as { bytes: number; sha256: string; headers: Record<string, string> };
      assert.deepEqual({ bytes: got.bytes, sha256: got.sha256 }, { bytes: 64 * MiB, sha256: sha.get(`${64 * MiB}/3`) });
      assert.equal(got.headers['x-trace'], 'abc');
      assert.equal(got.headers['x-hop'], undefined, 'named by Connection: hop-by-hop');
      assert.equal(got.headers['transfer-encoding'], undefined);
      assert.equal(got.headers['connection'], undefined);
      const k = await curl(url(way, 'hash'), ['-X', 'POST', '-H', `Content-Length: ${16 * MiB}`, '-H', 'Transfer-Encoding:'], await pattern(16 * MiB, 4));
      assert.equal(k.code, 0, k.stderr);
      assert.deepEqual(JSON.parse(k.head).sha256, sha.get(`${16 * MiB}/4`));
    });

    test('a buffered handler still gets bodies whole up to --max-body; over it 413 from the far node', async () => {
      const ok = await curl(url(way, 'length'), ['-X', 'POST', '-H', `Content-Length: ${MiB}`, '-H', 'Transfer-Encoding:', '-H', 'Content-Type: application/octet-stream'], await pattern(MiB, 1));
      assert.equal(ok.status, 200, ok.head);
      assert.deepEqual(JSON.parse(ok.head), { length: MiB });
      const tooBig = await curl(url(way, 'length'), ['-X', 'POST', '-H', 'Content-Type: application/octet-stream'], await pattern(3 * MiB, 1));
      assert.equal(tooBig.status, 413, tooBig.head);
      assert.match(tooBig.head, /"body_too_large"/);
    });

    test('a reply that breaks mid-way is an error for curl, with and without Content-Length', async () => {
      const withLength = await curl(url(way, `breaks//${2 * MiB}/${8 * MiB}`));
      assert.notEqual(withLength.code, 0, 'curl reports the short body');
      assert.ok(withLength.bytes < 8 * MiB);
      assert.match(withLength.stderr, /curl: \(18\)|curl: \(56\)/);
      const chunked = await curl(url(way, `breaks//${2 * MiB}`));
      assert.notEqual(chunked.code, 0, 'no final chunk: curl reports it');
      assert.match(chunked.stderr, /curl: \(18\)|curl: \(56\)/);
    });

    test('a caller that leaves mid-download or mid-upload fires the far handler\'s signal; nothing stays in flight', async () => {
      const aborted = waitAborted(way.far(), 'get_pattern');
      const down = startCurl(url(way, `pattern//${1024 * MiB}/1`), ['--limit-rate', '4M']);
      while (down.received < 2 * MiB) await new Promise((r) => setTimeout(r, 20));
      down.child.kill('SIGKILL');
      await aborted;

      const stalled = way.far().waitForLog((l) => l['streams'] === 'started' && l['method'] === 'post_stall', 'post_stall started', 10_000);
      const abortedUp = waitAborted(way.far(), 'post_stall');
      const up = startCurl(url(way, 'stall'), ['-X', 'POST'], await pattern(1024 * MiB, 1));
      await stalled;
      up.child.kill('SIGKILL');
      await abortedUp;
      for (let i = 0; i < 100 && (await eventsInFlight(way)) !== 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal(await eventsInFlight(way), 0);
    });

    test('a slow reader (curl --limit-rate) holds the far side back; small events on the same pipe keep answering', async () => {
      const before = await memory(way);
      const slow = startCurl(url(way, `pattern//${16 * MiB}/4`), ['--limit-rate', '4M']);
      let small = 0;
      while (slow.received < 14 * MiB) {
        const r = await curl(url(way, 'time'));
        assert.equal(r.status, 200, `a small event during the slow download: ${r.head}`);
        small++;
      }
      const r = await slow.done;
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.sha256, sha.get(`${16 * MiB}/4`));
      assert.ok(small >= 5, `${small} small events answered meanwhile`);
      const afterMem = await memory(way);
      // The far node produced 16 MiB for a reader taking 4 MiB/s: it held at most its windows.
      assert.ok(afterMem.far - before.far < 48 * MiB, `the replying node's peak grew by ${((afterMem.far - before.far) / MiB).toFixed(1)} MiB`);
    });
  });
}

test('each node\'s peak memory does not grow with the size: 256 MiB down and up after the 64 MiB runs', async () => {
  const way = WAYS[0]!;
  const before = await memory(way);
  const down = await curl(url(way, `pattern//${256 * MiB}/5`));
  assert.equal(down.code, 0, down.stderr);
  assert.equal(down.sha256, sha.get(`${256 * MiB}/5`));
  const up = await curl(url(way, 'hash'), ['-X', 'POST'], await pattern(256 * MiB, 5));
  assert.equal(JSON.parse(up.head).sha256, sha.get(`${256 * MiB}/5`));
  const afterMem = await memory(way);
  // 4× the bytes of the runs before: a node that held a body whole would grow by ≥ 192 MiB.
  for (const side of ['near', 'far'] as const) {
    assert.ok(afterMem[side] - before[side] < 48 * MiB, `${side} node: peak ${(before[side] / MiB).toFixed(0)} → ${(afterMem[side] / MiB).toFixed(0)} MiB`);
  }
});
