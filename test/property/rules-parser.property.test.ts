// Fuzzing the access-rules parser: mutated valid files, random JSON and random text, and the
// hostile shapes a file could take (deep nesting, a huge file, many patterns, globs built to
// make a backtracking matcher explode). Every input ends in a document or in one RulesError
// line with a place; nothing else is thrown, and each hostile case finishes well inside its
// test timeout (the figures are printed as diagnostics, not asserted: speed is the
// benchmark's business).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';

import { MAX_JSON_TOKENS } from '../../src/rules/json-text.js';
import { compileCnGlob, isGlobProblem, matchCnGlob, MAX_CN_GLOB_LENGTH, MAX_GLOB_SEGMENTS } from '../../src/rules/match.js';
import { parseRules } from '../../src/rules/parse.js';
import { MAX_PATTERNS, MAX_PATTERNS_PER_LIST, type RulesDocument } from '../../src/rules/rule.js';
import { compileRules } from '../../src/rules/rule-set.js';
import { RulesError } from '../../src/rules/rules-error.js';
import { fcParams } from './fc-settings.js';

const EXAMPLE = readFileSync(join(fileURLToPath(new URL('../../../', import.meta.url)), 'examples', 'rules.json'), 'utf8');

/** Parses; returns the document or the RulesError, and fails on anything else. */
function outcome(text: string): RulesDocument | RulesError {
  try {
    return parseRules(text, 'fuzz.json');
  } catch (err) {
    if (!(err instanceof RulesError)) throw new Error(`threw ${String(err)} for ${JSON.stringify(text.slice(0, 200))}`);
    assert.match(err.message, /^fuzz\.json(:\d+:\d+)?: [^\n]+$/, 'one line, with the place when there is one');
    return err;
  }
}

function jsonParses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const editArb = fc.record({
  at: fc.nat(),
  remove: fc.nat({ max: 8 }),
  insert: fc.string({ unit: fc.constantFrom(...'{}[]",: */\\-_.%ab019\n\ttrue'.split(''), '\u0000', '\u00e9', '\ud800'), maxLength: 6 }),
});

function applyEdits(text: string, edits: ReadonlyArray<{ at: number; remove: number; insert: string }>): string {
  let out = text;
  for (const { at, remove, insert } of edits) {
    const i = at % (out.length + 1);
    out = out.slice(0, i) + insert + out.slice(i + remove);
  }
  return out;
}

describe('rules parser fuzzing', () => {
  it('a mutated valid file is a document or one placed error; JSON syntax errors exactly when JSON.parse fails', () => {
    fc.assert(
      fc.property(fc.array(editArb, { minLength: 1, maxLength: 4 }), (edits) => {
        const text = applyEdits(EXAMPLE, edits);
        const result = outcome(text);
        const syntaxError = result instanceof RulesError && result.problem.startsWith('not valid JSON');
        assert.equal(syntaxError, !jsonParses(text), `parser and JSON.parse disagree on ${JSON.stringify(text)}`);
      }),
      fcParams(3_000),
    );
  });

  it('random JSON values are a document or one placed error', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        outcome(JSON.stringify(value));
        outcome(JSON.stringify({ rules: [value] }));
        outcome(JSON.stringify({ rules: [{ from: 'a', allow: [value] }] }));
      }),
      fcParams(1_000),
    );
  });

  it('random patterns and subjects are accepted or refused with their place', () => {
    const textArb = fc.string({ unit: fc.constantFrom(...'*/. -_%?aAbG'.split('')), maxLength: 12 });
    fc.assert(
      fc.property(textArb, textArb, textArb, (pattern, from, to) => {
        const result = outcome(JSON.stringify({ rules: [{ from, to, deny: [pattern] }] }));
        if (result instanceof RulesError) assert.match(result.problem, /\S/);
      }),
      fcParams(3_000),
    );
  });

  it('random text is a document or one placed error', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 64 }), (text) => {
        outcome(text);
      }),
      fcParams(2_000),
    );
  });
});

describe('hostile rules files', () => {
  /** Runs `fn`, prints how long it took (not asserted), returns its result. */
  function timed<T>(t: { diagnostic: (msg: string) => void }, what: string, fn: () => T): T {
    const start = process.hrtime.bigint();
    const result = fn();
    t.diagnostic(`${what}: ${(Number(process.hrtime.bigint() - start) / 1e6).toFixed(1)} ms`);
    return result;
  }

  it('a megabyte of open brackets is refused at the depth limit, before any tree is built', { timeout: 30_000 }, (t) => {
    const result = timed(t, '1 MiB of [', () => outcome('['.repeat(1024 * 1024 - 1)));
    assert.ok(result instanceof RulesError);
    assert.match(result.message, /^fuzz\.json:1:17: arrays and objects nested more than 16 deep/);
    const objects = timed(t, 'nested objects', () => outcome('{"a":'.repeat(100_000)));
    assert.ok(objects instanceof RulesError && /nested more than 16 deep/.test(objects.message));
  });

  it('a megabyte of tokens is refused at the token limit', { timeout: 30_000 }, (t) => {
    const text = `{"rules": [${'0,'.repeat(400_000)}0]}`;
    const result = timed(t, `${text.length} bytes of numbers`, () => outcome(text));
    assert.ok(result instanceof RulesError);
    assert.match(result.message, new RegExp(`more than ${MAX_JSON_TOKENS.toLocaleString('en-US')} JSON tokens`));
  });

  it('the largest file the limits allow parses, compiles and decides in bounded time', { timeout: 60_000 }, (t) => {
    // 10,000 patterns of every mix of literal and * segments, so that the tries branch at
    // every level and a noun that matches them all visits every node.
    const depth = 13; // 2^13 = 8,192 patterns of 13 segments, plus ** variants below
    const globs: string[] = [];
    for (let mask = 0; mask < 2 ** depth; mask++) {
      globs.push(Array.from({ length: depth }, (_, bit) => ((mask >> bit) & 1 ? '*' : 'a')).join('/'));
    }
    const allows = 10;
    while (globs.length < MAX_PATTERNS - allows - 1) globs.push(`${'*/'.repeat(globs.length % MAX_GLOB_SEGMENTS)}**`);
    const rules: object[] = [{ from: '*', allow: globs.slice(0, allows).map((g) => `get ${g}`) }];
    for (let i = 0; i < globs.length; i += MAX_PATTERNS_PER_LIST) {
      // CN globs that make every caller's check scan many stars, and apply to no caller below.
      rules.push({ from: `*a*a*a*a*a*a*a*a*b${i}`, to: '*', deny: globs.slice(i, i + MAX_PATTERNS_PER_LIST).map((g) => `* ${g}`) });
    }
    rules.push({ from: 'aaaa*b0', deny: ['delete **'] });
    const text = JSON.stringify({ rules }, null, 1);
    const doc = timed(t, 'parse', () => parseRules(text, 'big.json'));
    t.diagnostic(`file: ${text.length} bytes, ${doc.rules.length} rules, ${doc.patternCount} patterns`);
    const set = timed(t, 'compile (server)', () => {
      const s = compileRules(doc);
      s.forCallee({ role: 'server' });
      return s;
    });
    const noun = Array.from({ length: depth }, () => 'a').join('/');
    const decisions = timed(t, '1,000 decisions, every trie node visited', () => {
      let last;
      for (let i = 0; i < 1_000; i++) last = set.decide({ caller: `${'a'.repeat(60)}b${i % 10}`, callee: { role: 'server' }, verb: 'get', noun });
      return last;
    });
    assert.equal(decisions?.reason, 'allowed');
    const deepNoun = Array.from({ length: 100_000 }, () => 'a').join('/');
    const deep = timed(t, 'a noun of 100,000 segments', () => set.decide({ caller: 'aaaaaaaab0', callee: { role: 'server' }, verb: 'delete', noun: deepNoun }));
    assert.equal(deep.reason, 'denied');
  });

  it('a CN glob of many stars against a long CN is linear', { timeout: 30_000 }, (t) => {
    const glob = compileCnGlob(`${'*a'.repeat((MAX_CN_GLOB_LENGTH - 2) / 2)}*b`);
    assert.ok(!isGlobProblem(glob));
    const matched = timed(t, '100,000 matches of *a*a…*b against a…a', () => {
      let any = false;
      for (let i = 0; i < 100_000; i++) any ||= matchCnGlob(glob, 'a'.repeat(64));
      return any;
    });
    assert.equal(matched, false);
  });
});
