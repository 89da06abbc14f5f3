import type { ServerResponse } from 'node:http';
import type { EventSummary } from './event-record.js';
import type { InspectRecorder } from './recorder.js';

/**
 * The inspector's live feed: server-sent events (`GET /inspect/api/live`). Events recorded in a
 * tenth of a second go out as one message (`event: events`, newest last), so a burst of
 * thousands is a few writes, not thousands; the pipes go out when one opens or closes and once
 * a second while anyone watches (RTT, bytes and in-flight counts change all the time).
 *
 * Bounded: at most {@link MAX_FEEDS} watchers, at most {@link MAX_BATCH} events per message (the
 * page asks for the list again when it sees `skipped`), and a watcher that does not read
 * (more than {@link MAX_BUFFERED_BYTES} waiting) is disconnected: EventSource reconnects and
 * the page starts again from the list.
 */

/** Pages that may watch one node at once. */
export const MAX_FEEDS = 32;
const FLUSH_MS = 100;
const PIPES_EVERY_MS = 1_000;
const MAX_BATCH = 500;
const MAX_BUFFERED_BYTES = 1024 * 1024;

/** The live feed of one node's inspector: its watchers and the batch being gathered for them. */
export class LiveFeed {
  readonly #recorder: InspectRecorder;
  readonly #watchers = new Set<ServerResponse>();
  #batch: EventSummary[] = [];
  #skipped = 0;
  #pipesChanged = false;
  #flushTimer: NodeJS.Timeout | undefined;
  #pipesTimer: NodeJS.Timeout | undefined;
  #unlisten: (() => void) | undefined;

  constructor(recorder: InspectRecorder) {
    this.#recorder = recorder;
  }

  get watchers(): number {
    return this.#watchers.size;
  }

  /** Whether another watcher may join. */
  get full(): boolean {
    return this.#watchers.size >= MAX_FEEDS;
  }

  /** A watcher joined: it gets the pipes now and everything recorded from now on. */
  add(res: ServerResponse): void {
    this.#watchers.add(res);
    res.on('close', () => this.#remove(res));
    // Tells EventSource to wait 1 s before reconnecting; a comment line opens the stream.
    res.write(`retry: 1000\n: restpipe inspector\n\n`);
    this.#send(res, 'pipes', JSON.stringify(this.#recorder.pipes()));
    if (this.#unlisten === undefined) {
      this.#unlisten = this.#recorder.listen({ event: (e) => this.#onEvent(e), pipesChanged: () => this.#onPipesChanged() });
      this.#pipesTimer = setInterval(() => this.#onPipesChanged(), PIPES_EVERY_MS).unref();
    }
  }

  /** Ends every watcher's stream (the gateway is closing). */
  close(): void {
    for (const res of [...this.#watchers]) res.end();
    this.#stop();
  }

  #remove(res: ServerResponse): void {
    this.#watchers.delete(res);
    if (this.#watchers.size === 0) this.#stop();
  }

  #stop(): void {
    this.#unlisten?.();
    this.#unlisten = undefined;
    clearInterval(this.#pipesTimer);
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#batch = [];
    this.#skipped = 0;
    this.#pipesChanged = false;
  }

  #onEvent(summary: EventSummary): void {
    if (this.#batch.length >= MAX_BATCH) {
      this.#batch.shift();
      this.#skipped++;
    }
    this.#batch.push(summary);
    this.#schedule();
  }

  #onPipesChanged(): void {
    this.#pipesChanged = true;
    this.#schedule();
  }

  #schedule(): void {
    this.#flushTimer ??= setTimeout(() => this.#flush(), FLUSH_MS).unref();
  }

  #flush(): void {
    this.#flushTimer = undefined;
    const parts: string[] = [];
    if (this.#batch.length > 0) {
      parts.push(frame('events', JSON.stringify({ events: this.#batch, skipped: this.#skipped })));
      this.#batch = [];
      this.#skipped = 0;
    }
    if (this.#pipesChanged) {
      this.#pipesChanged = false;
      parts.push(frame('pipes', JSON.stringify(this.#recorder.pipes())));
    }
    if (parts.length === 0) return;
    const text = parts.join('');
    for (const res of this.#watchers) {
      if (res.writableLength > MAX_BUFFERED_BYTES) {
        res.destroy();
        continue;
      }
      res.write(text);
    }
  }

  #send(res: ServerResponse, event: string, data: string): void {
    res.write(frame(event, data));
  }
}

function frame(event: string, data: string): string {
  // JSON.stringify never writes a raw newline, so `data` is one line.
  return `event: ${event}\ndata: ${data}\n\n`;
}
