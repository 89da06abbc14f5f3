// The code README.md shows as a file (`<!-- file: PATH -->` before the block) is that file, byte
// for byte, so what the README shows is what the tests build and run (the examples run in
// test/e2e/readme-flow.test.ts and test/integration/pipe-library-example.test.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { README_PATH, fileBlocks, readReadme } from '../helpers/readme.js';

const root = join(README_PATH, '..');

test('README.md shows the handler examples and the library example', () => {
  assert.deepEqual(
    fileBlocks(readReadme()).map((b) => b.path),
    ['examples/fileserver.js', 'examples/webserver.ts', 'test/fixtures/library-example.ts', 'examples/rules.json'],
  );
});

for (const { path, content } of fileBlocks(readReadme())) {
  test(`README.md's copy of ${path} is the file`, () => {
    assert.equal(content, readFileSync(join(root, path), 'utf8'));
  });
}

test('every runtime dependency in package.json has a row in README.md’s dependency table', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  const text = readReadme();
  const section = text.slice(text.indexOf('## Runtime dependencies'), text.indexOf('## Project layout'));
  const listed = [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual(listed.sort(), Object.keys(pkg.dependencies).sort());
});
