import { describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  compileCnGlob,
  compileNounGlob,
  isGlobProblem,
  matchCnGlob,
  matchNounGlob,
  MAX_CN_GLOB_LENGTH,
  MAX_GLOB_SEGMENTS,
  nounSegments,
  type CnGlob,
  type GlobProblem,
  type NounGlob,
} from '../../../src/rules/match.js';

function noun(text: string): NounGlob {
  const glob = compileNounGlob(text);
  if (isGlobProblem(glob)) assert.fail(`${text}: ${glob.problem}`);
  return glob;
}

function cn(text: string): CnGlob {
  const glob = compileCnGlob(text);
  if (isGlobProblem(glob)) assert.fail(`${text}: ${glob.problem}`);
  return glob;
}

/** One test per refused glob: the problem's text and where in the glob it points. */
function refusals(compile: (glob: string) => NounGlob | CnGlob | GlobProblem, cases: Array<[glob: string, problem: RegExp, at: number]>): void {
  for (const [glob, problem, at] of cases) {
    test(`refuses ${JSON.stringify(glob.slice(0, 40))}`, () => {
      const result = compile(glob);
      assert.ok(isGlobProblem(result), 'should be refused');
      assert.match(result.problem, problem);
      assert.equal(result.at, at);
    });
  }
}

function matches(glob: string, nounText: string): boolean {
  const segments = nounSegments(nounText);
  assert.ok(segments !== undefined, `${nounText} should be matchable`);
  return matchNounGlob(noun(glob), segments);
}

describe('noun globs', () => {
  test('compile to literal and * parts, with ** as a trailing flag', () => {
    assert.deepEqual(noun('time'), { parts: ['time'], rest: false });
    assert.deepEqual(noun('upload/*'), { parts: ['upload', '*'], rest: false });
    assert.deepEqual(noun('admin/**'), { parts: ['admin'], rest: true });
    assert.deepEqual(noun('**'), { parts: [], rest: true });
    assert.deepEqual(noun('a/*/b/**'), { parts: ['a', '*', 'b'], rest: true });
  });

  const CASES: Array<[glob: string, noun: string, expected: boolean]> = [
    ['time', 'time', true],
    ['time', 'times', false],
    ['time', 'time/utc', false],
    ['time', 'Time', false], // case-sensitive, as handler names are
    ['upload/*', 'upload/a', true],
    ['upload/*', 'upload', false],
    ['upload/*', 'upload/a/b', false],
    ['*', 'anything', true],
    ['*', 'a/b', false],
    ['admin/**', 'admin', true], // ** is zero or more segments
    ['admin/**', 'admin/users', true],
    ['admin/**', 'admin/users/1/keys', true],
    ['admin/**', 'administrator', false],
    ['admin/**', 'x/admin', false],
    ['**', 'a', true],
    ['**', 'a/b/c/d/e/f', true],
    ['*/b/**', 'a/b', true],
    ['*/b/**', 'a/c', false],
    ['readings', 'readings//sensor%201/today', true], // parameters are not part of the noun
    ['readings', 'readings?since=0', true], // nor a query
    ['files/*', 'files/a%20b.pdf', true], // segments are percent-decoded
    ['admin/**', '%61dmin/keys', true], // so an escaped letter cannot dodge a deny
    ['__proto__', '__proto__', true],
    ['constructor/*', 'constructor/toString', true],
    ['a.b', 'a.b', true],
  ];
  for (const [glob, nounText, expected] of CASES) {
    test(`${glob} ${expected ? 'matches' : 'does not match'} ${nounText}`, () => {
      assert.equal(matches(glob, nounText), expected);
    });
  }

  const PROBLEMS: Array<[glob: string, problem: RegExp, at: number]> = [
    ['', /^empty noun glob$/, 0],
    ['/time', /does not start with '\/'/, 0],
    ['time/', /does not end with '\/'/, 4],
    ['cat//x', /'\/\/' starts parameters/, 3],
    ['a/**/b', /'\*\*' matches the rest .* must be the last segment/, 2],
    ['**/**', /must be the last segment/, 0],
    ['up*', /'\*' must be a whole segment/, 2],
    ['files/*.pdf', /'\*' must be a whole segment/, 6],
    ['a/***', /'\*' must be a whole segment/, 2],
    ['a/../b', /'\.\.' segment never matches/, 2],
    ['./a', /'\.' segment never matches/, 0],
    ['a b', /a space in a noun glob/, 1],
    ['a/%41', /'%' in a noun glob/, 2],
    ['a?x', /'\?' in a noun glob/, 1],
    ['a/b\u0000', /character U\+0000 in a noun glob/, 3],
    ['caf\u00e9', /character U\+00E9 in a noun glob/, 3],
    ['x/\u{1f600}', /character U\+1F600 in a noun glob/, 2],
    [Array.from({ length: MAX_GLOB_SEGMENTS + 1 }, () => 'a').join('/'), /more than 32 segments/, 0],
  ];
  refusals(compileNounGlob, PROBLEMS);

  test(`${MAX_GLOB_SEGMENTS} segments are accepted`, () => {
    assert.equal(noun(Array.from({ length: MAX_GLOB_SEGMENTS }, () => '*').join('/')).parts.length, MAX_GLOB_SEGMENTS);
  });
});

describe('nounSegments', () => {
  test('splits the path before // and ?, percent-decoding each segment', () => {
    assert.deepEqual(nounSegments('time'), ['time']);
    assert.deepEqual(nounSegments('cat//hello%20/world'), ['cat']);
    assert.deepEqual(nounSegments('a/b?c=d//e'), ['a', 'b']);
    assert.deepEqual(nounSegments('a/b%2Bc'), ['a', 'b+c']);
  });

  test('is undefined for a noun no allow pattern may match', () => {
    for (const bad of ['', '//x', '?q', '/a', 'a/', 'a/b/', '.', 'a/..', 'a/./b', '%2e%2E/x', 'a/%2e', '%zz', '%c0%af', 'a%2Fb', 'a%5Cb', 'a%00b', 'a/%']) {
      assert.equal(nounSegments(bad), undefined, JSON.stringify(bad));
    }
    assert.deepEqual(nounSegments('a//'), ['a'], "'//' ends the path: empty parameters are still parameters");
  });
});

describe('CN globs', () => {
  const CASES: Array<[glob: string, name: string, expected: boolean]> = [
    ['hub', 'hub', true],
    ['hub', 'hub2', false],
    ['hub', 'Hub', false],
    ['*', 'anything-at.all_1', true],
    ['sensor-*', 'sensor-1', true],
    ['sensor-*', 'sensor-', true], // * may be empty
    ['sensor-*', 'sensor', false],
    ['sensor-*', 'xsensor-1', false],
    ['*-eu', 'sensor-eu', true],
    ['*-eu', 'sensor-us', false],
    ['s*-*-eu', 'sensor-7-eu', true],
    ['s*-*-eu', 'sensor-eu', false],
    ['a*a', 'a', false], // the prefix and the suffix may not overlap
    ['a*a', 'aa', true],
    ['*a*a*', 'bab', false],
    ['*a*a*', 'baab', true],
    ['*.example.com', 'x.example.com', true],
    ['*.example.com', 'example.com', false],
    ['__proto__', '__proto__', true],
    ['constructor', 'toString', false],
  ];
  for (const [glob, name, expected] of CASES) {
    test(`${glob} ${expected ? 'matches' : 'does not match'} ${name}`, () => {
      assert.equal(matchCnGlob(cn(glob), name), expected);
    });
  }

  const PROBLEMS: Array<[glob: string, problem: RegExp, at: number]> = [
    ['', /empty CN glob/, 0],
    ['sensor/*', /'\/' in a CN glob/, 6],
    ['sensor *', /a space in a CN glob/, 6],
    ['sensor-**', /'\*\*' in a CN glob/, 7],
    ['caf\u00e9', /character U\+00E9 in a CN glob/, 3],
    ['x'.repeat(MAX_CN_GLOB_LENGTH + 1), /longer than 128/, MAX_CN_GLOB_LENGTH],
  ];
  refusals(compileCnGlob, PROBLEMS);
});
