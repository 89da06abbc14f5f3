// README.md's set-up flow, run as written: the `$ …` lines of the blocks marked `# readme-flow`,
// in order, in a fresh directory, with the ports made free ones. `npx restpipe` and the
// `npx rp_*` aliases become `node bin/…` (npx itself is covered by demo-once.test.ts), the
// long-running `restpipe server|client` lines start processes (a second one of a role first
// stops the running one with Ctrl-C, as the README says), `curl` lines become the same HTTP
// requests, anything else runs in sh. Every output the README shows is checked: command output
// line by line (paths, dates and numbers may differ), curl bodies as JSON of the same shape or as
// the same text, and the status and headers of `curl -i`.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';

import { httpRequest, type HttpResult } from '../helpers/gateway-http.js';
import { fencedBlocks, markedBlocks, readReadme } from '../helpers/readme.js';
import {
  BIN,
  REPO_ROOT,
  clientConnected,
  clientReady,
  gatewayAddress,
  killAll,
  pipePort,
  runCli,
  spawnCli,
  startedUp,
  tempDir,
  type CliProcess,
} from '../helpers/cli-processes.js';

interface Step {
  command: string;
  expected: string[];
}

/** The `$ ` commands of the marked blocks, each with the output lines shown under it. */
function flowSteps(): Step[] {
  const steps: Step[] = [];
  for (const block of markedBlocks(readReadme(), 'readme-flow')) {
    for (const line of block) {
      if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
      else if (steps.length > 0 && line.trim() !== '' && !line.startsWith('# ')) steps.at(-1)!.expected.push(line);
      else if (steps.length > 0 && line.trim() === '' && steps.at(-1)!.expected.length > 0) steps.at(-1)!.expected.push(line);
    }
  }
  return steps;
}

/** Splits a command line as sh would for these simple lines: spaces, '…' and "…" quoting. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let current: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const end = line.indexOf(c, i + 1);
      assert.ok(end !== -1, `unbalanced quote in ${line}`);
      current = (current ?? '') + line.slice(i + 1, end);
      i = end;
    } else if (c === ' ') {
      if (current !== undefined) words.push(current);
      current = undefined;
    } else {
      current = (current ?? '') + c;
    }
  }
  if (current !== undefined) words.push(current);
  return words;
}

/** An output line as a pattern: words with a path or a digit in them may differ. */
function linePattern(expected: string): RegExp {
  const words = expected.trim().split(/\s+/);
  const parts = words.map((w) => (/[/\d]/.test(w) ? '\\S+' : w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^\\s*${parts.join('\\s+')}\\s*$`);
}

function assertLines(actual: string[], expected: string[], what: string): void {
  const a = actual.filter((l) => l.trim() !== '');
  const e = expected.filter((l) => l.trim() !== '');
  assert.equal(a.length, e.length, `${what}: README shows ${e.length} lines, got ${a.length}:\n${a.join('\n')}`);
  e.forEach((line, i) => assert.match(a[i]!, linePattern(line), `${what}, line ${i + 1}`));
}

/** Same shape: same keys, equal strings (`…` matches anything), numbers where numbers are. */
function assertSameShape(actual: unknown, expected: unknown, where: string): void {
  if (typeof expected === 'number') {
    assert.equal(typeof actual, 'number', where);
  } else if (typeof expected === 'string') {
    assert.equal(typeof actual, 'string', where);
    const pattern = new RegExp(`^${expected.split('…').map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\s\\S]*')}$`);
    assert.match(actual as string, pattern, where);
  } else if (Array.isArray(expected)) {
    assert.ok(Array.isArray(actual), where);
    assert.equal((actual as unknown[]).length, expected.length, where);
    expected.forEach((e, i) => assertSameShape((actual as unknown[])[i], e, `${where}[${i}]`));
  } else if (expected !== null && typeof expected === 'object') {
    assert.ok(actual !== null && typeof actual === 'object' && !Array.isArray(actual), where);
    assert.deepEqual(Object.keys(actual as object).sort(), Object.keys(expected).sort(), where);
    for (const [k, v] of Object.entries(expected)) assertSameShape((actual as Record<string, unknown>)[k], v, `${where}.${k}`);
  } else {
    assert.equal(actual, expected, where);
  }
}

function assertBody(res: HttpResult, expected: string[], what: string): void {
  const text = expected.join('\n');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    assert.equal(res.body.toString().replace(/\n$/, ''), text, what);
    return;
  }
  assertSameShape(res.json(), json, what);
}

let tmp: { dir: string; remove: () => Promise<void> };
const nodes: Partial<Record<'server' | 'client', CliProcess>> = {};
const gateways: Record<string, number> = {};
let serverPipePort = 0;

before(async () => {
  tmp = await tempDir('restpipe-readme-');
});

after(async () => {
  await killAll();
  await tmp?.remove();
});

/** Leading `NAME=value` words become the environment, as in sh. */
function splitEnv(words: string[]): { env: Record<string, string>; rest: string[] } {
  const env: Record<string, string> = {};
  let i = 0;
  for (; i < words.length && /^[A-Z_][A-Z0-9_]*=/.test(words[i]!); i++) {
    const w = words[i]!;
    env[w.slice(0, w.indexOf('='))] = w.slice(w.indexOf('=') + 1);
  }
  return { env, rest: words.slice(i) };
}

async function runNode(role: 'server' | 'client', args: string[], env: Record<string, string>): Promise<void> {
  const running = nodes[role];
  if (running !== undefined) {
    // "Stop both nodes (Ctrl-C …)": the README's step 5 restarts them.
    running.signal('SIGINT');
    const { code } = await running.waitForExit(15_000);
    assert.equal(code, 0, `Ctrl-C on the ${role}: exit 0\n${running.dump()}`);
    assert.ok(running.log.some((l) => String(l['msg']).startsWith('stopped: drained')), running.dump());
  }
  const adjusted = args.map((a, i) => {
    const flag = args[i - 1];
    if (flag === '--listen') return '127.0.0.1:0';
    if (flag === '--http') return '127.0.0.1:0';
    if (flag === '--server') return `localhost:${serverPipePort}`;
    if (flag === '--handlers' && a.startsWith('./')) return join(REPO_ROOT, a);
    return a;
  });
  const proc = spawnCli(adjusted, { cwd: tmp.dir, env, name: `README ${role}` });
  nodes[role] = proc;
  const readmePort = Number(args[args.indexOf('--http') + 1]!.split(':')[1]);
  if (role === 'server') serverPipePort = await pipePort(proc);
  gateways[readmePort] = (await gatewayAddress(proc)).port;
  await startedUp(proc);
  if (role === 'client') {
    await clientReady(proc);
    await clientConnected(nodes.server!, 'fileserver');
  }
}

async function runCurl(words: string[], expected: string[]): Promise<void> {
  let method: string | undefined;
  let body: string | undefined;
  let showHeaders = false;
  let url: string | undefined;
  const headers: Record<string, string> = {};
  for (let i = 1; i < words.length; i++) {
    const w = words[i]!;
    if (w === '-X') method = words[++i];
    else if (w === '-H') {
      const h = words[++i]!;
      headers[h.slice(0, h.indexOf(':')).toLowerCase()] = h.slice(h.indexOf(':') + 1).trim();
    } else if (w === '-d') body = words[++i];
    else if (w === '-i') showHeaders = true;
    else if (w === '-s') continue;
    else if (w.startsWith('http://')) url = w;
    else assert.fail(`the readme-flow test does not know curl's ${w}`);
  }
  const m = /^http:\/\/127\.0\.0\.1:(\d+)(\/.*)$/.exec(url ?? '');
  assert.ok(m !== null, `curl URL ${url}`);
  const port = gateways[Number(m[1])];
  assert.ok(port !== undefined, `no node started with --http 127.0.0.1:${m[1]} yet`);
  if (body !== undefined) headers['content-type'] ??= 'application/x-www-form-urlencoded';
  const res = await httpRequest({ port }, { method: method ?? (body === undefined ? 'GET' : 'POST'), path: m[2]!, headers, ...(body === undefined ? {} : { body }) });
  const what = `curl ${url}`;
  if (!showHeaders) {
    assert.ok(res.status >= 200 && res.status < 300, `${what}: ${res.status} ${res.body.toString()}`);
    assertBody(res, expected, what);
    return;
  }
  const blank = expected.indexOf('');
  const head = expected.slice(0, blank);
  const status = /^HTTP\/1\.1 (\d{3}) /.exec(head[0] ?? '');
  assert.ok(status !== null, `${what}: README shows a status line`);
  assert.equal(res.status, Number(status[1]), `${what}: ${res.body.toString()}`);
  for (const h of head.slice(1)) {
    const name = h.slice(0, h.indexOf(':')).toLowerCase();
    assert.equal(res.headers[name], h.slice(h.indexOf(':') + 1).trim(), `${what}: header ${name}`);
  }
  assertBody(res, expected.slice(blank + 1), what);
}

test('README.md’s set-up flow works as written', async () => {
  const steps = flowSteps();
  assert.ok(steps.length >= 15, `README.md has the flow (${steps.length} steps)`);
  const ran = { cli: 0, nodes: 0, curl: 0, sh: 0 };
  for (const { command, expected } of steps) {
    const { env, rest } = splitEnv(shellWords(command));
    if (rest[0] === 'npx' && rest[1] === 'restpipe' && (rest[2] === 'server' || rest[2] === 'client') && rest[3] !== 'set-identity') {
      assert.deepEqual(expected, [], `README shows no output for ${command}`);
      await runNode(rest[2], rest.slice(2), env);
      ran.nodes++;
    } else if (rest[0] === 'npx') {
      const script = rest[1] === 'restpipe' ? BIN.restpipe : BIN[rest[1] as keyof typeof BIN];
      assert.ok(script !== undefined, `unknown command ${rest[1]}`);
      const r = await runCli(rest.slice(2), { script, cwd: tmp.dir, env });
      assert.equal(r.code, 0, `${command}\n${r.stderr}`);
      assertLines(r.stdout.split('\n'), expected, command);
      ran.cli++;
    } else if (rest[0] === 'curl') {
      await runCurl(rest, expected);
      ran.curl++;
    } else {
      const r = spawnSync('sh', ['-c', command], { cwd: tmp.dir, encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 0, `${command}: ${r.stderr}`);
      assertLines(r.stdout.split('\n'), expected, command);
      ran.sh++;
    }
  }
  assert.ok(ran.cli >= 5 && ran.nodes === 4 && ran.curl >= 10 && ran.sh >= 1, JSON.stringify(ran));

  // Every key restpipe wrote is 0600; the cert dirs are 0700.
  for (const key of ['pki/ca.key.pem', 'pki/server.key.pem', 'pki/fileserver.key.pem', 'state/server/restpipe.server.key.pem', 'state/client/restpipe.client.key.pem']) {
    assert.equal((await stat(join(tmp.dir, key))).mode & 0o777, 0o600, key);
  }
  for (const dir of ['state/server', 'state/client']) assert.equal((await stat(join(tmp.dir, dir))).mode & 0o777, 0o700, dir);

  // The hooks of the example handlers ran (they write to stderr).
  assert.ok(nodes.client!.log.some((l) => l.text.startsWith('fileserver: pipe up after 0 failed attempts')), nodes.client!.dump());
  assert.ok(nodes.server!.log.some((l) => l.text === 'webserver: fileserver connected (1 connected)'), nodes.server!.dump());

  // Ctrl-C: both stop cleanly.
  for (const role of ['client', 'server'] as const) {
    nodes[role]!.signal('SIGINT');
    const { code } = await nodes[role]!.waitForExit(15_000);
    assert.equal(code, 0, nodes[role]!.dump());
  }
});

/** The plain block right after the line that introduces it. */
function blockAfter(text: string, intro: string): string[] {
  const at = text.indexOf(intro);
  assert.ok(at !== -1, `README.md has "${intro}"`);
  const block = fencedBlocks(text.slice(at))[0];
  assert.ok(block !== undefined);
  return block.lines;
}

test('`npx restpipe demo --once` prints what README.md shows', async () => {
  const r = await runCli(['demo', '--once'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assertLines(r.stdout.split('\n'), blockAfter(readReadme(), '`npx restpipe demo --once` prints:'), 'demo --once');
});

test('the library example (test/fixtures/library-example.ts) prints what README.md shows', async () => {
  const r = await runCli([], { script: join(REPO_ROOT, 'dist', 'test', 'fixtures', 'library-example.js'), timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assertLines(r.stdout.split('\n'), blockAfter(readReadme(), 'It prints:'), 'test/fixtures/library-example.ts');
});
