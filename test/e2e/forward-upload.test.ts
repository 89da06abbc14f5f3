// Forwarding (issue 12, SPEC §10): large uploads. curl sends 512 MiB through the server's
// gateway and the pipe to client1, which forwards `in` to the upstream fixture's /upload; the
// upstream hashes what it receives and answers the SHA-256. A PUT sent chunked (no length), and
// a POST with its Content-Length: the bytes that arrive are the bytes sent, all of them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { killAll } from '../helpers/cli-processes.js';
import { curl, pattern, patternSha256 } from '../helpers/curl.js';
import { startForwardPair, startUpstream, type ForwardPair } from '../helpers/forward.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { stopAll } from '../helpers/processes.js';

const BYTES = 512 * 2 ** 20;

let pki: Pki;
let pair: ForwardPair;

before(async () => {
  pki = await makePki();
  const upstream = await startUpstream();
  pair = await startForwardPair(pki, { in: upstream.base });
});

after(async () => {
  await killAll();
  await stopAll();
  await pki?.cleanup();
});

const cases = [
  { method: 'PUT', seed: 3, args: ['-H', 'Content-Type: application/octet-stream'], how: 'chunked' },
  { method: 'POST', seed: 4, args: ['-X', 'POST', '-H', 'Content-Type: application/octet-stream', '-H', `Content-Length: ${BYTES}`, '-H', 'Transfer-Encoding:'], how: 'with its Content-Length' },
] as const;

for (const { method, seed, args, how } of cases) {
  test(`a ${method} of ${BYTES / 2 ** 20} MiB (${how}) reaches the upstream byte for byte`, async () => {
    const expected = await patternSha256(BYTES, seed);
    const r = await curl(pair.url('in/upload'), [...args], await pattern(BYTES, seed));
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.status, 200, r.head.slice(0, 300));
    assert.deepEqual(JSON.parse(r.head), { method, bytes: BYTES, sha256: expected });
  });
}
