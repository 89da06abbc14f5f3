// StormLog (src/server/storm-log.ts): in a reconnect storm the server writes the first 10
// per-connection lines of a second and then one summary line, not one line per client (issue 14).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { StormLog } from '../../../src/server/storm-log.js';
import { MemoryLogger } from '../../helpers/nodes.js';

test('5,000 connections in a burst: 10 lines and one summary with the count; disconnects are counted apart', () => {
  const log = new MemoryLogger();
  let clients = 0;
  const storm = new StormLog(log, () => clients);
  for (let i = 0; i < 5_000; i++) {
    clients++;
    storm.log('connected', () => log.info({ client: `c${i}` }, `client 'c${i}' connected`));
  }
  for (let i = 0; i < 3; i++) storm.log('disconnected', () => log.info({}, 'client gone'));
  storm.close(); // reports what the window suppressed (its timer would, a second later)
  assert.equal(log.matching(/client 'c\d+' connected/).length, 10);
  assert.equal(log.matching(/client gone/).length, 3);
  const summary = log.matching(/more clients connected/);
  assert.equal(summary.length, 1);
  assert.equal(summary[0]!.msg, '4990 more clients connected in the last 1 s (5000 connected now)');
  assert.equal(summary[0]!.fields['more'], 4_990);
  assert.equal(log.lines.length, 14);
});

test('the summary comes by itself at the end of the second', async () => {
  const log = new MemoryLogger();
  const storm = new StormLog(log, () => 42);
  for (let i = 0; i < 11; i++) storm.log('disconnected', () => log.info({}, 'line'));
  const hold = setTimeout(() => {}, 5_000); // the library's timer is unref'd
  const t0 = Date.now();
  while (log.matching(/more clients disconnected/).length === 0) {
    assert.ok(Date.now() - t0 < 3_000, 'a summary within the second (+ a busy machine)');
    await new Promise((r) => setTimeout(r, 20));
  }
  clearTimeout(hold);
  assert.equal(log.matching(/more clients disconnected/)[0]!.msg, '1 more clients disconnected in the last 1 s (42 connected now)');
  storm.close();
});
