// `npm run bench:rules` (= build + `node dist/bench/rules.js`): what one access-rules decision
// costs on the event path, in one process, no sockets. Each case runs 5 rounds of a fixed number
// of decisions after a warm-up and prints ns per decision as "median (min–max)". For scale, the
// same loop calls parseNoun (which the dispatcher already runs for every event) and an empty
// rule set (the cost when a file has no rules). Not part of `npm test`.
//
//   node dist/bench/rules.js [--decisions N]   (default 200,000 per round)
import { parseNoun, type Verb } from '../src/event.js';
import { compileRules, parseRules, type Callee } from '../src/rules/index.js';
import { fmt, fmtSpread, spread } from './lib/stats.js';

interface Case {
  name: string;
  /** One decision (or the comparison's work) for query i. */
  run: (i: number) => unknown;
}

const ROUNDS = 5;
const argIndex = process.argv.indexOf('--decisions');
const DECISIONS = argIndex === -1 ? 200_000 : Number(process.argv[argIndex + 1]);
if (!Number.isSafeInteger(DECISIONS) || DECISIONS < 1) {
  console.error('usage: node dist/bench/rules.js [--decisions N]');
  process.exit(2);
}

const SERVER: Callee = { role: 'server', name: 'hub' };

/** The README's example: four rules. */
const example = compileRules(
  parseRules(
    JSON.stringify({
      rules: [
        { from: 'sensor-*', to: 'server', allow: ['post readings', 'get time'] },
        { from: 'server', to: 'client', allow: ['get **'] },
        { from: 'server', to: 'fileserver', allow: ['put files/*'] },
        { from: '*', deny: ['delete **', '* admin/**'] },
      ],
    }),
  ),
);

/** A large site: 1,000 rules, one per group of sensors, each with 5 patterns (5,000 in all). */
const large = compileRules(
  parseRules(
    JSON.stringify({
      rules: Array.from({ length: 1_000 }, (_, g) => ({
        from: `site${g}-*`,
        to: 'server',
        allow: [`post readings/site${g}/*`, 'get time', `get config/site${g}/**`, 'put status'],
        deny: [`* admin/site${g}/**`],
      })),
    }),
  ),
);

/** The worst shape the limits allow (see test/property/rules-parser): 8,192 patterns mixing a literal and * at each of 13 levels, none applying to the caller. */
const depth = 13;
const worst = compileRules(
  parseRules(
    JSON.stringify({
      rules: [
        { from: '*', allow: ['get time'] },
        ...Array.from({ length: 9 }, (_, chunk) => ({
          from: `nobody-${chunk}`,
          deny: Array.from({ length: 1_000 }, (_, k) => chunk * 1_000 + k)
            .filter((mask) => mask < 2 ** depth)
            .map((mask) => `* ${Array.from({ length: depth }, (_, bit) => ((mask >> bit) & 1 ? '*' : 'a')).join('/')}`),
        })).filter((rule) => rule.deny.length > 0),
      ],
    }),
  ),
);

const empty = compileRules(parseRules('{"rules": []}'));

const SENSORS = Array.from({ length: 1_000 }, (_, i) => `sensor-${i}`);
const SITE_SENSORS = Array.from({ length: 1_000 }, (_, i) => `site${i}-sensor-1`);
const NOUNS = ['readings', 'readings//kitchen/21.5', 'time', 'config/net', 'admin/users'];
const VERBS_ROUND: Verb[] = ['post', 'post', 'get', 'get', 'get'];
const DEEP_NOUN = Array.from({ length: depth }, () => 'a').join('/');

const CASES: Case[] = [
  { name: 'parseNoun only (the dispatcher already pays this)', run: (i) => parseNoun(NOUNS[i % 5]!) },
  { name: 'no rules (empty file)', run: (i) => empty.decide({ caller: SENSORS[i % 1_000]!, callee: SERVER, verb: VERBS_ROUND[i % 5]!, noun: NOUNS[i % 5]! }) },
  { name: 'README example, 1,000 callers', run: (i) => example.decide({ caller: SENSORS[i % 1_000]!, callee: SERVER, verb: VERBS_ROUND[i % 5]!, noun: NOUNS[i % 5]! }) },
  {
    name: '1,000 rules / 5,000 patterns, 1,000 callers',
    run: (i) => large.decide({ caller: SITE_SENSORS[i % 1_000]!, callee: SERVER, verb: VERBS_ROUND[i % 5]!, noun: i % 5 === 0 ? `readings/site${i % 1_000}/t` : NOUNS[i % 5]! }),
  },
  { name: 'worst case: 8,192 branching patterns, every node visited', run: (i) => worst.decide({ caller: SENSORS[i % 1_000]!, callee: SERVER, verb: 'get', noun: DEEP_NOUN }) },
];

function measure(c: Case, n: number): number {
  let sink = 0;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) if (c.run(i) !== undefined) sink++;
  const ns = Number(process.hrtime.bigint() - start);
  if (sink !== n) throw new Error(`${c.name}: a run returned nothing`);
  return ns / n;
}

console.log(`access-rules decisions: ns per decision, median (min–max) of ${ROUNDS} rounds of ${fmt(DECISIONS)}; node ${process.version}`);
console.log('');
console.log('| case | ns per decision | decisions per second (median) |');
console.log('|---|---|---|');
for (const c of CASES) {
  // The worst case is ~1,000 times slower per decision: fewer of them say as much.
  const n = c.name.startsWith('worst') ? Math.max(1, Math.floor(DECISIONS / 100)) : DECISIONS;
  measure(c, Math.min(n, 20_000)); // warm-up: compile the callee's tries, fill the caller caches, let the JIT settle
  const s = spread(Array.from({ length: ROUNDS }, () => measure(c, n)));
  console.log(`| ${c.name} | ${fmtSpread(s, 0)} | ${fmt(1e9 / s.median)} |`);
}
