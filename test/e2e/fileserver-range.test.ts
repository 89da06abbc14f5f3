// The seed's use case with a big file (issue 11): examples/fileserver.js on a client node, the
// server node's gateway, curl. A 1 GiB file (sparse, with a known 1 MiB block in its middle):
// a Range for the middle answers 206 with Content-Range and exactly those bytes, without the
// rest of the file crossing the pipe; a Range past the end is 416; a whole GET streams and can
// be left mid-way (the bench fetches whole files).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

import { FAST_FLAGS, clientConnected, killAll, startClient, startServer, tempDir, type StartedServer } from '../helpers/cli-processes.js';
import { curl, startCurl } from '../helpers/curl.js';
import { makePki, type Pki } from '../helpers/pki.js';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const MIDDLE = GiB / 2;

let pki: Pki;
let files: { dir: string; remove: () => Promise<void> };
let server: StartedServer;
const block = randomBytes(MiB);

before(async () => {
  files = await tempDir('restpipe-files-');
  // Sparse: 1 GiB of size, one written block; reading the rest costs no disk.
  const fh = await open(join(files.dir, 'big.bin'), 'w');
  await fh.truncate(GiB);
  await fh.write(block, 0, block.length, MIDDLE);
  await fh.close();
  pki = await makePki();
  server = await startServer(await pki.certDir('server', pki.server), [...FAST_FLAGS]);
  await startClient(await pki.certDir('client', pki.client1), server.pipePort, [...FAST_FLAGS, '--no-http', '--handlers', 'examples/fileserver.js#FileServer'], {
    env: { FILES_DIR: files.dir },
  });
  await clientConnected(server.proc, 'client1');
});

after(async () => {
  await killAll();
  await pki?.cleanup();
  await files?.remove();
});

const url = (): string => `http://127.0.0.1:${server.gateway!.port}/client/client1/file//big.bin`;

test('a Range in the middle of a 1 GiB file: 206, Content-Range, exactly those bytes', async () => {
  const r = await curl(url(), ['-r', `${MIDDLE}-${MIDDLE + MiB - 1}`]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.status, 206, r.head.slice(0, 200));
  assert.equal(r.headers['content-range'], `bytes ${MIDDLE}-${MIDDLE + MiB - 1}/${GiB}`);
  assert.equal(r.headers['content-length'], String(MiB));
  assert.equal(r.headers['accept-ranges'], 'bytes');
  assert.equal(r.bytes, MiB);
  assert.equal(r.sha256, createHash('sha256').update(block).digest('hex'));
  // A range straddling the block's start: zeros, then the block.
  const edge = await curl(url(), ['-r', `${MIDDLE - 16}-${MIDDLE + 15}`]);
  assert.equal(edge.status, 206);
  assert.equal(edge.sha256, createHash('sha256').update(Buffer.concat([Buffer.alloc(16), block.subarray(0, 16)])).digest('hex'));
});

test('a Range past the end is 416 with the size; a whole GET streams, and a caller that leaves it costs nothing after', async () => {
  const r = await curl(url(), ['-r', `${GiB}-${GiB + 10}`]);
  assert.equal(r.status, 416);
  assert.equal(r.headers['content-range'], `bytes */${GiB}`);
  // The whole file streams; the caller leaves after 8 MiB.
  const whole = startCurl(url());
  while (whole.received < 8 * MiB) await new Promise((resolve) => setTimeout(resolve, 20));
  whole.child.kill('SIGKILL');
  const w = await whole.done;
  assert.ok(w.bytes >= 8 * MiB);
  // The server node is still serving (the abandoned transfer stopped at the far side).
  const again = await curl(url(), ['-r', '0-99']);
  assert.equal(again.status, 206);
  assert.equal(again.bytes, 100);
});
