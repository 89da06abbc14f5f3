import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';

import type { EventSummary } from '../../../src/inspect/event-record.js';
import { LiveFeed, MAX_FEEDS } from '../../../src/inspect/live-feed.js';
import type { InspectRecorder, RecorderListener } from '../../../src/inspect/recorder.js';
import { waitUntil } from '../../helpers/wait.js';

/** A response that keeps what is written; `writableLength` is what a slow reader left unread. */
class FakeResponse extends EventEmitter {
  written: string[] = [];
  writableLength = 0;
  ended = false;
  destroyed = false;
  write(text: string): boolean {
    this.written.push(text);
    return true;
  }
  end(): void {
    this.ended = true;
    this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

function fakeRecorder(): { recorder: InspectRecorder; listeners: Set<RecorderListener> } {
  const listeners = new Set<RecorderListener>();
  const recorder = {
    role: 'client',
    capacity: 500,
    captureBodies: false,
    lastId: 0,
    events: () => [],
    event: () => undefined,
    pipes: () => [],
    listen(l: RecorderListener) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    close() {},
  } as InspectRecorder;
  return { recorder, listeners };
}

const summary = (id: number): EventSummary => ({
  id, time: id, direction: 'outbound', peer: 'p', verb: 'get', noun: 'n', status: 200, returnCode: 0, error: null, durationMs: 1, requestBytes: 0, replyBytes: 0, replayable: true, replayOf: null,
});

test('events recorded together go out as one message; the recorder is listened to only while someone watches', async () => {
  const { recorder, listeners } = fakeRecorder();
  const feed = new LiveFeed(recorder);
  const res = new FakeResponse();
  feed.add(res as unknown as ServerResponse);
  assert.equal(listeners.size, 1);
  assert.match(res.written.join(''), /^retry: 1000\n/);
  assert.match(res.written.join(''), /event: pipes\ndata: \[\]\n\n/);
  const before = res.written.length;
  for (let i = 1; i <= 1_000; i++) for (const l of listeners) l.event(summary(i));
  await waitUntil(() => res.written.length > before, 2_000, 'a flush');
  const messages = res.written.slice(before);
  assert.equal(messages.length, 1, 'one write for the whole burst');
  const data = JSON.parse(/data: (.*)\n/.exec(messages[0]!)![1]!) as { events: EventSummary[]; skipped: number };
  assert.equal(data.events.length, 500, 'at most 500 per message');
  assert.equal(data.skipped, 500, 'the page is told it missed some (it reloads the list)');
  assert.equal(data.events.at(-1)!.id, 1_000, 'the newest are kept');
  res.emit('close');
  assert.equal(listeners.size, 0);
  assert.equal(feed.watchers, 0);
});

test('a watcher that does not read is disconnected; at most MAX_FEEDS watch; close ends every stream', async () => {
  const { recorder, listeners } = fakeRecorder();
  const feed = new LiveFeed(recorder);
  const slow = new FakeResponse();
  const fine = new FakeResponse();
  feed.add(slow as unknown as ServerResponse);
  feed.add(fine as unknown as ServerResponse);
  slow.writableLength = 2 * 1024 * 1024;
  const before = fine.written.length;
  for (const l of listeners) l.event(summary(1));
  await waitUntil(() => fine.written.length > before, 2_000, 'a flush');
  assert.equal(slow.destroyed, true);
  assert.equal(fine.destroyed, false);
  const more = Array.from({ length: MAX_FEEDS }, () => new FakeResponse());
  for (const r of more) if (!feed.full) feed.add(r as unknown as ServerResponse);
  assert.equal(feed.watchers, MAX_FEEDS);
  assert.equal(feed.full, true);
  feed.close();
  assert.ok(fine.ended && more.slice(0, MAX_FEEDS - 1).every((r) => r.ended));
  assert.equal(feed.watchers, 0);
  assert.equal(listeners.size, 0);
});
