// Forwarding (issue 12, SPEC §10): server-sent events pass without buffering. The upstream
// fixture sends one event every 100 ms for 5 s (no Content-Length), each stamped with its send
// time; the caller reads the gateway's response as it arrives and stamps each event on arrival
// with the same clock (timeOrigin + now, one machine). Every event must arrive within 50 ms of
// its send, in order, none missing; the stream then ends cleanly.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { killAll } from '../helpers/cli-processes.js';
import { startForwardPair, startUpstream, type ForwardPair } from '../helpers/forward.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { stopAll } from '../helpers/processes.js';

const EVERY_MS = 100;
const EVENTS = 50; // 5 s
const MAX_DELAY_MS = 50;

let pki: Pki;
let pair: ForwardPair;

before(async () => {
  pki = await makePki();
  const upstream = await startUpstream();
  pair = await startForwardPair(pki, { feed: upstream.base });
});

after(async () => {
  await killAll();
  await stopAll();
  await pki?.cleanup();
});

interface Received {
  i: number;
  sentAt: number;
  receivedAt: number;
}

test(`an SSE feed: each of ${EVENTS} events (${EVERY_MS} ms apart) arrives within ${MAX_DELAY_MS} ms of its send`, async (t) => {
  const received: Received[] = [];
  const { status, contentType, complete } = await new Promise<{ status: number; contentType: string; complete: boolean }>((resolve, reject) => {
    const req = http.get(pair.url(`feed/sse?n=${EVENTS}&every=${EVERY_MS}`), { agent: false, headers: { Accept: 'text/event-stream' } }, (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const receivedAt = performance.timeOrigin + performance.now();
        buf += chunk;
        let end: number;
        while ((end = buf.indexOf('\n\n')) !== -1) {
          const block = buf.slice(0, end);
          buf = buf.slice(end + 2);
          const data = block.split('\n').find((l) => l.startsWith('data: '));
          if (data === undefined) continue;
          const { i, sentAt } = JSON.parse(data.slice(6)) as { i: number; sentAt: number };
          received.push({ i, sentAt, receivedAt });
        }
      });
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), complete: res.complete });
      });
      res.on('error', reject);
    });
    const timer = setTimeout(() => req.destroy(new Error(`the feed did not end within ${EVENTS * EVERY_MS + 10_000} ms`)), EVENTS * EVERY_MS + 10_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
  assert.equal(status, 200);
  assert.match(contentType, /^text\/event-stream/);
  assert.ok(complete, 'the feed ended cleanly');
  assert.deepEqual(received.map((r) => r.i), Array.from({ length: EVENTS }, (_, i) => i), 'every event, in order');
  const delays = received.map((r) => r.receivedAt - r.sentAt).sort((a, b) => a - b);
  const summary = `delay from send to arrival: median ${delays[delays.length >> 1]!.toFixed(1)} ms, max ${delays[delays.length - 1]!.toFixed(1)} ms`;
  t.diagnostic(summary);
  const late = received.filter((r) => r.receivedAt - r.sentAt > MAX_DELAY_MS).map((r) => `#${r.i}: ${(r.receivedAt - r.sentAt).toFixed(1)} ms`);
  assert.deepEqual(late, [], `events later than ${MAX_DELAY_MS} ms (${summary})`);
});
