// TicketKeys (src/server/ticket-keys.ts): the TLS session ticket keys (issue 14). In memory a key
// is random and changes each period; with a file, every server reading it derives the same key
// for the same period; a file others can read, or one that is not a secret, is refused with a
// line that says what to do.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ErrorCode, hasErrorCode } from '../../../src/errors.js';
import { DEFAULT_TICKET_KEY_ROTATION_MS, TICKET_KEY_BYTES, TicketKeys } from '../../../src/server/ticket-keys.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'restpipe-ticket-keys-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const HOUR = 3_600_000;

test('in memory: a random 48-byte key per server; a ticket lives one period', () => {
  const keys = new TicketKeys({ rotationMs: HOUR });
  assert.equal(keys.key.length, TICKET_KEY_BYTES);
  assert.equal(keys.lifetimeS, 3_600);
  assert.notDeepEqual(new TicketKeys({ rotationMs: HOUR }).key, keys.key, 'another server, another key');
  assert.equal(new TicketKeys().lifetimeS, DEFAULT_TICKET_KEY_ROTATION_MS / 1000);
});

test('in memory: start() hands over the next key when its period begins', async () => {
  const rotationMs = 1_000;
  const keys = new TicketKeys({ rotationMs });
  const first = keys.key;
  const rotated = new Promise<Buffer>((resolve) => keys.start(resolve));
  const started = Date.now();
  // The rotation timer is unref'd (it must not keep a server process alive); this one holds the test.
  const hold = setTimeout(() => {}, 10_000);
  const next = await rotated;
  clearTimeout(hold);
  keys.close();
  const elapsed = Date.now() - started;
  assert.notDeepEqual(next, first);
  assert.deepEqual(keys.key, next);
  // At the next boundary: within one period, plus a busy machine's timer lateness.
  assert.ok(elapsed <= rotationMs + 1_500, `rotated after ${elapsed} ms`);
});

test('with a file: created 0600 when missing; every reader derives the same key for a period and another one for the next', async () => {
  const file = join(dir, 'shared.hex');
  let now = 5 * HOUR + 1;
  const a = new TicketKeys({ file, rotationMs: HOUR, now: () => now });
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.match((await readFile(file, 'utf8')).trim(), /^[0-9a-f]{96}$/);
  const b = new TicketKeys({ file, rotationMs: HOUR, now: () => now + 30 * 60_000 }); // same period, other instant
  assert.deepEqual(b.key, a.key, 'another server (or a restarted one) with the file');
  now += HOUR;
  const c = new TicketKeys({ file, rotationMs: HOUR, now: () => now });
  assert.notDeepEqual(c.key, a.key, 'the next period has its own key');
  const d = new TicketKeys({ file, rotationMs: 2 * HOUR, now: () => 5 * HOUR + 1 });
  assert.notDeepEqual(d.key, a.key, 'another rotation period derives other keys');
});

test('with a file: reload() picks up a replaced secret (and only then reports a change)', async () => {
  const file = join(dir, 'reload.hex');
  const keys = new TicketKeys({ file });
  const seen: Buffer[] = [];
  keys.start((k) => seen.push(k));
  assert.equal(keys.reload(), false, 'unchanged file');
  await writeFile(file, `${'ab'.repeat(48)}\n`, { mode: 0o600 });
  assert.equal(keys.reload(), true);
  assert.equal(seen.length, 1);
  assert.deepEqual(seen[0], keys.key);
  await chmod(file, 0o644);
  assert.throws(() => keys.reload(), /mode 0644/);
  assert.deepEqual(keys.key, seen[0], 'a bad file keeps the current key');
  keys.close();
});

test('a key file others can read, one that is not hex or too short, or a directory, is refused with one clear line', async () => {
  const open = join(dir, 'open.hex');
  await writeFile(open, 'ab'.repeat(48), { mode: 0o644 });
  await chmod(open, 0o644);
  const expect = (file: string, re: RegExp): void => {
    assert.throws(
      () => new TicketKeys({ file }),
      (err: Error) => hasErrorCode(err, ErrorCode.INVALID_OPTION) && re.test(err.message) && !err.message.includes('\n'),
    );
  };
  expect(open, new RegExp(`ticket key file ${open}: mode 0644 lets other users read it; it must be 0600 \\(chmod 600 ${open}\\)`));
  const short = join(dir, 'short.hex');
  await writeFile(short, 'abcd', { mode: 0o600 });
  expect(short, /expected at least 64 hex digits .*got 4 characters/);
  const text = join(dir, 'text.hex');
  await writeFile(text, 'not a secret at all, but long enough to pass the length test easily ok', { mode: 0o600 });
  expect(text, /that are not all hex digits/);
  expect(dir, /not a regular file/);
  expect(join(dir, 'missing-dir', 'k.hex'), /cannot create it \(ENOENT\)/);
  assert.throws(() => new TicketKeys({ rotationMs: 8 * 24 * HOUR }), /at most|from 1000 to/);
});
