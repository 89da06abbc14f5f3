// NeverConnectedLog (src/server/never-connected-log.ts): an info line when an event waits for a
// client that never connected, once per name per window, at most N names per window and then a
// summary; nothing built when info is off; the connected names listed, bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import type { Logger } from '../../../src/log.js';
import { NeverConnectedLog } from '../../../src/server/never-connected-log.js';

function captureLogger(infoEnabled = true): Logger & { lines: Array<{ obj: Record<string, unknown>; msg: string }> } {
  const lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  const logger = {
    lines,
    error: () => {},
    warn: () => {},
    debug: () => {},
    info: (obj: object, msg = '') => lines.push({ obj: obj as Record<string, unknown>, msg }),
    child: () => logger,
    isLevelEnabled: (level: string) => infoEnabled && level !== 'debug',
  };
  return logger;
}

test('once per name per window, naming the wait and the clients connected now', () => {
  const logger = captureLogger();
  const log = new NeverConnectedLog(logger, 60_000, 10);
  let asked = 0;
  const connected = (): string[] => (asked++, ['fileserver', 'sensor-1']);
  for (let i = 0; i < 3; i++) log.waiting('fileserverr', 20_000, connected);
  log.waiting('sensor-2', 500, connected);
  assert.deepEqual(
    logger.lines.map((l) => l.msg),
    [
      'a request for client "fileserverr" waits up to 20 s (connect-wait) for it: no client of that name has connected since the server started; connected now: fileserver, sensor-1',
      'a request for client "sensor-2" waits up to 0.5 s (connect-wait) for it: no client of that name has connected since the server started; connected now: fileserver, sensor-1',
    ],
  );
  assert.deepEqual(logger.lines[0]!.obj, { client: 'fileserverr', waitS: 20, connected: 2 });
  assert.equal(asked, 2, 'the connected names are read only for lines written');
  log.close();
});

test('many names: at most N lines per window, then one summary with the count', () => {
  const logger = captureLogger();
  const log = new NeverConnectedLog(logger, 60_000, 3);
  for (let i = 0; i < 50; i++) log.waiting(`made-up-${i}`, 1_000, () => []);
  assert.equal(logger.lines.length, 3);
  assert.match(logger.lines[0]!.msg, /connected now: none$/);
  log.close();
  assert.equal(logger.lines.length, 4);
  assert.deepEqual(logger.lines[3], {
    obj: { names: 47, windowS: 60 },
    msg: 'requests for 47 more client names that never connected were not logged in the last 60 s',
  });
});

test('a long name and a long list are bounded', () => {
  const logger = captureLogger();
  const log = new NeverConnectedLog(logger);
  log.waiting('x'.repeat(300), 1_000, () => Array.from({ length: 40 }, (_, i) => `c${i}`));
  const { obj, msg } = logger.lines[0]!;
  assert.equal(obj['client'], `${'x'.repeat(100)}…`);
  assert.match(msg, /; connected now: c0, c1, c2, c3, c4, … \(40\)$/);
  assert.ok(msg.length < 300, msg);
  log.close();
});

test('nothing is written or computed when info is off', () => {
  const logger = captureLogger(false);
  const log = new NeverConnectedLog(logger);
  log.waiting('x', 1_000, () => assert.fail('connected names read with info off'));
  assert.deepEqual(logger.lines, []);
  log.close();
});
