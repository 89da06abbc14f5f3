import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { ErrorCode } from '../../../src/errors.js';
import { MAX_JSON_DEPTH } from '../../../src/rules/json-text.js';
import { parseRules } from '../../../src/rules/parse.js';
import { MAX_PATTERN_LENGTH, MAX_PATTERNS, MAX_PATTERNS_PER_LIST, MAX_RULES, MAX_RULES_FILE_BYTES } from '../../../src/rules/rule.js';
import { RulesError } from '../../../src/rules/rules-error.js';

function refused(text: string): RulesError {
  try {
    parseRules(text, 'rules.json');
  } catch (err) {
    assert.ok(err instanceof RulesError, `not a RulesError: ${String(err)}`);
    assert.equal(err.code, ErrorCode.INVALID_OPTION);
    assert.ok(!err.message.includes('\n'), `one line: ${err.message}`);
    return err;
  }
  assert.fail(`accepted: ${text.slice(0, 200)}`);
}

/** A rule list as a file, one rule per line from line 2 on. */
function file(...rules: string[]): string {
  return `{"rules": [\n${rules.join(',\n')}\n]}`;
}

describe('a valid file', () => {
  test('parses every part, with places', () => {
    const text = [
      '{',
      '  "comment": "the example",',
      '  "rules": [',
      '    {"from": "sensor-*", "to": "server", "allow": ["post readings", "get  time"]},',
      '    {"from": "server", "to": "client", "allow": ["get **"], "deny": ["delete **"], "comment": "ops"},',
      '    {"from": "*", "deny": ["* admin/**"]},',
      '    {"from": "cn:client", "to": "cn:server", "allow": ["patch a/*/b"]}',
      '  ]',
      '}',
    ].join('\n');
    const doc = parseRules(text, 'rules.json');
    assert.equal(doc.source, 'rules.json');
    assert.equal(doc.rules.length, 4);
    assert.equal(doc.patternCount, 6);
    const [r0, r1, r2, r3] = doc.rules;
    assert.deepEqual([r0!.line, r0!.column, r0!.path], [4, 5, 'rules[0]']);
    assert.deepEqual(r0!.from, { kind: 'cn', glob: { text: 'sensor-*', parts: ['sensor-', ''] }, text: 'sensor-*' });
    assert.deepEqual(r0!.to, { kind: 'role', role: 'server', text: 'server' });
    assert.deepEqual(
      r0!.allow.map((p) => [p.rule, p.kind, p.index, p.text, p.verb, p.glob, p.path, p.line, p.column]),
      [
        [0, 'allow', 0, 'post readings', 'post', { parts: ['readings'], rest: false }, 'rules[0].allow[0]', 4, 52],
        [0, 'allow', 1, 'get  time', 'get', { parts: ['time'], rest: false }, 'rules[0].allow[1]', 4, 69],
      ],
    );
    assert.equal(r1!.comment, 'ops');
    assert.deepEqual(r1!.deny.map((p) => p.path), ['rules[1].deny[0]']);
    assert.equal(r2!.to.text, '*', 'to defaults to *');
    assert.equal(r2!.deny[0]!.verb, '*');
    assert.deepEqual(r3!.from, { kind: 'cn', glob: { text: 'client', parts: ['client'] }, text: 'cn:client' });
    assert.deepEqual(r3!.to, { kind: 'cn', glob: { text: 'server', parts: ['server'] }, text: 'cn:server' });
  });

  test('an empty list of rules is valid', () => {
    assert.equal(parseRules('{"rules": []}').rules.length, 0);
  });

  test('a byte order mark is ignored and places stay right', () => {
    assert.match(refused('\ufeff{"rules": [1]}').message, /^rules\.json:1:13: rules\[0\]: a rule must be an object, not number 1$/);
  });
});

describe('JSON syntax errors name line and column', () => {
  const CASES: Array<[name: string, text: string, message: RegExp]> = [
    ['empty file', '', /^rules\.json:1:1: not valid JSON: expected a value, found the end of the file$/],
    ['missing value', '{"rules": }', /^rules\.json:1:11: not valid JSON: expected a value, found "}"$/],
    ['trailing comma', file('{"from": "a", "allow": ["get x"],}'), /^rules\.json:2:34: not valid JSON: a comma before '}': JSON allows no trailing comma$/],
    ['missing comma', '{"rules": [\n  {"from": "a"}\n  {"from": "b"}\n]}', /^rules\.json:3:3: not valid JSON: expected ',' or a closing bracket, found "{"$/],
    ['trailing comma in a list', '{"rules": [\n{"from": "a", "allow": ["get x",]}]}', /^rules\.json:2:33: not valid JSON: a comma before ']': JSON allows no trailing comma$/],
    ['comment', '{\n  // sensors\n  "rules": []\n}', /^rules\.json:2:3: not valid JSON: comments are not JSON \(a rule or the file may have a "comment" key instead\)$/],
    ['single quotes', "{'rules': []}", /^rules\.json:1:2: not valid JSON: unexpected "'rules'"$/],
    ['unterminated string', '{"rules": ["get', /^rules\.json:1:12: not valid JSON: unterminated string$/],
    ['raw tab in a string', '{"rules": [{"from": "a\tb"}]}', /^rules\.json:1:21: not valid JSON: a control character/],
    ['bad escape', '{"rules": [{"from": "\\q"}]}', /^rules\.json:1:21: not valid JSON: invalid escape/],
    ['text after the value', '{"rules": []}\n{"rules": []}', /^rules\.json:2:1: not valid JSON: unexpected "\{" after the end of the JSON value$/],
    ['leading zero', '{"rules": [01]}', /^rules\.json:1:13: not valid JSON: expected ',' or a closing bracket, found "1"$/],
    ['NaN', '{"rules": [NaN]}', /^rules\.json:1:12: not valid JSON: unexpected "NaN"$/],
    ['CRLF line ends count once', '{\r\n"rules":\r\n}', /^rules\.json:3:1: not valid JSON: expected a value, found "}"$/],
    [`nested deeper than ${MAX_JSON_DEPTH}`, '['.repeat(200_000), new RegExp(`^rules\\.json:1:${MAX_JSON_DEPTH + 1}: arrays and objects nested more than ${MAX_JSON_DEPTH} deep`)],
  ];
  for (const [name, text, message] of CASES) {
    test(name, () => assert.match(refused(text).message, message));
  }
});

describe('rule errors name the JSON path and the place', () => {
  const CASES: Array<[name: string, text: string, message: RegExp]> = [
    ['not an object', '[]', /^rules\.json:1:1: the file must be an object, not a list$/],
    ['no rules key', '{"comment": "x"}', /^rules\.json:1:1: missing "rules"/],
    ['rules not a list', '{"rules": {}}', /^rules\.json:1:11: rules: expected a list \[ … \], not an object$/],
    ['unknown file key, near miss', '{"rule": []}', /^rules\.json:1:2: unknown key "rule" in the file: did you mean "rules"\?$/],
    ['unknown file key', '{"rules": [], "version": 2}', /^rules\.json:1:15: unknown key "version" in the file: the keys are rules, comment$/],
    ['__proto__ as a key', '{"rules": [], "__proto__": {"rules": 1}}', /^rules\.json:1:15: unknown key "__proto__" in the file: the keys are rules, comment$/],
    ['constructor as a rule key', file('{"from": "a", "allow": ["get x"], "constructor": "x"}'), /^rules\.json:2:35: rules\[0\]: unknown key "constructor" in a rule/],
    ['unknown rule key, near miss', file('{"form": "a", "allow": ["get x"]}'), /^rules\.json:2:2: rules\[0\]: unknown key "form" in a rule: did you mean "from"\?$/],
    ['unknown rule key, Allow', file('{"from": "a", "Allow": ["get x"]}'), /^rules\.json:2:15: rules\[0\]: unknown key "Allow" in a rule: did you mean "allow"\?$/],
    ['unknown rule key', file('{"from": "a", "allow": ["get x"], "priority": 1}'), /rules\.json:2:35: rules\[0\]: unknown key "priority" in a rule: the keys are from, to, allow, deny, comment$/],
    ['duplicate key', file('{"from": "a", "deny": ["get x"],\n "deny": ["get y"]}'), /^rules\.json:3:2: rules\[0\]\.deny: "deny" appears twice in a rule \(also on line 2\)/],
    ['missing from', file('{"allow": ["get x"]}'), /^rules\.json:2:1: rules\[0\]: missing "from"/],
    ['neither allow nor deny', file('{"from": "a", "to": "server"}'), /^rules\.json:2:1: rules\[0\]: a rule needs "allow" or "deny"/],
    ['from not a string', file('{"from": ["a"], "allow": ["get x"]}'), /^rules\.json:2:10: rules\[0\]\.from: expected a string, not a list$/],
    ['to null', file('{"from": "a", "to": null, "allow": ["get x"]}'), /^rules\.json:2:21: rules\[0\]\.to: expected a string, not null null$/],
    ['Server is not a role', file('{"from": "a", "to": "Server", "allow": ["get x"]}'), /rules\[0\]\.to: "Server": the roles are lower case \("server"\); for a node whose CN is "Server" write "cn:Server"$/],
    ['bad CN glob character', file('{"from": "sensor/*", "allow": ["get x"]}'), /^rules\.json:2:17: rules\[0\]\.from: '\/' in a CN glob/],
    ['** in a CN glob', file('{"from": "cn:sensor-**", "allow": ["get x"]}'), /^rules\.json:2:21: rules\[0\]\.from: '\*\*' in a CN glob/],
    ['empty CN glob', file('{"from": "", "allow": ["get x"]}'), /^rules\.json:2:11: rules\[0\]\.from: empty CN glob/],
    ['allow not a list', file('{"from": "a", "allow": "get x"}'), /^rules\.json:2:24: rules\[0\]\.allow: expected a list \[ … \], not the string "get x"$/],
    ['empty allow', file('{"from": "a", "allow": []}'), /^rules\.json:2:24: rules\[0\]\.allow: an empty list: give at least one pattern, or leave "allow" out$/],
    ['pattern not a string', file('{"from": "a", "deny": ["get x", 7]}'), /^rules\.json:2:33: rules\[0\]\.deny\[1\]: expected a string, not number 7$/],
    ['pattern without a noun', file('{"from": "a", "allow": ["get"]}'), /^rules\.json:2:25: rules\[0\]\.allow\[0\]: "get": a pattern is a verb and a noun glob/],
    ['pattern with a leading space', file('{"from": "a", "allow": [" get x"]}'), /rules\[0\]\.allow\[0\]: " get x": a pattern is a verb and a noun glob/],
    ['unknown verb', file('{"from": "a", "allow": ["fetch x"]}'), /^rules\.json:2:26: rules\[0\]\.allow\[0\]: unknown verb "fetch": use get, post, put, delete, patch, head, options or \*$/],
    ['upper-case verb', file('{"from": "a", "allow": ["GET x"]}'), /unknown verb "GET": use get, post, put, delete, patch, head, options or \* \(verbs are lower case: get\)$/],
    ['** not last', file('{"from": "a", "allow": ["get a/**/b"]}'), /^rules\.json:2:32: rules\[0\]\.allow\[0\]: '\*\*' matches the rest of the noun, so it must be the last segment$/],
    ['star inside a segment', file('{"from": "a", "allow": ["get up*"]}'), /^rules\.json:2:32: rules\[0\]\.allow\[0\]: '\*' must be a whole segment/],
    ['parameters in a pattern', file('{"from": "a", "allow": ["get cat//x"]}'), /^rules\.json:2:33: rules\[0\]\.allow\[0\]: '\/\/' starts parameters/],
    ['trailing space', file('{"from": "a", "allow": ["get x "]}'), /^rules\.json:2:31: rules\[0\]\.allow\[0\]: a space in a noun glob/],
    // With an escape before the problem the column cannot be counted inside the string: it points at the string.
    ['column with escapes', file('{"from": "a", "allow": ["get \\u0061/b c"]}'), /^rules\.json:2:25: rules\[0\]\.allow\[0\]: a space in a noun glob/],
    ['second rule', file('{"from": "a", "allow": ["get x"]}', '{"from": "b", "deny": ["get x", "put ../x"]}'), /^rules\.json:3:38: rules\[1\]\.deny\[1\]: a '\.\.' segment never matches/],
    ['comment not a string', '{"rules": [], "comment": 1}', /^rules\.json:1:26: comment: expected a string, not number 1$/],
  ];
  for (const [name, text, message] of CASES) {
    test(name, () => assert.match(refused(text).message, message));
  }
});

describe('limits', () => {
  test(`more than ${MAX_RULES} rules`, () => {
    const rules = Array.from({ length: MAX_RULES + 1 }, () => '{"from": "a", "allow": ["get x"]}');
    assert.match(refused(file(...rules)).message, new RegExp(`^rules\\.json:${MAX_RULES + 2}:1: rules\\[${MAX_RULES}\\]: more than ${MAX_RULES} rules$`));
  });

  test(`more than ${MAX_PATTERNS_PER_LIST} patterns in a list`, () => {
    const patterns = Array.from({ length: MAX_PATTERNS_PER_LIST + 1 }, (_, i) => `"get p${i}"`).join(',\n');
    assert.match(refused(file(`{"from": "a", "allow": [\n${patterns}]}`)).message, new RegExp(`rules\\[0\\]\\.allow\\[${MAX_PATTERNS_PER_LIST}\\]: more than ${MAX_PATTERNS_PER_LIST} patterns in one list$`));
  });

  test(`more than ${MAX_PATTERNS} patterns in the file`, () => {
    const list = Array.from({ length: MAX_PATTERNS_PER_LIST }, (_, i) => `"get p${i}"`).join(',');
    const rules = Array.from({ length: MAX_PATTERNS / MAX_PATTERNS_PER_LIST + 1 }, () => `{"from": "a", "allow": [${list}]}`);
    assert.match(refused(file(...rules)).message, new RegExp(`rules\\[${MAX_PATTERNS / MAX_PATTERNS_PER_LIST}\\]\\.allow\\[0\\]: more than ${MAX_PATTERNS} patterns in the file$`));
  });

  test(`a pattern longer than ${MAX_PATTERN_LENGTH} characters`, () => {
    const long = `get ${'a/'.repeat(MAX_PATTERN_LENGTH / 2)}b`;
    assert.match(refused(file(`{"from": "a", "allow": ["${long}"]}`)).message, /rules\[0\]\.allow\[0\]: pattern longer than 256 characters$/);
  });

  test('a text over the file size limit is refused before it is parsed', () => {
    assert.match(refused(' '.repeat(MAX_RULES_FILE_BYTES + 1)).message, /^rules\.json: 1048577 characters, more than the 1048576 bytes a rules file may have$/);
  });
});
