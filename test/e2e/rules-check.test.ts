// `restpipe rules check` as a user runs it: the report of a valid file (the README shows the
// same text), one question answered with its exit code, and a broken file or a bad question
// as exactly one line on stderr and exit 2.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { killAll, runCli, tempDir } from '../helpers/cli-processes.js';
import { readReadme, readmeSection } from '../helpers/readme.js';

let tmp: { dir: string; remove: () => Promise<void> };

before(async () => {
  tmp = await tempDir('restpipe-rules-');
});

after(async () => {
  await killAll();
  await tmp?.remove();
});

const EXAMPLE = 'examples/rules.json';

describe('restpipe rules check FILE', () => {
  test('prints what each identity may call, as the README shows it', async () => {
    const r = await runCli(['rules', 'check', EXAMPLE]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const shown = readmeSection(readReadme(), 'rules-check')
      .replace(/^```\S*\n|\n```$/g, '')
      .split('\n');
    assert.equal(shown[0], `$ restpipe rules check ${EXAMPLE}`);
    assert.deepEqual(r.stdout.split('\n'), shown.slice(1));
  });

  const QUESTIONS: Array<[args: string[], code: number, line: RegExp]> = [
    [['--as', 'sensor-7', '--to', 'server', 'post', 'readings'], 0, /^sensor-7 → the server: post readings: allowed by rules\[0\]\.allow\[0\] "post readings" \(line 8\)$/],
    [['--as', 'sensor-7', '--to', 'server', 'POST', 'readings//kitchen'], 0, /^sensor-7 → the server: post readings\/\/kitchen: allowed by rules\[0\]\.allow\[0\]/],
    [['--as', 'sensor-7', '--to', 'server', 'get', 'config'], 1, /^sensor-7 → the server: get config: refused: no rule allows it$/],
    [['--as', 'hub', '--to', 'client:sensor-7', 'get', 'readings/today'], 0, /^hub → client sensor-7: get readings\/today: allowed by rules\[1\]\.allow\[0\] "get \*\*" \(line 14\)$/],
    [['--as', 'hub', '--to', 'client:sensor-7', 'delete', 'readings/today'], 1, /^hub → client sensor-7: delete readings\/today: refused by rules\[3\]\.deny\[0\] "delete \*\*" \(line 25\)$/],
    [['--as', 'hub', '--to', 'client:fileserver', 'put', 'files/report.pdf'], 0, /^hub → client fileserver: put files\/report\.pdf: allowed by rules\[2\]\.allow\[0\]/],
    [['--as', 'hub', '--to', 'client:sensor-7', 'put', 'files/report.pdf'], 1, /refused: no rule allows it$/],
  ];
  for (const [args, code, line] of QUESTIONS) {
    test(`--as … ${args.slice(2).join(' ')} exits ${code}`, async () => {
      const r = await runCli(['rules', 'check', EXAMPLE, ...args]);
      assert.equal(r.code, code, r.stderr);
      assert.match(r.stdout.split('\n')[0]!, line);
      assert.equal(r.stderr, '');
    });
  }

  test('a question about an unnamed client says that CN rules were left out', async () => {
    const r = await runCli(['rules', 'check', EXAMPLE, '--as', 'hub', '--to', 'client', 'put', 'files/a']);
    assert.equal(r.code, 1);
    assert.deepEqual(r.stdout.split('\n'), [
      'hub → the client: put files/a: refused: no rule allows it',
      '  (rules whose "to" is a CN were not considered: name the node with --to client:NAME)',
    ]);
  });
});

describe('a broken file or a bad question: one line, exit 2', () => {
  const FILES: Record<string, string> = {
    'syntax.json': '{"rules": [\n  {"from": "sensor-*", "allow": ["post readings"]}\n  {"from": "ops", "allow": ["get **"]}\n]}\n',
    'verb.json': '{"rules": [\n  {"from": "sensor-*",\n   "allow": ["post readings", "fetch time"]}\n]}\n',
    'glob.json': '{"rules": [{"from": "*", "deny": ["* admin/**/keys"]}]}',
    'key.json': '{"rules": [{"from": "*", "deny": ["* admin/**"], "too": "server"}]}',
  };

  before(async () => {
    for (const [name, text] of Object.entries(FILES)) await writeFile(join(tmp.dir, name), text);
    await writeFile(join(tmp.dir, 'huge.json'), Buffer.alloc(2 * 1024 * 1024, 0x20));
  });

  const CASES: Array<[args: string[], line: RegExp]> = [
    [['@/syntax.json'], /^restpipe: \S+syntax\.json:3:3: not valid JSON: expected ',' or a closing bracket, found "\{"$/],
    [['@/verb.json'], /^restpipe: \S+verb\.json:3:32: rules\[0\]\.allow\[1\]: unknown verb "fetch": use get, post, put, delete, patch, head, options or \*$/],
    [['@/glob.json'], /^restpipe: \S+glob\.json:1:44: rules\[0\]\.deny\[0\]: '\*\*' matches the rest of the noun, so it must be the last segment$/],
    [['@/key.json'], /^restpipe: \S+key\.json:1:50: rules\[0\]: unknown key "too" in a rule: did you mean "to"\?$/],
    [['@/huge.json'], /^restpipe: \S+huge\.json: 2097152 bytes: a rules file may have at most 1048576 bytes \(1 MiB\)$/],
    [['@/missing.json'], /^restpipe: \S+missing\.json: file not found$/],
    [[EXAMPLE, '--as', 'hub', 'get', 'x'], /^restpipe: to ask about one call, give all of --as CN, --to ROLE\[:CN\], VERB and NOUN/],
    [[EXAMPLE, '--as', 'hub', '--to', 'sensor-7', 'get', 'x'], /^restpipe: --to "sensor-7": expected server, client, server:NAME or client:NAME/],
    [[EXAMPLE, '--as', 'hub', '--to', 'client:no such', 'get', 'x'], /^restpipe: --to "client:no such": "no such" is not a node name/],
    [[EXAMPLE, '--as', '../hub', '--to', 'server', 'get', 'x'], /^restpipe: --as "\.\.\/hub": not a node name/],
    [[EXAMPLE, '--as', 'hub', '--to', 'server', 'fetch', 'x'], /^restpipe: VERB "fetch": use one of get, post, put, delete, patch, head, options$/],
    [['@/missing.json', '--as', 'hub', '--to', 'server', 'fetch', 'x'], /^restpipe: VERB "fetch"/],
    [[], /^restpipe: missing required argument 'file'/],
  ];
  for (const [caseArgs, line] of CASES) {
    test(`rules check ${caseArgs.join(' ')}`, async () => {
      const args = caseArgs.map((a) => a.replace(/^@\//, `${tmp.dir}/`));
      const r = await runCli(['rules', 'check', ...args]);
      assert.equal(r.code, 2, `exit code\n${r.stdout}\n${r.stderr}`);
      assert.equal(r.stderrLines.length, 1, r.stderr);
      assert.match(r.stderrLines[0]!, line);
      assert.equal(r.stdout, '');
    });
  }
});
