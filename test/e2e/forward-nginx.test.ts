// Forwarding (issue 12, SPEC §10): the seed's use case with no code. nginx (Debian's) serves a
// directory on 127.0.0.1; client1 runs with `--forward files=http://127.0.0.1:PORT/`; curl asks
// the server's gateway for /client/client1/files/…: a 1 GiB file whole (SHA-256 compared),
// a Range (206, the right bytes), HEAD, If-None-Match with nginx's ETag (304), and a missing
// file (nginx's own 404, passed through). Needs /usr/sbin/nginx (.ci/run installs it).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import net from 'node:net';

import { killAll, tempDir } from '../helpers/cli-processes.js';
import { curl } from '../helpers/curl.js';
import { freePort, startForwardPair, type ForwardPair } from '../helpers/forward.js';
import { httpRequest } from '../helpers/gateway-http.js';
import { makePki, type Pki } from '../helpers/pki.js';

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p));
const skip = NGINX === undefined ? 'nginx is not installed (/usr/sbin/nginx); .ci/run installs it' : false;
const GiB = 2 ** 30;
const MiB = 2 ** 20;
const MIDDLE = GiB / 2;

let pki: Pki;
let tmp: { dir: string; remove: () => Promise<void> };
let nginx: ChildProcess | undefined;
let pair: ForwardPair;
let bigSha256: string;
const block = randomBytes(MiB);

/** nginx serving ROOT on 127.0.0.1:PORT (a port free a moment ago; another is tried if it was taken since). */
async function startNginx(root: string): Promise<number> {
  const prefix = join(tmp.dir, 'nginx');
  await mkdir(prefix, { recursive: true });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const conf = [
      'daemon off;',
      'master_process off;',
      `error_log ${prefix}/error.log info;`,
      `pid ${prefix}/nginx.pid;`,
      'events { worker_connections 256; }',
      'http {',
      '    access_log off;',
      ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${prefix}/${t};`),
      '    sendfile on;',
      `    server { listen 127.0.0.1:${port}; root ${root}; }`,
      '}',
      '',
    ].join('\n');
    await writeFile(join(prefix, 'nginx.conf'), conf);
    const child = spawn(NGINX!, ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'error.log')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (child.exitCode !== null) {
        const log = await readFile(join(prefix, 'error.log'), 'utf8').catch(() => '');
        if (/Address already in use/.test(output + log) && attempt < 5) break;
        throw new Error(`nginx exited (${child.exitCode}): ${output}\n${log}`);
      }
      if (await canConnect(port)) {
        nginx = child;
        return port;
      }
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`nginx did not listen on 127.0.0.1:${port} within 10 s: ${output}`);
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 4 * MiB })) h.update(c as Buffer);
  return h.digest('hex');
}

before(async () => {
  if (skip) return;
  tmp = await tempDir('restpipe-nginx-files-');
  const root = join(tmp.dir, 'www');
  await mkdir(join(root, 'docs'), { recursive: true });
  // Sparse: 1 GiB of size and three random blocks (start, middle, end); the holes read as zeros.
  const path = join(root, 'docs', 'big.bin');
  const fh = await open(path, 'w');
  await fh.truncate(GiB);
  for (const at of [0, MIDDLE, GiB - MiB]) await fh.write(block, 0, block.length, at);
  await fh.close();
  bigSha256 = await sha256File(path);
  const port = await startNginx(root);
  pki = await makePki();
  pair = await startForwardPair(pki, { files: `http://127.0.0.1:${port}/` });
});

after(async () => {
  if (nginx !== undefined && nginx.exitCode === null && nginx.signalCode === null) {
    nginx.kill('SIGKILL');
    await new Promise((r) => nginx!.once('close', r));
  }
  await killAll();
  await pki?.cleanup();
  await tmp?.remove();
});

test('GET of a 1 GiB file from nginx: 200, its Content-Length, the same SHA-256', { skip }, async () => {
  const r = await curl(pair.url('files/docs/big.bin'));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-length'], String(GiB));
  assert.equal(r.bytes, GiB);
  assert.equal(r.sha256, bigSha256);
});

test('a Range: 206 with nginx’s Content-Range and exactly those bytes', { skip }, async () => {
  const r = await curl(pair.url('files/docs/big.bin'), ['-r', `${MIDDLE - 16}-${MIDDLE + MiB - 1}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.status, 206);
  assert.equal(r.headers['content-range'], `bytes ${MIDDLE - 16}-${MIDDLE + MiB - 1}/${GiB}`);
  assert.equal(r.headers['content-length'], String(MiB + 16));
  assert.equal(r.sha256, createHash('sha256').update(Buffer.alloc(16)).update(block).digest('hex'));
});

test('HEAD: 200, Content-Length = the file’s size, no body; If-None-Match with its ETag: 304', { skip }, async () => {
  const head = await httpRequest({ port: pair.gatewayPort }, { method: 'HEAD', path: '/client/client1/files/docs/big.bin' });
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], String(GiB));
  assert.equal(head.body.length, 0);
  assert.match(String(head.headers['server']), /^nginx/);
  const etag = head.headers['etag'];
  assert.ok(typeof etag === 'string' && etag.length > 2, `nginx sent an ETag: ${JSON.stringify(head.headers)}`);
  const cached = await httpRequest({ port: pair.gatewayPort }, { path: '/client/client1/files/docs/big.bin', headers: { 'If-None-Match': etag } });
  assert.equal(cached.status, 304);
  assert.equal(cached.body.length, 0);
  assert.equal(cached.headers['etag'], etag);
});

test('a missing file: nginx’s 404 passed through, not a restpipe error', { skip }, async () => {
  const res = await httpRequest({ port: pair.gatewayPort }, { path: '/client/client1/files/docs/nope.pdf' });
  assert.equal(res.status, 404);
  assert.match(String(res.headers['content-type']), /^text\/html/);
  const body = res.body.toString();
  assert.match(body, /<title>404 Not Found<\/title>/);
  assert.match(body, /<center>nginx/);
  assert.doesNotMatch(body, /"error"/);
});
