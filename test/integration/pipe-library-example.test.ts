// The README's library example, run as a program exactly as a user would run it: it imports
// only restpipe's public exports ('restpipe', 'restpipe/identity'), makes its own certificates,
// starts a server and a client, sends events both ways, prints the replies and exits 0.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { fixturePath, startNode, stopAll } from '../helpers/processes.js';
import { withTimeout } from '../helpers/wait.js';

after(async () => {
  await stopAll();
});

test('the library example imports only public exports', () => {
  const source = readFileSync(fileURLToPath(new URL('../../../test/fixtures/library-example.ts', import.meta.url)), 'utf8');
  const imports = [...source.matchAll(/^import .* from '([^']+)';$/gm)].map((m) => m[1]);
  assert.deepEqual(imports, ['restpipe', 'restpipe/identity']);
});

test('the library example runs: events both ways, replies printed, exit 0', async () => {
  const child = startNode(fixturePath('library-example'));
  const exit = await withTimeout(child.exited, 15_000, 'the example to finish');
  const out = child.lines.join('\n');
  assert.equal(exit.code, 0, `exit code (stderr: ${child.errLines.join('\n')})`);

  assert.match(out, /^server: 'sensor-1' connected \(1 client\)$/m);
  assert.match(out, /^client: pipe open \(after 0 retries\)$/m);
  const time = out.match(/^client → server GET time: 0 \{"time_from_server":([\d.]+)\}$/m);
  assert.ok(time, out);
  assert.ok(Math.abs(Number(time[1]) - Date.now() / 1000) < 30, 'the server\'s clock');
  assert.match(out, /^client → server GET greet\/\/world: 0 \{"hello":"world","from":"sensor-1"\}$/m);
  assert.match(out, /^server → client POST reading: 0 \{"stored":\{"celsius":21\.5\}\}$/m);
  assert.match(out, /^server → client GET log: 0 text\/plain; charset=utf-8 "all quiet\\n"$/m);
  assert.match(out, /^server → client GET nothing: 255$/m);
  assert.equal(child.lines.at(-1), 'done');
  assert.deepEqual(child.errLines.filter((l) => l.trim() !== ''), [], 'nothing on stderr');
});
