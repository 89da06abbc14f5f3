import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import { describeRules, formatRulesReport } from '../../../src/rules/describe.js';
import { parseRules } from '../../../src/rules/parse.js';

function report(rules: unknown[]): string[] {
  const doc = parseRules(JSON.stringify({ rules }), 'r.json');
  return formatRulesReport(doc, describeRules(doc));
}

/** Each section as `caller | callee | allow… | deny…` (pattern texts only). */
function sections(rules: unknown[]): string[] {
  const doc = parseRules(JSON.stringify({ rules }), 'r.json');
  return describeRules(doc).flatMap(({ caller, callees }) =>
    callees.map(({ callee, allow, deny }) => [caller.text, callee.text, ...allow.map((p) => `+${p.text}`), ...deny.map((p) => `-${p.text}`)].join(' | ')),
  );
}

describe('what each identity may call', () => {
  test('a CN glob with a role on the other side, and the roles', () => {
    assert.deepEqual(
      sections([
        { from: 'sensor-*', to: 'server', allow: ['post readings'] },
        { from: 'server', to: 'client', allow: ['get **'] },
        { from: '*', deny: ['delete **'] },
      ]),
      ['sensor-* | server | +post readings | -delete **', 'server | client | +get ** | -delete **', 'client | server | -delete **'],
    );
  });

  test('a rule for one CN of a glob is listed under that CN, not under the glob', () => {
    assert.deepEqual(
      sections([
        { from: 'ops-*', to: 'server', allow: ['* **'] },
        { from: 'ops-7', to: 'server', deny: ['post readings'] },
      ]),
      ['ops-* | server | +* **', 'ops-7 | server | +* ** | -post readings', 'server | client', 'client | server'],
    );
  });

  test('a CN the file makes a client gets the rules of its role too', () => {
    assert.deepEqual(
      sections([
        { from: 'server', to: 'client', allow: ['get **'] },
        { from: 'server', to: 'fileserver', allow: ['put files/*'] },
      ]),
      ['server | fileserver | +get ** | +put files/*', 'server | client | +get **', 'client | server'],
    );
  });

  test('a CN whose role the file does not make plain gets only the rules that name it or everyone', () => {
    assert.deepEqual(
      sections([
        { from: 'a', to: 'b', allow: ['get x'] },
        { from: '*', to: '*', allow: ['get y'] },
        { from: 'client', to: 'server', allow: ['get z'] },
      ]),
      ['a | b | +get x | +get y', 'server | client | +get y', 'client | server | +get y | +get z'],
    );
  });

  test('the printed report of a file', () => {
    assert.deepEqual(
      report([
        { from: 'sensor-*', to: 'server', allow: ['post readings', 'get time'] },
        { from: 'server', to: 'cn:client', allow: ['get status'] },
      ]),
      [
        'r.json: valid, 2 rules, 3 patterns.',
        'Deny beats allow; what no rule allows is refused. Each node enforces the rules whose "to" matches it.',
        '',
        'nodes matching sensor-* (a client) may call',
        '  on the server:',
        '    allow  post readings  rules[0].allow[0], line 1',
        '    allow  get time       rules[0].allow[1], line 1',
        '',
        'the server may call',
        '  on cn:client (a client):',
        '    allow  get status     rules[1].allow[0], line 1',
        '  on any client: nothing (no rule allows it)',
        '',
        'any client may call',
        '  on the server: nothing (no rule allows it)',
      ],
    );
  });

  test('a file without rules says that everything is allowed', () => {
    assert.deepEqual(report([]), ['r.json: valid, 0 rules, 0 patterns.', 'No rules: every call is allowed, as without --rules.']);
  });
});
