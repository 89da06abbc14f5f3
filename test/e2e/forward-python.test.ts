// Forwarding (issue 12, SPEC §10) to `python3 -m http.server`, a file server no one on this
// project wrote, and two forwards on one node: client1 forwards `files` to Python and
// `files/api` to the Node upstream fixture. The longest prefix wins, matched by whole path
// segments (`files/apix` is Python's). Needs python3 (.ci/run installs it); skipped without it.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { killAll, tempDir } from '../helpers/cli-processes.js';
import { curl } from '../helpers/curl.js';
import { startForwardPair, startUpstream, type ForwardPair, type Upstream } from '../helpers/forward.js';
import { httpRequest } from '../helpers/gateway-http.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { stopAll } from '../helpers/processes.js';

const hasPython = spawnSync('python3', ['-c', 'import http.server']).status === 0;
const skip = hasPython ? false : 'python3 is not installed; .ci/run installs it';

let pki: Pki;
let files: { dir: string; remove: () => Promise<void> };
let python: ChildProcess | undefined;
let upstream: Upstream;
let pair: ForwardPair;
const hello = `hello from python ${randomBytes(8).toString('hex')}\n`;
const bin = randomBytes(3 * 2 ** 20 + 17);

/** `python3 -u -m http.server 0` serving DIR on 127.0.0.1; resolves with the port it printed. */
function startPythonServer(dir: string): Promise<number> {
  const child = spawn('python3', ['-u', '-m', 'http.server', '0', '--bind', '127.0.0.1', '--directory', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
  python = child;
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`python3 -m http.server printed no port within 10 s: ${out}`)), 10_000);
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      out += c;
      const m = /Serving HTTP on \S+ port (\d+)/.exec(out);
      if (m !== null) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.stderr!.resume(); // its request log
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`python3 -m http.server exited (${code}): ${out}`));
    });
  });
}

before(async () => {
  if (skip) return;
  files = await tempDir('restpipe-python-files-');
  await mkdir(join(files.dir, 'docs'));
  await writeFile(join(files.dir, 'hello.txt'), hello);
  await writeFile(join(files.dir, 'docs', 'a.bin'), bin);
  const pyPort = await startPythonServer(files.dir);
  upstream = await startUpstream();
  pki = await makePki();
  pair = await startForwardPair(pki, { files: `http://127.0.0.1:${pyPort}/`, 'files/api': `${upstream.base}echo/` });
});

after(async () => {
  if (python !== undefined && python.exitCode === null && python.signalCode === null) {
    python.kill('SIGKILL');
    await new Promise((r) => python!.once('close', r));
  }
  await killAll();
  await stopAll();
  await pki?.cleanup();
  await files?.remove();
});

test('GET of files from python3 -m http.server through the pipe', { skip }, async () => {
  const res = await httpRequest({ port: pair.gatewayPort }, { path: '/client/client1/files/hello.txt' });
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(res.body.toString(), hello);
  assert.equal(res.headers['content-length'], String(Buffer.byteLength(hello)));
  const big = await curl(pair.url('files/docs/a.bin'));
  assert.equal(big.code, 0, big.stderr);
  assert.equal(big.status, 200);
  assert.equal(big.headers['content-length'], String(bin.length));
  assert.equal(big.bytes, bin.length);
  assert.equal(big.sha256, createHash('sha256').update(bin).digest('hex'));
});

test('two forwards on one node: the longest prefix wins, by whole path segments', { skip }, async () => {
  const api = await httpRequest({ port: pair.gatewayPort }, { path: '/client/client1/files/api/v1/items?sort=name' });
  assert.equal(api.status, 200, api.body.toString());
  assert.equal(api.json().url, '/echo/v1/items?sort=name');
  // `files/apix` is not under `files/api`: Python answers, and has no such file.
  const apix = await httpRequest({ port: pair.gatewayPort }, { path: '/client/client1/files/apix/v1' });
  assert.equal(apix.status, 404);
  assert.match(apix.body.toString(), /Error response/, 'Python’s own 404 page');
  // Python's listing of docs/ (a page of its own making) comes through as well.
  const listing = await httpRequest({ port: pair.gatewayPort }, { path: '/client/client1/files/docs/' });
  assert.equal(listing.status, 200);
  assert.match(listing.body.toString(), /a\.bin/);
});
