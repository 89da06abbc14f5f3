// README.md's nginx snippet (the block marked `# readme-nginx`), run by a real nginx in front of
// gateways listening on unix sockets (`--http unix:PATH`), both ways: nginx → the server's
// gateway → the pipe → a client's handler, and nginx → a client's gateway → the server's
// handler; and bodies larger than nginx would take by default, streamed through unbuffered.
// Needs /usr/sbin/nginx (CI's .ci/run installs it); skipped with a message without it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import net from 'node:net';

import { curl, pattern, patternSha256 } from '../helpers/curl.js';
import { httpRequest, type HttpTarget } from '../helpers/gateway-http.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { markedBlocks, readReadme } from '../helpers/readme.js';
import { E2E_HANDLERS, FAST_FLAGS, clientConnected, clientReady, killAll, startClient, startServer, startedUp, tempDir } from '../helpers/cli-processes.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const skip = NGINX === undefined ? 'nginx is not installed (/usr/sbin/nginx); .ci/run installs it' : false;
const COMMON = ['--handlers', E2E_HANDLERS, ...FAST_FLAGS];
const MiB = 1024 * 1024;

/** The unix socket nginx listens on. */
function socketOf(target: HttpTarget): string {
  assert.ok('socketPath' in target);
  return target.socketPath;
}

let pki: Pki;
let tmp: { dir: string; remove: () => Promise<void> };
const nginxes: ChildProcess[] = [];
let toServerGw: HttpTarget; // nginx in front of the server's gateway
let toClientGw: HttpTarget; // nginx in front of the client's gateway

/**
 * The README's snippet, proxying to SOCKET, inside a minimal nginx.conf of its own. nginx itself
 * listens on a unix socket of the test's, not on a TCP port: no port to pick (and no race for it).
 */
async function startNginx(name: string, socket: string): Promise<HttpTarget> {
  const blocks = markedBlocks(readReadme(), 'readme-nginx');
  assert.equal(blocks.length, 1, 'README.md has one nginx block marked # readme-nginx');
  const snippet = blocks[0]!.join('\n');
  assert.ok(snippet.includes('unix:/run/restpipe/gateway.sock') && snippet.includes('listen 127.0.0.1:8080;'), snippet);
  const prefix = join(tmp.dir, `nginx-${name}`);
  const listen = join(prefix, 'listen.sock');
  await mkdir(prefix, { recursive: true });
  const conf = [
    'daemon off;',
    'master_process off;',
    `error_log ${prefix}/error.log info;`,
    `pid ${prefix}/nginx.pid;`,
    'events { worker_connections 64; }',
    'http {',
    '    access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${prefix}/${t};`),
    snippet.replace('unix:/run/restpipe/gateway.sock', `unix:${socket}`).replace('listen 127.0.0.1:8080;', `listen unix:${listen};`),
    '}',
    '',
  ].join('\n');
  await writeFile(join(prefix, 'nginx.conf'), conf);
  const child = spawn(NGINX!, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
  nginxes.push(child);
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  // Ready when it accepts connections; bounded.
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`nginx exited (${child.exitCode}): ${output}\n${await readFile(join(prefix, 'error.log'), 'utf8').catch(() => '')}`);
    }
    if (await canConnect(listen)) return { socketPath: listen };
    if (Date.now() > deadline) throw new Error(`nginx did not listen on ${listen} within 10 s: ${output}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

before(async () => {
  if (skip) return;
  pki = await makePki();
  tmp = await tempDir();
  const serverSock = join(tmp.dir, 'server-gw.sock');
  const clientSock = join(tmp.dir, 'client-gw.sock');
  const server = await startServer(await pki.certDir('server', pki.server), [...COMMON, '--http', `unix:${serverSock}`]);
  const gwLine = await server.proc.waitForLog((l) => l['msg'] === 'REST gateway listening', 'REST gateway listening');
  assert.equal(gwLine['path'], serverSock);
  const client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, [...COMMON, '--http', `unix:${clientSock}`]);
  await Promise.all([clientReady(client.proc), clientConnected(server.proc, 'client1'), startedUp(client.proc)]);
  toServerGw = await startNginx('server', serverSock);
  toClientGw = await startNginx('client', clientSock);
});

after(async () => {
  for (const n of nginxes) {
    if (n.exitCode === null && n.signalCode === null) {
      n.kill('SIGKILL');
      await new Promise((r) => n.once('close', r));
    }
  }
  await killAll();
  await pki?.cleanup();
  await tmp?.remove();
});

test('through nginx to the server’s gateway: events reach the client, // parameters intact', { skip }, async () => {
  const time = await httpRequest(toServerGw, { path: '/client/client1/time' });
  assert.equal(time.status, 200, time.body.toString());
  assert.equal(time.headers['x-event-return-code'], '0');
  assert.equal(typeof time.json().time_from_client, 'number');
  const cat = await httpRequest(toServerGw, { path: '/client/client1/cat//hello%20/world' });
  assert.deepEqual(cat.json(), { result_from_client: 'hello world' });
  const bytes = Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 256));
  const echo = await httpRequest(toServerGw, { method: 'POST', path: '/client/client1/echo', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
  assert.equal(echo.status, 200);
  assert.ok(echo.body.equals(bytes));
  const status = await httpRequest(toServerGw, { path: '/status' });
  assert.deepEqual((status.json() as { clients: Array<{ name: string }> }).clients.map((c) => c.name), ['client1']);
});

test('through nginx to the client’s gateway: events reach the server', { skip }, async () => {
  const res = await httpRequest(toClientGw, { path: '/server/time' });
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(typeof res.json().time_from_server, 'number');
  const cat = await httpRequest(toClientGw, { path: '/server/cat//a/b' });
  assert.deepEqual(cat.json(), { result_from_server: 'ab' });
});

test('bodies over the old 64m limit stream through nginx both ways, never buffered to a temporary file', { skip }, async () => {
  const bytes = 80 * MiB;
  const sha256 = await patternSha256(bytes, 9);
  const up = await curl('http://localhost/client/client1/hash', ['--unix-socket', socketOf(toServerGw), '-X', 'POST', '-H', 'Content-Type: application/octet-stream'], await pattern(bytes, 9));
  assert.equal(up.status, 200, `${up.head} ${up.stderr}`);
  assert.deepEqual(JSON.parse(up.head), { bytes, sha256 }, 'the upload arrived whole (chunked, no Content-Length)');
  const down = await curl(`http://localhost/server/pattern//${bytes}/9`, ['--unix-socket', socketOf(toClientGw)]);
  assert.equal(down.code, 0, down.stderr);
  assert.equal(down.status, 200);
  assert.equal(down.headers['content-length'], String(bytes));
  assert.equal(down.sha256, sha256, 'the download arrived whole');
  // nginx says so (a warning) whenever it spools a request or response body to disk.
  for (const name of ['server', 'client']) {
    const log = await readFile(join(tmp.dir, `nginx-${name}`, 'error.log'), 'utf8');
    assert.doesNotMatch(log, /buffered to a temporary file/, `nginx (${name} side) spooled a body`);
  }
});

test('statuses come through nginx unchanged', { skip }, async () => {
  const boom = await httpRequest(toServerGw, { path: '/client/client1/boom' });
  assert.equal(boom.status, 500);
  assert.equal(boom.headers['x-event-return-code'], '251');
  const missing = await httpRequest(toServerGw, { path: '/client/client1/nosuch' });
  assert.equal(missing.status, 404);
  const none = await httpRequest(toServerGw, { path: '/client/nobody/time' });
  assert.equal(none.status, 503);
});

test('the snippet refuses what a TCP gateway refuses: a foreign Host, a browser Origin, a request from another web page', { skip }, async () => {
  const cases: Array<Record<string, string>> = [
    { host: 'evil.example' },
    { origin: 'http://evil.example' },
    { 'sec-fetch-site': 'cross-site' },
    { 'sec-fetch-site': 'same-site' },
  ];
  for (const headers of cases) {
    const res = await httpRequest(toClientGw, { path: '/server/time', headers });
    assert.equal(res.status, 403, JSON.stringify(headers));
  }
  for (const site of ['same-origin', 'none']) {
    const res = await httpRequest(toClientGw, { path: '/server/time', headers: { 'sec-fetch-site': site } });
    assert.equal(res.status, 200, site);
  }
});
