import { summaryOf, type EventRecord, type EventSummary } from './event-record.js';

/** Which events a list asks for; every field optional. */
export interface EventFilter {
  /** The peer's name, exactly. */
  peer?: string;
  /** Part of the noun. */
  noun?: string;
  /** A status (`404`), a class (`4xx`), or `error` (no reply came). */
  status?: string;
  /** Only events with a greater id. */
  after?: number;
  /** At most this many, newest first. */
  limit?: number;
}

/**
 * The last `capacity` events, in a fixed array used as a ring: recording one is a store and an
 * index step, and the oldest falls out when it is full. Ids increase by one, so an event is
 * found by its id in one step.
 */
export class EventRing {
  readonly capacity: number;
  readonly #slots: Array<EventRecord | undefined>;
  #lastId = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
    this.#slots = new Array<EventRecord | undefined>(capacity);
  }

  /** The id the next event gets. */
  nextId(): number {
    return this.#lastId + 1;
  }

  /** The newest event's id (0 before the first). */
  get lastId(): number {
    return this.#lastId;
  }

  /** Keeps `record`, whose id must be {@link nextId}. */
  push(record: EventRecord): void {
    this.#lastId = record.detail.id;
    this.#slots[this.#lastId % this.capacity] = record;
  }

  /** The event with this id, while it is still kept. */
  get(id: number): EventRecord | undefined {
    if (!Number.isSafeInteger(id) || id <= 0 || id > this.#lastId || id <= this.#lastId - this.capacity) return undefined;
    return this.#slots[id % this.capacity];
  }

  /** The kept events that pass `filter`, newest first. */
  list(filter: EventFilter = {}): EventSummary[] {
    const limit = Math.min(filter.limit ?? this.capacity, this.capacity);
    const matches = compileFilter(filter);
    const out: EventSummary[] = [];
    const oldest = Math.max(1, this.#lastId - this.capacity + 1, (filter.after ?? 0) + 1);
    for (let id = this.#lastId; id >= oldest && out.length < limit; id--) {
      const d = this.#slots[id % this.capacity]?.detail;
      if (d !== undefined && matches(d)) out.push(summaryOf(d));
    }
    return out;
  }
}

/** A filter as one predicate. */
export function compileFilter(filter: EventFilter): (e: EventSummary) => boolean {
  const { peer, noun } = filter;
  const status = filter.status?.trim().toLowerCase();
  let statusTest: ((e: EventSummary) => boolean) | undefined;
  if (status !== undefined && status !== '') {
    if (status === 'error') statusTest = (e) => e.error !== null;
    else if (/^[1-5]xx$/.test(status)) {
      const cls = Number(status[0]);
      statusTest = (e) => e.status !== null && Math.floor(e.status / 100) === cls;
    } else {
      const n = Number(status);
      statusTest = (e) => e.status === n;
    }
  }
  return (e) => (peer === undefined || peer === '' || e.peer === peer) && (noun === undefined || noun === '' || e.noun.includes(noun)) && (statusTest === undefined || statusTest(e));
}
