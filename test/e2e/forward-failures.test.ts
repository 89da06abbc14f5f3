// Forwarding (issue 12, SPEC §10) when the upstream fails, and under load: every request ends
// with exactly one response, and a reply the upstream cut short never looks complete.
//   - upstream down (nothing listens on its port): 502 `upstream_unreachable`
//   - upstream that accepts and never answers: 504 `upstream_timeout` after --forward-timeout 1
//   - upstream that dies mid-body (known length, and chunked): the caller's response ends
//     abnormally, for curl (non-zero exit) and for Node's http client (no clean 'end')
//   - 1,000 concurrent forwarded requests through the one pipe: each answered once, right body,
//     and each reached the upstream once
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { killAll } from '../helpers/cli-processes.js';
import { curl } from '../helpers/curl.js';
import { freePort, startForwardPair, startUpstream, type ForwardPair, type Upstream } from '../helpers/forward.js';
import { httpRequest } from '../helpers/gateway-http.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { stopAll } from '../helpers/processes.js';

/** --forward-timeout of the client, s. */
const FORWARD_TIMEOUT_S = 1;
/** Slack for a loaded 2-core machine on top of the configured timer: one pipe round trip and scheduling. */
const MARGIN_MS = 2_000;
const CONCURRENT = 1_000;

let pki: Pki;
let upstream: Upstream;
/** Default timeouts: the 1,000 concurrent requests must not meet a 1 s --forward-timeout on a loaded machine. */
let pair: ForwardPair;
/** The same, with --forward-timeout 1. */
let shortPair: ForwardPair;
let downPort: number;

before(async () => {
  pki = await makePki();
  upstream = await startUpstream();
  // Bound a moment ago and released: nothing listens there (connections are refused).
  downPort = await freePort();
  pair = await startForwardPair(pki, { up: upstream.base, down: `http://127.0.0.1:${downPort}/` });
  shortPair = await startForwardPair(pki, { up: upstream.base }, ['--forward-timeout', String(FORWARD_TIMEOUT_S)]);
});

after(async () => {
  await killAll();
  await stopAll();
  await pki?.cleanup();
});

const gw = (): { port: number } => ({ port: pair.gatewayPort });

test('an upstream that is down: 502 upstream_unreachable', async () => {
  const res = await httpRequest(gw(), { path: '/client/client1/down/anything?x=1' });
  assert.equal(res.status, 502, res.body.toString());
  assert.equal(res.json().error.code, 'upstream_unreachable');
  // And again (nothing was left in a bad state by the first).
  const again = await httpRequest(gw(), { method: 'POST', path: '/client/client1/down/x', body: 'abc' });
  assert.equal(again.status, 502);
  assert.equal(again.json().error.code, 'upstream_unreachable');
});

test(`an upstream that never answers: 504 upstream_timeout after --forward-timeout ${FORWARD_TIMEOUT_S}`, async () => {
  const t0 = performance.now();
  const short = { port: shortPair.gatewayPort };
  const res = await httpRequest(short, { path: '/client/client1/up/hang', timeoutMs: FORWARD_TIMEOUT_S * 1000 + MARGIN_MS + 5_000 });
  const ms = performance.now() - t0;
  assert.equal(res.status, 504, res.body.toString());
  assert.equal(res.json().error.code, 'upstream_timeout');
  assert.ok(ms >= FORWARD_TIMEOUT_S * 1000 - 50, `answered after ${ms.toFixed(0)} ms, before the timeout`);
  assert.ok(ms <= FORWARD_TIMEOUT_S * 1000 + MARGIN_MS, `answered after ${ms.toFixed(0)} ms`);
  // The node serves on.
  const ok = await httpRequest(short, { path: '/client/client1/up/n/after-timeout' });
  assert.equal(ok.status, 200);
  assert.equal(ok.body.toString(), 'n=after-timeout');
});

/** A GET read to its end with Node's http client: how the response ended. */
function nodeGet(url: string): Promise<{ status: number; bytes: number; end: 'clean' | 'aborted' }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let bytes = 0;
      let settled = false;
      const done = (end: 'clean' | 'aborted'): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, bytes, end });
      };
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => done(res.complete ? 'clean' : 'aborted'));
      res.on('error', () => done('aborted'));
      res.on('close', () => done(res.complete ? 'clean' : 'aborted'));
    });
    const timer = setTimeout(() => req.destroy(new Error(`no end to GET ${url} within 20 s`)), 20_000);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

for (const chunked of [false, true]) {
  const kind = chunked ? 'chunked' : 'with a Content-Length';
  test(`an upstream that dies mid-body (${kind}): the caller’s response ends abnormally, never as a clean short body`, async () => {
    const path = `up/die?bytes=65536${chunked ? '&chunked=1' : ''}`;
    const c = await curl(pair.url(path));
    assert.equal(c.status, 200);
    // 18: partial file (the length or the chunked terminator never came); 56: receive failure.
    assert.ok(c.code === 18 || c.code === 56, `curl exit ${c.code} after ${c.bytes} bytes: ${c.stderr}`);
    assert.ok(c.bytes < 64 * 2 ** 20);
    const n = await nodeGet(pair.url(path));
    assert.equal(n.status, 200);
    assert.equal(n.end, 'aborted', `Node saw a clean end after ${n.bytes} bytes`);
  });
}

test(`${CONCURRENT} concurrent forwarded requests through one pipe: each answered once, with its own body`, async () => {
  const agent = new http.Agent({ keepAlive: false, maxSockets: CONCURRENT });
  const one = (k: number): Promise<{ k: number; status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = http.get(pair.url(`up/n/c${k}?hold=200`), { agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ k, status: res.statusCode ?? 0, body }));
        res.on('error', reject);
      });
      req.setTimeout(60_000, () => req.destroy(new Error(`request ${k}: no answer within 60 s`)));
      req.on('error', reject);
    });
  try {
    const results = await Promise.all(Array.from({ length: CONCURRENT }, (_, k) => one(k)));
    const wrong = results.filter((r) => r.status !== 200 || r.body !== `n=c${r.k}`);
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} of ${CONCURRENT} wrong`);
  } finally {
    agent.destroy();
  }
  const counts = (await httpRequest({ port: upstream.port }, { path: '/counts' })).json() as Record<string, number>;
  const seen = Object.entries(counts).filter(([k]) => k.startsWith('c'));
  assert.equal(seen.length, CONCURRENT, 'every request reached the upstream');
  assert.deepEqual(seen.filter(([, n]) => n !== 1), [], 'no request reached the upstream twice');
});
