// Issue 8 item 2: a peer controls what the server's log says and how much. 8 parallel loops of
// connect, hello, a 64 KiB GOAWAY whose reason carries newlines, against a real `restpipe
// server` whose stderr is a terminal (util-linux/bsdutils `script` gives it a pty, so its log is
// pino-pretty's terminal format, where strings are printed as they are). Before the fix: the
// reason was logged in full three times per connection, not rate-limited (2,605 connections made
// 346 MB of log in 10 s), and its newlines reached the terminal raw, forging log lines. Now the
// log grows by a bounded number of bytes per second, no forged line appears (the newline is
// escaped, the reason cut to ~200 characters), and /metrics counts the replacements per CN.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

import { BIN, cleanEnv, REPO_ROOT } from '../helpers/cli-processes.js';
import { httpRequest } from '../helpers/gateway-http.js';
import { connectHostilePeer, GoAwayCode } from '../helpers/hostile-peer.js';
import { makePki, type Pki } from '../helpers/pki.js';

const SCRIPT = ['/usr/bin/script', '/bin/script'].find((p) => spawnSync('test', ['-x', p]).status === 0);
const skip = SCRIPT === undefined ? 'needs script (bsdutils) to give the server a terminal' : false;
const LOOPS = 8;
const FLOOD_MS = 5_000;
/** What forging looks like in pino-pretty's format: a line of its own, at ERROR level. */
const FORGED = '[12:00:00.000] ERROR (666): FORGED by the peer';
const REASON = `ordinary words\n${FORGED}\n${'x'.repeat(60_000)}`;
/**
 * Log bytes per second allowed during the flood: the rate limit lets 5 lines per kind (connected,
 * replaced, goaway, disconnected, protocol error) per CN and 5 per address through per 10 s,
 * each a few hundred bytes with its fields and a reason cut to 200 characters. Before: ~34 MB/s.
 */
const MAX_LOG_BYTES_PER_S = 32 * 1024;

let pki: Pki;
let server: ChildProcess | undefined;
let output = '';
let pipePort: number;
let gatewayPort: number;

const plain = (): string => output.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');

before(async () => {
  if (skip) return;
  pki = await makePki();
  const certDir = await pki.certDir('server', pki.server);
  const command = [process.execPath, BIN.restpipe, 'server', '--cert-dir', certDir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0', '--heartbeat-interval', '0.25', '--heartbeat-timeout', '1']
    .map((a) => `'${a}'`)
    .join(' ');
  // script(1) runs the command in a session of its own (its pty's), out of the process group
  // killed below: the shell says its pid and becomes the node (exec), so that `after` can end it.
  const shell = `echo "NODEPID=$$"; exec ${command}`;
  // Its own process group, so that the node under script is ended with it (by this pid only).
  server = spawn(SCRIPT!, ['-qfec', shell, '/dev/null'], { cwd: REPO_ROOT, env: cleanEnv({ TERM: 'xterm' }), stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  server.stdout!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  server.stderr!.on('data', (c: Buffer) => (output += c.toString('utf8')));
  const deadline = performance.now() + 15_000;
  // Until the `port` field under each line has arrived too (a line's fields may come in a later chunk).
  while (portAfter('accepting pipes') === undefined || portAfter('REST gateway listening') === undefined) {
    if (server.exitCode !== null) throw new Error(`the server exited (${server.exitCode}): ${output}`);
    if (performance.now() > deadline) throw new Error(`the server did not start: ${output}`);
    await sleep(25);
  }
  // Port 0 for both: the bound ports are read back from the start-up lines (pino-pretty prints
  // a line's fields below it, `port: N` among them).
  pipePort = portAfter('accepting pipes')!;
  gatewayPort = portAfter('REST gateway listening')!;
});

/** The `port` field printed under the first line with `msg`, once both have arrived. */
function portAfter(msg: string): number | undefined {
  const text = plain();
  const at = text.indexOf(msg);
  if (at === -1) return undefined;
  const m = /^\n(?:\s+\w+: .*\n)*?\s+port: (\d+)\n/.exec(text.slice(at + msg.length));
  return m === null ? undefined : Number(m[1]);
}

after(async () => {
  const nodePid = Number(/NODEPID=(\d+)/.exec(plain())?.[1] ?? NaN);
  if (Number.isInteger(nodePid)) {
    try {
      process.kill(nodePid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  if (server?.pid !== undefined && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    process.kill(-server.pid, 'SIGKILL');
    await exited;
  }
  await pki?.cleanup();
});

async function floodLoop(until: number): Promise<number> {
  let connections = 0;
  while (performance.now() < until) {
    let peer;
    try {
      peer = await connectHostilePeer(pipePort, pki.client1.tls);
    } catch {
      continue;
    }
    connections++;
    peer.hello('client1');
    peer.goAway(GoAwayCode.PROTOCOL_ERROR, REASON);
    peer.socket.end();
    // Read now, so that the server's close reaches us at once and the next loop starts.
    peer.socket.resume();
    await Promise.race([peer.closed, sleep(1_000)]);
    peer.destroy();
  }
  return connections;
}

test('a GOAWAY flood: bounded log bytes per second, no forged line on the terminal, replacements counted per CN', { skip, timeout: 60_000 }, async (t) => {
  const before = Buffer.byteLength(output);
  const t0 = performance.now();
  const counts = await Promise.all(Array.from({ length: LOOPS }, () => floodLoop(t0 + FLOOD_MS)));
  const seconds = (performance.now() - t0) / 1000;
  await sleep(500); // the last lines of the flood
  const logBytes = Buffer.byteLength(output) - before;
  const connections = counts.reduce((a, b) => a + b, 0);
  const perSecond = Math.round(logBytes / seconds);
  const metrics = await httpRequest({ port: gatewayPort }, { path: '/metrics' });
  const replaced = Number(/^restpipe_pipe_replacements_total\{client="client1"\} (\d+)/m.exec(metrics.body.toString())?.[1] ?? 0);
  t.diagnostic(`GOAWAY flood: ${JSON.stringify({ loops: LOOPS, connections, seconds: Number(seconds.toFixed(1)), logBytes, logBytesPerSecond: perSecond, replacementsCounted: replaced })}`);

  assert.ok(connections >= 50, `the flood ran (${connections} connections)`);
  assert.ok(perSecond <= MAX_LOG_BYTES_PER_S, `${perSecond} log bytes/s during the flood (bound ${MAX_LOG_BYTES_PER_S})`);
  const lines = plain().split('\n');
  const forged = lines.filter((l) => l.trimStart().startsWith(FORGED));
  assert.deepEqual(forged.slice(0, 3), [], 'no line of the terminal log was written by the peer');
  assert.ok(plain().includes(`ordinary words\\n${FORGED}\\nxxx`), 'the reason is logged, its newlines escaped');
  assert.ok(!plain().includes('x'.repeat(300)), 'the reason is cut to about 200 characters');
  // The count of what was held back comes when the rate limit's 10 s window closes.
  const summaryBy = t0 + 10_000 + 3_000;
  while (!plain().includes('suppressed') && performance.now() < summaryBy) await sleep(50);
  assert.match(plain(), /\d+ more log lines like '[a-z-]+:client1' suppressed/, 'the lines past the rate limit are counted, not lost silently');
  assert.equal(metrics.status, 200);
  assert.ok(replaced >= 1, `restpipe_pipe_replacements_total{client="client1"} = ${replaced}`);
});
