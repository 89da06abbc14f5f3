// The gate that enforces access rules on a receiving node (src/rules/gate.ts) and its bounded
// refusal log (src/rules/refusal-log.ts): the reply it refuses with, audit mode, a reload, the
// diagnostics message for the metrics, and log lines that stay bounded under a hostile flood.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { channels, type RulesRefusedMessage } from '../../../src/diagnostics.js';
import { ReturnCode, parseEvent, type EventHead, type Verb } from '../../../src/event.js';
import type { Logger } from '../../../src/log.js';
import { MAX_CALLERS, MAX_KEYS, MAX_KEYS_PER_CALLER, RefusalLog, RulesGate, compileRules, parseRules } from '../../../src/rules/index.js';

interface Line {
  level: string;
  obj: Record<string, unknown>;
  msg: string;
}

function recordingLogger(lines: Line[]): Logger {
  const logger: Logger = {
    error: (obj, msg = '') => lines.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
    warn: (obj, msg = '') => lines.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    info: (obj, msg = '') => lines.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
    debug: () => {},
    child: () => logger,
    isLevelEnabled: () => true,
  };
  return logger;
}

const rules = (doc: unknown) => compileRules(parseRules(JSON.stringify(doc), 'rules.json'));
const SENSORS = rules({ rules: [{ from: 'sensor-*', to: 'server', allow: ['post readings', 'get time'] }, { from: '*', deny: ['delete **'] }] });
const event = (verb: Verb, noun: string): EventHead => parseEvent({ verb, noun });

test('an allowed event passes; a refused one gets return code 254 and a forbidden error that names no rule', () => {
  const lines: Line[] = [];
  const gate = new RulesGate({ rules: SENSORS, callee: { role: 'server', name: 'hub' }, logger: recordingLogger(lines) });
  assert.equal(gate.check(event('post', 'readings//kitchen'), 'sensor-1'), undefined);
  const refused = gate.check(event('get', 'config'), 'sensor-1');
  assert.equal(refused?.code, ReturnCode.FORBIDDEN);
  assert.equal(refused?.mimetype, 'application/json');
  const body = JSON.parse(Buffer.from(refused!.data).toString()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'forbidden');
  assert.equal(body.error.message, "the access rules of server 'hub' do not let 'sensor-1' get 'config'");
  assert.equal(lines.length, 1);
  assert.equal(lines[0]!.level, 'warn');
  assert.equal(lines[0]!.msg, "access rules refused get 'config' from 'sensor-1': refused: no rule allows it");
  gate.close();
});

test('audit mode lets everything through, logs the would-be refusal at info and publishes it as audit', () => {
  const lines: Line[] = [];
  const seen: RulesRefusedMessage[] = [];
  const onMessage = (m: unknown): void => void seen.push(m as RulesRefusedMessage);
  channels.rulesRefused.subscribe(onMessage);
  try {
    const gate = new RulesGate({ rules: SENSORS, callee: { role: 'server', name: 'hub' }, audit: true, logger: recordingLogger(lines) });
    assert.equal(gate.check(event('delete', 'readings'), 'sensor-1'), undefined);
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.level, 'info');
    assert.match(lines[0]!.msg, /^access rules would refuse delete 'readings' from 'sensor-1': refused by rules\[1\]\.deny\[0\] "delete \*\*" \(line 1\) \(audit: let through\)$/);
    assert.deepEqual(seen, [{ role: 'server', caller: 'sensor-1', verb: 'delete', noun: 'readings', audit: true }]);
    gate.close();
  } finally {
    channels.rulesRefused.unsubscribe(onMessage);
  }
});

test('replace() puts new rules in force for the next event', () => {
  const gate = new RulesGate({ rules: SENSORS, callee: { role: 'server', name: 'hub' } });
  assert.equal(gate.check(event('get', 'time'), 'sensor-1'), undefined);
  gate.replace(rules({ rules: [{ from: 'sensor-*', allow: ['post readings'] }] }));
  assert.equal(gate.check(event('get', 'time'), 'sensor-1')?.code, ReturnCode.FORBIDDEN);
  gate.replace(rules({ rules: [] }));
  assert.equal(gate.check(event('delete', 'anything'), 'sensor-1'), undefined, 'an empty file allows everything');
  gate.close();
});

test('a key is logged once per window; close() reports the repeats', () => {
  const lines: Line[] = [];
  const gate = new RulesGate({ rules: SENSORS, callee: { role: 'server' }, logger: recordingLogger(lines) });
  for (let i = 0; i < 1_000; i++) gate.check(event('get', 'config'), 'sensor-1');
  assert.equal(lines.length, 1);
  gate.close();
  assert.equal(lines.length, 2);
  assert.equal(lines[1]!.msg, "access rules refused get 'config' from 'sensor-1' 999 more times in the last 60 s");
  assert.equal(lines[1]!.obj['repeated'], 999);
});

test('a hostile flood of distinct nouns and callers writes a bounded number of lines, and every refusal is counted', () => {
  const firsts: string[] = [];
  let repeated = 0;
  let overflow = 0;
  let overflowLines = 0;
  let repeatedLines = 0;
  const log = new RefusalLog<undefined>(60_000, {
    first: (e) => firsts.push(`${e.caller} ${e.noun}`),
    repeated: (_e, n) => {
      repeated += n;
      repeatedLines++;
    },
    overflow: (_caller, n) => {
      overflow += n;
      overflowLines++;
    },
  });
  const callers = 200;
  const perCaller = 500;
  for (let c = 0; c < callers; c++) for (let n = 0; n < perCaller; n++) log.refused(`sensor-${c}`, 'get', `noun/${n % 100}`, undefined);
  log.close();
  assert.ok(firsts.length <= MAX_KEYS, `${firsts.length} first lines`);
  assert.ok(repeatedLines <= MAX_KEYS && overflowLines <= MAX_CALLERS + 1, `${repeatedLines} + ${overflowLines} summary lines`);
  assert.equal(new Set(firsts.map((f) => f.split(' ')[0])).size <= Math.ceil(MAX_KEYS / MAX_KEYS_PER_CALLER), true);
  assert.equal(firsts.length + repeated + overflow, callers * perCaller, 'every refusal is logged or counted');
  // The next window starts afresh.
  log.refused('sensor-0', 'get', 'noun/0', undefined);
  assert.equal(firsts.length, MAX_KEYS + 1);
  log.close();
});
