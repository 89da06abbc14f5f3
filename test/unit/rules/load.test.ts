import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadRules, readRulesFile } from '../../../src/rules/load.js';
import { MAX_RULES_FILE_BYTES } from '../../../src/rules/rule.js';
import { RulesError } from '../../../src/rules/rules-error.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'restpipe-rules-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function refusedFile(path: string): Promise<string> {
  try {
    await readRulesFile(path);
  } catch (err) {
    assert.ok(err instanceof RulesError, String(err));
    return err.message;
  }
  assert.fail(`${path} was accepted`);
}

describe('reading a rules file', () => {
  test('a valid file is read, parsed and compiled', async () => {
    const path = join(dir, 'ok.json');
    await writeFile(path, '{"rules": [{"from": "sensor-*", "allow": ["post readings"]}]}\n');
    const rules = await loadRules(path);
    assert.equal(rules.document.source, path);
    assert.equal(rules.decide({ caller: 'sensor-1', callee: { role: 'server' }, verb: 'post', noun: 'readings' }).allowed, true);
  });

  test('a missing file', async () => {
    assert.equal(await refusedFile(join(dir, 'nope.json')), `${join(dir, 'nope.json')}: file not found`);
  });

  test('a directory', async () => {
    assert.equal(await refusedFile(dir), `${dir}: not a regular file`);
  });

  test('a device that never ends is not read', async () => {
    assert.equal(await refusedFile('/dev/zero'), '/dev/zero: not a regular file');
  });

  test('a file over 1 MiB is refused by its size, without parsing it', async () => {
    const path = join(dir, 'big.json');
    await writeFile(path, Buffer.alloc(MAX_RULES_FILE_BYTES + 1, 0x20));
    assert.equal(await refusedFile(path), `${path}: ${MAX_RULES_FILE_BYTES + 1} bytes: a rules file may have at most ${MAX_RULES_FILE_BYTES} bytes (1 MiB)`);
  });

  test('a file that is not UTF-8 names the first bad line', async () => {
    const path = join(dir, 'latin1.json');
    await writeFile(path, Buffer.concat([Buffer.from('{"rules": [\n{"from": "a", "allow": ["get x"]},\n{"from": "caf'), Buffer.from([0xe9]), Buffer.from('", "allow": ["get x"]}\n]}')]));
    assert.equal(await refusedFile(path), `${path}:3: not UTF-8 text: save the file as UTF-8`);
  });

  test('parse errors carry the file name and the place', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, '{"rules": [\n  {"from": "a", "allow": ["get a/**/b"]}\n]}');
    assert.equal(await refusedFile(path), `${path}:2:34: rules[0].allow[0]: '**' matches the rest of the noun, so it must be the last segment`);
  });
});
