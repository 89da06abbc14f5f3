// The inspector page (SPEC §13, issue 15) in a real browser: Debian's chromium driven by
// playwright-core, on the gateway of a real `restpipe server --inspect --inspect-bodies` whose
// pipe goes to a real `restpipe client`. Events are sent with curl, as a user would.
//
// Covered: the page loads with no console error; the client's pipe is listed; events sent with
// curl both ways appear within 1 s without a reload; an event's detail shows its headers and
// body with Authorization redacted; replay makes a new event with the same answer; the rows can
// be walked and opened with the keyboard; stopping the client turns its row to closed within
// the heartbeat timeout; a foreign Host gets 403 as on the gateway. A screenshot is taken
// (RP_INSPECTOR_SCREENSHOT=PATH keeps it there: docs/inspector.png was made so).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type { Browser, Page } from 'playwright-core';

import { within, heartbeatTick } from '../helpers/bounds.js';
import { launchChromium, skipWithoutChromium as skip } from '../helpers/browser.js';
import { clientConnected, E2E_HANDLERS, FAST_FLAGS, killAll, startClient, startServer, tempDir, type CliProcess, type StartedServer } from '../helpers/cli-processes.js';
import { makePki, type Pki } from '../helpers/pki.js';

const run = promisify(execFile);
/** SPEC §13 / issue 15: an event shows on the page within a second of its answer. */
const APPEARS_WITHIN_MS = 1_000;
/** FAST_FLAGS' heartbeat, in ms. */
const HEARTBEAT = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 1_000 };

let pki: Pki;
let server: StartedServer;
let client: { proc: CliProcess; gateway: { host: string; port: number } | undefined };
let browser: Browser;
let page: Page;
const consoleErrors: string[] = [];
let shots: { dir: string; remove: () => Promise<void> };

const serverGw = (): string => `http://127.0.0.1:${server.gateway!.port}`;
const clientGw = (): string => `http://127.0.0.1:${client.gateway!.port}`;

/** curl, as a user runs it: the status line and the body. */
async function curl(args: string[]): Promise<{ status: number; body: string }> {
  const { stdout } = await run('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code}', ...args]);
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

before(async () => {
  if (skip) return;
  pki = await makePki();
  shots = await tempDir('restpipe-inspector-shots-');
  const flags = ['--handlers', E2E_HANDLERS, ...FAST_FLAGS];
  server = await startServer(await pki.certDir('server', pki.server), [...flags, '--inspect', '--inspect-bodies']);
  client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, flags);
  await clientConnected(server.proc, 'client1');
  browser = await launchChromium(['--host-resolver-rules=MAP evil.example 127.0.0.1']);
  page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (err) => consoleErrors.push(err.message));
});

after(async () => {
  await browser?.close();
  await killAll();
  await shots?.remove();
  await pki?.cleanup();
});

/** The id of the focused row (the page runs in the browser: this project's types have no DOM). */
const focusedId = (): Promise<string | undefined> => page.evaluate('document.activeElement?.dataset?.id');
const row = (text: string): string => `#events tbody tr:has(td.noun:text-is("${text}"))`;

test('the page loads with no console error and lists the client\'s pipe', { skip, timeout: 60_000 }, async () => {
  const res = await page.goto(`${serverGw()}/inspect`);
  assert.equal(res?.status(), 200);
  await page.waitForSelector('#live.on', { timeout: 10_000 });
  const pipeRow = page.locator('#pipes tr[data-peer="client1"]');
  await pipeRow.waitFor({ timeout: 5_000 });
  assert.equal(await pipeRow.getAttribute('data-state'), 'open');
  assert.match((await pipeRow.textContent()) ?? '', /127\.0\.0\.1/);
  assert.deepEqual(consoleErrors, []);
});

test('events sent with curl both ways appear within 1 s, newest on top, without a reload', { skip, timeout: 60_000 }, async () => {
  const out = await curl([`${serverGw()}/client/client1/cat//to/client`]);
  assert.equal(out.status, 200);
  const t0 = performance.now();
  await page.waitForSelector(row('cat//to/client'), { timeout: APPEARS_WITHIN_MS });
  const shownAfter = [performance.now() - t0];
  const back = await curl([`${clientGw()}/server/cat//to/server`]);
  assert.equal(back.status, 200);
  const t1 = performance.now();
  await page.waitForSelector(row('cat//to/server'), { timeout: APPEARS_WITHIN_MS });
  shownAfter.push(performance.now() - t1);
  const top = await page.locator('#events tbody tr').first().locator('td').allTextContents();
  assert.deepEqual([top[1], top[2], top[4], top[5], top[6]], ['in', 'client1', 'cat//to/server', '200', '0']);
  const second = await page.locator('#events tbody tr').nth(1).locator('td').allTextContents();
  assert.deepEqual([second[1], second[4]], ['out', 'cat//to/client']);
  assert.ok(shownAfter.every((ms) => ms < APPEARS_WITHIN_MS), `shown after ${shownAfter.map((ms) => ms.toFixed(0)).join(', ')} ms`);
});

test('the detail shows headers and the body, Authorization redacted; replay makes a new event with the same answer', { skip, timeout: 60_000 }, async () => {
  const r = await curl(['-X', 'POST', '-H', 'Authorization: Bearer top-secret', '-H', 'Content-Type: application/json', '-H', 'X-Trace: t-42', '--data', '{"hello":"inspector"}', `${serverGw()}/client/client1/echo`]);
  assert.equal(r.status, 200);
  assert.equal(r.body, '{"hello":"inspector"}');
  await page.click(row('echo'), { timeout: 5_000 });
  await page.waitForSelector('#detail pre.body', { timeout: 5_000 });
  const detail = (await page.textContent('#detail')) ?? '';
  assert.match(detail, /authorization\s*\[redacted\]/);
  assert.match(detail, /x-trace\s*t-42/);
  assert.doesNotMatch(detail, /top-secret/);
  assert.deepEqual(await page.locator('#detail pre.body').allTextContents(), ['{"hello":"inspector"}', '{"hello":"inspector"}']);
  await page.screenshot({ path: process.env['RP_INSPECTOR_SCREENSHOT'] ?? join(shots.dir, 'inspector.png') });

  const rowsBefore = await page.locator(row('echo')).count();
  await page.click('#replay');
  await page.waitForSelector('#detail .replay-result:text-matches("replayed as #\\\\d+: status 200")', { timeout: 5_000 });
  const result = (await page.textContent('#detail .replay-result')) ?? '';
  const newId = /#(\d+)/.exec(result)![1]!;
  await page.waitForSelector(`#events tbody tr[data-id="${newId}"]`, { timeout: APPEARS_WITHIN_MS });
  assert.equal(await page.locator(row('echo')).count(), rowsBefore + 1);
  await page.click(`#events tbody tr[data-id="${newId}"]`);
  await page.waitForSelector('#detail pre.body', { timeout: 5_000 });
  assert.match((await page.textContent('#detail')) ?? '', new RegExp(`replay of#\\d+`));
  assert.deepEqual(await page.locator('#detail pre.body').allTextContents(), ['{"hello":"inspector"}', '{"hello":"inspector"}']);
  assert.deepEqual(consoleErrors, []);
});

test('the list is usable with the keyboard: Tab reaches it, arrows move, Enter opens the detail', { skip, timeout: 60_000 }, async () => {
  await page.focus('#events tbody tr[tabindex="0"]');
  const first = await focusedId();
  await page.keyboard.press('ArrowDown');
  const second = await focusedId();
  assert.ok(Number(second) < Number(first), `moved down from #${first} to an older event, #${second}`);
  await page.keyboard.press('Enter');
  await page.waitForSelector(`#detail h3:text-matches("^#${second} ")`, { timeout: 5_000 });
  await page.keyboard.press('Home');
  assert.equal(await focusedId(), first);
});

test('a foreign Host gets 403 on /inspect, as on the gateway', { skip, timeout: 60_000 }, async () => {
  const other = await browser.newPage();
  try {
    const res = await other.goto(`http://evil.example:${server.gateway!.port}/inspect`);
    assert.equal(res?.status(), 403);
    assert.match(await other.content(), /forbidden/);
  } finally {
    await other.close();
  }
  const byCurl = await curl(['-H', 'Host: evil.example', `${serverGw()}/inspect/api/events`]);
  assert.equal(byCurl.status, 403);
});

test("stopping the client turns its row to closed within the heartbeat timeout", { skip, timeout: 60_000 }, async () => {
  // SIGKILL: the client says nothing; the server learns it from the socket or the heartbeat.
  const stopped = performance.now();
  await client.proc.kill();
  await page.waitForSelector('#pipes tr[data-peer="client1"][data-state="closed"]', { timeout: within(HEARTBEAT.heartbeatTimeoutMs, heartbeatTick(HEARTBEAT)) });
  const tookMs = performance.now() - stopped;
  assert.ok(tookMs < within(HEARTBEAT.heartbeatTimeoutMs, heartbeatTick(HEARTBEAT)), `${tookMs.toFixed(0)} ms`);
  assert.deepEqual(consoleErrors, []);
});
