// The compiled matchers of the access rules (segment lists, CN-glob parts, the per-verb tries
// of a rule set) against plain reference implementations written for clarity, on small
// alphabets so that matches and near misses are both common.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

import { VERBS, type Verb } from '../../src/event.js';
import { compileCnGlob, compileNounGlob, isGlobProblem, matchCnGlob, matchNounGlob, nounSegments } from '../../src/rules/match.js';
import { parseRules } from '../../src/rules/parse.js';
import { compileRules, type Decision } from '../../src/rules/rule-set.js';
import { fcParams } from './fc-settings.js';

// --- reference implementations -----------------------------------------------------------------

/** A noun glob by its definition: `*` one segment, `**` zero or more, anything else itself. */
function referenceNounMatch(glob: string, segments: readonly string[]): boolean {
  const parts = glob.split('/');
  const match = (i: number, j: number): boolean => {
    if (i === parts.length) return j === segments.length;
    if (parts[i] === '**') return match(i + 1, j) || (j < segments.length && match(i, j + 1));
    if (j === segments.length) return false;
    return (parts[i] === '*' || parts[i] === segments[j]) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

/** A CN glob as an anchored regular expression over escaped text (fine here: tiny, trusted input). */
function referenceCnMatch(glob: string, cn: string): boolean {
  const source = glob
    .split('*')
    .map((part) => part.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${source}$`, 's').test(cn);
}

interface RefRule {
  from: string;
  to: string;
  allow?: string[];
  deny?: string[];
}

function referenceSubject(subject: string, role: 'server' | 'client', name: string | undefined): boolean {
  if (subject === 'server' || subject === 'client') return subject === role;
  if (name === undefined) return subject === '*';
  return referenceCnMatch(subject, name);
}

/** SPEC §11 read literally: the first deny that holds wins, else the first allow, else refused. */
function referenceDecide(rules: RefRule[], caller: string, callee: { role: 'server' | 'client'; name?: string }, verb: Verb, segments: string[]): [Decision['reason'], string?] {
  if (rules.length === 0) return ['no-rules'];
  const callerRole = callee.role === 'server' ? 'client' : 'server';
  const applying = rules.map((rule, index) => ({ rule, index })).filter(({ rule }) => referenceSubject(rule.from, callerRole, caller) && referenceSubject(rule.to, callee.role, callee.name));
  const hit = (pattern: string): boolean => {
    const [v, glob] = pattern.split(' ') as [string, string];
    // SPEC §11: a rule of `get` covers `head` (GET without the body).
    return (v === '*' || v === verb || (v === 'get' && verb === 'head')) && referenceNounMatch(glob, segments);
  };
  for (const { rule, index } of applying) {
    const i = (rule.deny ?? []).findIndex(hit);
    if (i !== -1) return ['denied', `rules[${index}].deny[${i}]`];
  }
  for (const { rule, index } of applying) {
    const i = (rule.allow ?? []).findIndex(hit);
    if (i !== -1) return ['allowed', `rules[${index}].allow[${i}]`];
  }
  return ['not-allowed'];
}

// --- arbitraries ---------------------------------------------------------------------------------

const segmentArb = fc.constantFrom('a', 'b', 'c', '__proto__', 'constructor');
const segmentsArb = fc.array(segmentArb, { minLength: 1, maxLength: 5 });
const nounGlobArb = fc
  .tuple(fc.array(fc.constantFrom('a', 'b', '__proto__', '*'), { maxLength: 4 }), fc.boolean())
  .filter(([parts, rest]) => parts.length > 0 || rest)
  .map(([parts, rest]) => [...parts, ...(rest ? ['**'] : [])].join('/'));
const cnArb = fc.string({ unit: fc.constantFrom('a', 'b', '-'), minLength: 1, maxLength: 7 });
const cnGlobArb = fc.string({ unit: fc.constantFrom('a', 'b', '-', '*'), minLength: 1, maxLength: 7 }).filter((g) => !g.includes('**'));
const verbArb = fc.constantFrom<Verb>(...VERBS);
const patternArb = fc.tuple(fc.constantFrom<Verb | '*'>('get', 'post', '*'), nounGlobArb).map(([verb, glob]) => `${verb} ${glob}`);
const subjectArb = fc.oneof(cnGlobArb, fc.constantFrom('server', 'client', '*'));
const ruleArb: fc.Arbitrary<RefRule> = fc
  .record({
    from: subjectArb,
    to: subjectArb,
    allow: fc.option(fc.array(patternArb, { minLength: 1, maxLength: 3 }), { nil: undefined }),
    deny: fc.option(fc.array(patternArb, { minLength: 1, maxLength: 2 }), { nil: undefined }),
  })
  .filter((rule) => rule.allow !== undefined || rule.deny !== undefined)
  .map((rule) => ({
    from: rule.from,
    to: rule.to,
    ...(rule.allow === undefined ? {} : { allow: rule.allow }),
    ...(rule.deny === undefined ? {} : { deny: rule.deny }),
  }));
const calleeArb = fc.record({ role: fc.constantFrom<'server' | 'client'>('server', 'client'), name: fc.option(cnArb, { nil: undefined }) }).map(({ role, name }) => (name === undefined ? { role } : { role, name }));
const queryArb = fc.record({ caller: cnArb, callee: calleeArb, verb: verbArb, segments: segmentsArb, params: fc.constantFrom('', '//x/y', '?q=1', '//%zz') });

// --- properties ----------------------------------------------------------------------------------

describe('access-rule globs against reference implementations', () => {
  it('a compiled noun glob matches exactly the nouns the definition does', () => {
    fc.assert(
      fc.property(nounGlobArb, segmentsArb, (glob, segments) => {
        const compiled = compileNounGlob(glob);
        assert.ok(!isGlobProblem(compiled), glob);
        assert.equal(matchNounGlob(compiled, segments), referenceNounMatch(glob, segments), `${glob} vs ${segments.join('/')}`);
      }),
      fcParams(3_000),
    );
  });

  it('a compiled CN glob matches exactly the names its regular expression does', () => {
    fc.assert(
      fc.property(cnGlobArb, cnArb, (glob, cn) => {
        const compiled = compileCnGlob(glob);
        assert.ok(!isGlobProblem(compiled), glob);
        assert.equal(matchCnGlob(compiled, cn), referenceCnMatch(glob, cn), `${glob} vs ${cn}`);
      }),
      fcParams(5_000),
    );
  });

  it('nounSegments drops parameters and a query and keeps the path', () => {
    fc.assert(
      fc.property(segmentsArb, fc.constantFrom('', '//x', '//a%20b/c', '?q=1', '?a//b'), (segments, tail) => {
        assert.deepEqual(nounSegments(segments.join('/') + tail), segments);
      }),
      fcParams(1_000),
    );
  });

  it('a rule set decides as SPEC §11 read literally (deny first, then allow, else refused)', () => {
    fc.assert(
      fc.property(fc.array(ruleArb, { maxLength: 6 }), fc.array(queryArb, { minLength: 1, maxLength: 10 }), (rules, queries) => {
        const set = compileRules(parseRules(JSON.stringify({ rules })));
        for (const { caller, callee, verb, segments, params } of queries) {
          const decision = set.decide({ caller, callee, verb, noun: segments.join('/') + params });
          const [reason, path] = referenceDecide(rules, caller, callee, verb, segments);
          assert.equal(decision.reason, reason, `${caller} → ${JSON.stringify(callee)} ${verb} ${segments.join('/')}`);
          assert.equal(decision.matched?.path, path);
        }
      }),
      fcParams(1_500),
    );
  });
});
