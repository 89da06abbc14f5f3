// The inspector under load (issue 15): 20,000 events through a real pipe while the page
// watches a client node's gateway. The page must be left responsive (a click on a row shows
// its detail within 200 ms, measured in the page from the moment the click is queued; also
// measured and reported during the flood) and bounded (the table keeps at most 200 rows, the page's DOM and heap
// stay small). Runs in the serial tier: it loads both cores for a few seconds.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import type { Browser, CDPSession, Page } from 'playwright-core';

import { launchChromium, skipWithoutChromium as skip } from '../helpers/browser.js';
import { clientConnected, E2E_HANDLERS, FAST_FLAGS, killAll, startClient, startServer, type CliProcess, type StartedServer } from '../helpers/cli-processes.js';
import { makePki, type Pki } from '../helpers/pki.js';

const EVENTS = 20_000;
const CONCURRENCY = 32;
/** Issue 15: a click answers within 200 ms. */
const CLICK_ANSWERS_WITHIN_MS = 200;
const MAX_ROWS = 200;
/** Bounds on the page after 20,000 events (it holds at most the node's 500 events and 200 rows). */
const MAX_DOM_NODES = 5_000;
const MAX_HEAP_BYTES = 40 * 1024 * 1024;

let pki: Pki;
let server: StartedServer;
let client: { proc: CliProcess; gateway: { host: string; port: number } | undefined };
let browser: Browser;
let page: Page;
let cdp: CDPSession;
const consoleErrors: string[] = [];

before(async () => {
  if (skip) return;
  pki = await makePki();
  const flags = ['--handlers', E2E_HANDLERS, ...FAST_FLAGS];
  server = await startServer(await pki.certDir('server', pki.server), flags);
  client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, [...flags, '--inspect']);
  await clientConnected(server.proc, 'client1');
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  page.on('console', (m) => {
    // At 2,000 events a second the node's ring of 500 turns over in a quarter of a second: an
    // event clicked during the flood may be gone when its detail is asked for. The node says
    // 404 (the page then shows "no longer kept"), and Chromium logs every 404 it fetches.
    if (m.type() === 'error' && !/\/inspect\/api\/events\/\d+$/.test(m.location().url)) consoleErrors.push(`${m.text()} (${m.location().url})`);
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));
  cdp = await page.context().newCDPSession(page);
  await cdp.send('Performance.enable');
});

after(async () => {
  await browser?.close();
  await killAll();
  await pki?.cleanup();
});

/**
 * Clicks the newest row and resolves with the milliseconds until its detail is on screen: from
 * queueing the click behind whatever the page is doing, to the frame after the heading shows.
 */
const CLICK_LATENCY = `(async () => {
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, 0));
  const row = document.querySelector('#events tbody tr');
  if (!row) return -1;
  row.click();
  const want = '#' + row.dataset.id + ' ';
  while (!(document.querySelector('#detail h3')?.textContent ?? '').startsWith(want)) await new Promise((r) => setTimeout(r, 1));
  await new Promise((r) => requestAnimationFrame(() => r()));
  return performance.now() - t0;
})()`;

async function pageMetrics(): Promise<{ heap: number; nodes: number }> {
  await cdp.send('HeapProfiler.collectGarbage');
  const { metrics } = await cdp.send('Performance.getMetrics');
  const get = (name: string): number => metrics.find((m) => m.name === name)?.value ?? NaN;
  return { heap: get('JSHeapUsedSize'), nodes: get('Nodes') };
}

/** Sends `n` GET /server/time on keep-alive connections, `CONCURRENCY` at a time; calls `progress` every 2,500. */
async function flood(n: number, progress: (sent: number) => Promise<void>): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  let failures = 0;
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: client.gateway!.port, path: '/server/time', agent }, (res) => {
        if (res.statusCode !== 200) failures++;
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', reject);
    });
  const pending: Promise<void>[] = [];
  try {
    const worker = async (): Promise<void> => {
      while (next < n) {
        next++;
        await one();
      }
    };
    const checkpoints = (async () => {
      for (let mark = 2_500; mark < n; mark += 2_500) {
        while (next < mark) await new Promise((r) => setTimeout(r, 20));
        await progress(next);
      }
    })();
    for (let i = 0; i < CONCURRENCY; i++) pending.push(worker());
    await Promise.all([...pending, checkpoints]);
  } finally {
    agent.destroy();
  }
  assert.equal(failures, 0, `${failures} of ${n} events failed`);
}

test('20,000 events leave the page responsive (a click answers within 200 ms) and its memory bounded', { skip, timeout: 180_000 }, async (t) => {
  await page.goto(`http://127.0.0.1:${client.gateway!.port}/inspect`);
  await page.waitForSelector('#live.on', { timeout: 10_000 });
  const baseline = await pageMetrics();
  // Measured during the flood too, and reported: on two shared cores the browser then competes
  // with both nodes and the load generator for the CPU, so those figures say more about the
  // machine than about the page. The bound holds for the page the events leave behind.
  const duringFlood: number[] = [];
  const started = performance.now();
  await flood(EVENTS, async () => {
    const ms = (await page.evaluate(CLICK_LATENCY)) as number;
    if (ms >= 0) duringFlood.push(ms);
  });
  const floodS = (performance.now() - started) / 1000;
  // Every event has reached the page: the newest row is the node's newest event.
  const res = await fetch(`http://127.0.0.1:${client.gateway!.port}/inspect/api/events?limit=1`);
  const { lastId } = (await res.json()) as { lastId: number };
  assert.ok(lastId >= EVENTS, `the node recorded ${lastId} events`);
  await page.waitForSelector(`#events tbody tr[data-id="${lastId}"]`, { timeout: 5_000 });
  const latencies: number[] = [];
  for (let i = 0; i < 5; i++) latencies.push((await page.evaluate(CLICK_LATENCY)) as number);
  const rows = await page.locator('#events tbody tr').count();
  const after = await pageMetrics();
  t.diagnostic(
    `${EVENTS} events in ${floodS.toFixed(1)} s; click → detail during the flood ${duringFlood.map((ms) => ms.toFixed(0)).join(', ')} ms, after it ${latencies.map((ms) => ms.toFixed(0)).join(', ')} ms; ` +
      `rows ${rows}; DOM nodes ${baseline.nodes} → ${after.nodes}; JS heap ${(baseline.heap / 1e6).toFixed(1)} → ${(after.heap / 1e6).toFixed(1)} MB`,
  );
  assert.ok(duringFlood.length >= 5, `measured ${duringFlood.length} clicks during the flood`);
  assert.ok(Math.max(...latencies) < CLICK_ANSWERS_WITHIN_MS, `click latencies ${latencies.map((ms) => ms.toFixed(0)).join(', ')} ms`);
  assert.equal(rows, MAX_ROWS);
  assert.ok(after.nodes < MAX_DOM_NODES, `${after.nodes} DOM nodes`);
  assert.ok(after.heap < MAX_HEAP_BYTES, `${after.heap} bytes of JS heap`);
  assert.deepEqual(consoleErrors, []);
});
