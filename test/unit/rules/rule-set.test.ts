import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import type { Verb } from '../../../src/event.js';
import { describeDecision } from '../../../src/rules/describe.js';
import { parseRules } from '../../../src/rules/parse.js';
import type { NodeRole } from '../../../src/rules/rule.js';
import { compileRules, type Callee, type Decision } from '../../../src/rules/rule-set.js';

const RULES = compileRules(
  parseRules(
    JSON.stringify({
      rules: [
        /* 0 */ { from: 'sensor-*', to: 'server', allow: ['post readings', 'get time', 'get config/**'] },
        /* 1 */ { from: 'server', to: 'client', allow: ['get **'] },
        /* 2 */ { from: '*', deny: ['delete **', '* admin/**'] },
        /* 3 */ { from: 'ops-*', to: 'server', allow: ['* **'] },
        /* 4 */ { from: 'ops-7', to: 'server', deny: ['post readings'] },
        /* 5 */ { from: 'server', to: 'fileserver', allow: ['put files/*'] },
        /* 6 */ { from: '__proto__', to: 'server', allow: ['get constructor', 'get __proto__/*'] },
        /* 7 */ { from: 'cn:client', to: 'server', allow: ['get x'] },
        /* 8 */ { from: 'client', to: 'server', allow: ['get health'] },
        /* 9 */ { from: 'server', to: 'cn:server', allow: ['patch only-for-a-client-named-server'] },
      ],
    }),
    'table.json',
  ),
);

/** A callee as the table writes it: `server`, `client`, or `client:NAME`. */
function callee(text: string): Callee {
  const [role, name] = text.split(':') as [NodeRole, string | undefined];
  return name === undefined ? { role } : { role, name };
}

/** What the table expects: the reason, and the pattern's JSON path when one decided. */
type Expected = [Decision['reason'], string?];

const TABLE: Array<[caller: string, to: string, verb: Verb, noun: string, expected: Expected, why: string]> = [
  ['sensor-1', 'server', 'post', 'readings', ['allowed', 'rules[0].allow[0]'], 'an allow pattern for a CN glob'],
  ['sensor-1', 'server', 'post', 'readings//kitchen/21.5', ['allowed', 'rules[0].allow[0]'], 'parameters are ignored by matching'],
  ['sensor-1', 'server', 'post', 'readings?at=now', ['allowed', 'rules[0].allow[0]'], 'a query is ignored by matching'],
  ['sensor-1', 'server', 'get', 'config', ['allowed', 'rules[0].allow[2]'], '** matches zero segments'],
  ['sensor-1', 'server', 'get', 'config/net/wifi', ['allowed', 'rules[0].allow[2]'], '** matches several segments'],
  ['sensor-1', 'server', 'put', 'readings', ['not-allowed'], 'default deny: no pattern for this verb'],
  ['sensor-1', 'server', 'get', 'times', ['not-allowed'], 'default deny: no pattern for this noun'],
  ['sensor-1', 'server', 'delete', 'readings', ['denied', 'rules[2].deny[0]'], 'a deny for every caller'],
  ['sensor-1', 'server', 'get', 'admin/users', ['denied', 'rules[2].deny[1]'], 'a deny with verb *'],
  ['sensor', 'server', 'post', 'readings', ['not-allowed'], 'sensor-* needs the dash'],
  ['ops-1', 'server', 'put', 'anything/at/all', ['allowed', 'rules[3].allow[0]'], 'a broad allow'],
  ['ops-1', 'server', 'delete', 'x', ['denied', 'rules[2].deny[0]'], 'deny beats allow, whatever the order of the rules'],
  ['ops-7', 'server', 'post', 'readings', ['denied', 'rules[4].deny[0]'], 'deny beats allow for one CN of a glob'],
  ['ops-7', 'server', 'get', 'admin', ['denied', 'rules[2].deny[1]'], 'the first matching deny in file order is named'],
  ['ops-7', 'server', 'post', 'other', ['allowed', 'rules[3].allow[0]'], 'the deny is for one noun only'],
  ['hub', 'client:sensor-2', 'get', 'readings/today', ['allowed', 'rules[1].allow[0]'], 'from: server is the role, whatever its CN'],
  ['hub', 'client:sensor-2', 'delete', 'readings', ['denied', 'rules[2].deny[0]'], 'the server may not delete on a client'],
  ['hub', 'client:sensor-2', 'put', 'files/a.txt', ['not-allowed'], 'rules[5] is for fileserver only'],
  ['hub', 'client:fileserver', 'put', 'files/a.txt', ['allowed', 'rules[5].allow[0]'], 'to: a CN'],
  ['hub', 'client:fileserver', 'put', 'files/a/b', ['not-allowed'], '* is one segment'],
  ['hub', 'client', 'put', 'files/a.txt', ['not-allowed'], 'a callee without a name matches no CN rule'],
  ['hub', 'client', 'get', 'x', ['allowed', 'rules[1].allow[0]'], 'but role rules hold'],
  ['hub', 'server', 'get', 'time', ['not-allowed'], 'no rule lets anyone but sensors get time on the server'],
  ['__proto__', 'server', 'get', 'constructor', ['allowed', 'rules[6].allow[0]'], 'prototype names as CN and noun'],
  ['__proto__', 'server', 'get', '__proto__/toString', ['allowed', 'rules[6].allow[1]'], 'prototype names as segments'],
  ['__proto__', 'server', 'get', 'toString', ['not-allowed'], 'toString is not a key of anything'],
  ['__proto__', 'server', 'get', 'hasOwnProperty', ['not-allowed'], 'nor hasOwnProperty'],
  ['constructor', 'server', 'get', 'constructor', ['not-allowed'], 'constructor as a CN matches nothing'],
  ['toString', 'server', 'get', 'health', ['allowed', 'rules[8].allow[0]'], 'a CN named toString is just a client'],
  ['client', 'server', 'get', 'x', ['allowed', 'rules[7].allow[0]'], 'cn:client names a CN'],
  ['other', 'server', 'get', 'x', ['not-allowed'], 'cn:client is not the role'],
  ['other', 'server', 'get', 'health', ['allowed', 'rules[8].allow[0]'], 'from: client is every client'],
  ['hub', 'client:server', 'patch', 'only-for-a-client-named-server', ['allowed', 'rules[9].allow[0]'], 'to: cn:server is a CN'],
  ['hub', 'server', 'patch', 'only-for-a-client-named-server', ['not-allowed'], 'and not the server'],
  ['sensor-1', 'server', 'post', 'readings/../admin', ['malformed'], 'dot segments are never matched'],
  ['sensor-1', 'server', 'post', '%2e%2e/readings', ['malformed'], 'also when percent-encoded'],
  ['sensor-1', 'server', 'get', 'config/a%2Fb', ['malformed'], 'an encoded / is not a segment'],
  ['sensor-1', 'server', 'get', 'config/%zz', ['malformed'], 'an escape that does not decode'],
  ['sensor-1', 'server', 'get', '', ['malformed'], 'an empty noun'],
  ['ops-1', 'server', 'get', '%61dmin', ['denied', 'rules[2].deny[1]'], 'an escaped letter does not dodge a deny'],
  ['ops-1', 'server', 'get', 'admin%2Fx', ['malformed'], 'nor does an escaped slash'],
];

describe('decisions', () => {
  for (const [caller, to, verb, noun, [reason, path], why] of TABLE) {
    test(`${caller} → ${to}: ${verb} ${JSON.stringify(noun)} is ${reason}${path === undefined ? '' : ` by ${path}`} (${why})`, () => {
      const decision = RULES.decide({ caller, callee: callee(to), verb, noun });
      assert.equal(decision.reason, reason, describeDecision(decision));
      assert.equal(decision.allowed, reason === 'allowed');
      assert.equal(decision.matched?.path, path);
    });
  }

  test('a decision names the pattern, its rule and its line', () => {
    const decision = RULES.decide({ caller: 'sensor-1', callee: { role: 'server' }, verb: 'post', noun: 'readings' });
    assert.equal(decision.matched?.rule, 0);
    assert.equal(decision.matched?.kind, 'allow');
    assert.equal(decision.matched?.text, 'post readings');
    assert.equal(describeDecision(decision), 'allowed by rules[0].allow[0] "post readings" (line 1)');
  });

  test('an unknown verb is refused, not thrown on', () => {
    const decision = RULES.decide({ caller: 'ops-1', callee: { role: 'server' }, verb: 'fetch' as Verb, noun: 'x' });
    assert.equal(decision.reason, 'malformed');
  });

  test('with no rules everything is allowed', () => {
    const empty = compileRules(parseRules('{"rules": []}'));
    assert.equal(empty.isEmpty, true);
    assert.deepEqual(empty.decide({ caller: 'x', callee: { role: 'server' }, verb: 'delete', noun: 'admin' }), { allowed: true, reason: 'no-rules' });
    assert.equal(empty.forCallee({ role: 'client' }).decide('x', 'get', '..').reason, 'no-rules');
  });

  test('with rules that are all for other nodes, everything here is refused', () => {
    const others = compileRules(parseRules('{"rules": [{"from": "*", "to": "client", "allow": ["* **"]}]}'));
    assert.equal(others.decide({ caller: 'sensor-1', callee: { role: 'server' }, verb: 'get', noun: 'time' }).reason, 'not-allowed');
    assert.equal(others.decide({ caller: 'hub', callee: { role: 'client' }, verb: 'get', noun: 'time' }).reason, 'allowed');
  });

  test('a node compiles its rules once and keeps them', () => {
    const a = RULES.forCallee({ role: 'client', name: 'fileserver' });
    assert.equal(RULES.forCallee({ role: 'client', name: 'fileserver' }), a);
    assert.deepEqual(
      a.rules.map((rule) => rule.index),
      [1, 2, 5],
    );
  });

  test('decisions stay right past the caller cache (2,000 distinct callers)', () => {
    const node = RULES.forCallee({ role: 'server' });
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 2_000; i++) {
        assert.equal(node.decide(`sensor-${i}`, 'post', 'readings').reason, 'allowed');
        assert.equal(node.decide(`ops-${i}`, 'post', 'readings').reason, i === 7 ? 'denied' : 'allowed');
        assert.equal(node.decide(`x${i}`, 'post', 'readings').reason, 'not-allowed');
      }
    }
  });

  test('the same decision object comes back for the same pattern (nothing allocated per event)', () => {
    const node = RULES.forCallee({ role: 'server' });
    assert.equal(node.decide('sensor-1', 'get', 'time'), node.decide('sensor-2', 'get', 'time'));
    assert.equal(node.decide('x', 'get', 'time'), node.decide('y', 'put', 'z'));
  });
});
