import { channels, type EventSettledMessage, type GatewayEventMessage, type PipeStateMessage } from '../diagnostics.js';
import { DEFAULT_INSPECT_EVENTS, MAX_INSPECT_EVENTS } from '../options/defaults.js';
import { invalidOption } from '../options/validate.js';
import type { PipeInfo } from '../sender.js';
import { BODY_CAPTURE_BYTES, recordGatewayEvent, recordInboundEvent, summaryOf, type EventRecord, type EventSummary } from './event-record.js';
import { EventRing, type EventFilter } from './event-ring.js';
import { PipeTable, type InspectedPipe } from './pipe-table.js';

/** Options of {@link createRecorder}. */
export interface RecorderOptions {
  /** This node's role: messages of the other role (`demo` runs both in one process) are not its own. */
  role: 'server' | 'client';
  /** Events kept (a ring: the oldest falls out). @default 500 */
  maxEvents?: number;
  /** Keep the first 10 KiB of each body (`--inspect-bodies`). @default false */
  captureBodies?: boolean;
  /** The node's open pipes, read when the pipes are listed. */
  pipes: () => readonly PipeInfo[];
}

/** Told of every recorded event and pipe change (the live feed). */
export interface RecorderListener {
  event(summary: EventSummary): void;
  pipesChanged(): void;
}

/** What the inspector's routes read. */
export interface InspectRecorder {
  readonly role: 'server' | 'client';
  readonly capacity: number;
  readonly captureBodies: boolean;
  /** The kept events that pass `filter`, newest first. */
  events(filter?: EventFilter): EventSummary[];
  /** One kept event, with its detail. */
  event(id: number): EventRecord | undefined;
  /** The newest event's id. */
  readonly lastId: number;
  /** Open pipes, then recently closed ones. */
  pipes(): InspectedPipe[];
  /** Adds a listener; returns its removal. */
  listen(listener: RecorderListener): () => void;
  /** Stops observing. Idempotent. */
  close(): void;
}

/**
 * Starts recording a node's events (SPEC §13): subscribes to the diagnostics channels the
 * gateway and the pipe publish on, so that it observes and is never called from the event
 * path; without a recorder nobody subscribes and nothing is built. Outbound events come from
 * the gateway (with HTTP status and headers), inbound ones from the pipe.
 * @throws RestpipeError `invalid_option` for a bad `maxEvents`.
 */
export function createRecorder(options: RecorderOptions): InspectRecorder {
  const capacity = options.maxEvents ?? DEFAULT_INSPECT_EVENTS;
  if (!Number.isSafeInteger(capacity) || capacity < 1 || capacity > MAX_INSPECT_EVENTS) {
    throw invalidOption(`inspectEvents must be a whole number from 1 to ${MAX_INSPECT_EVENTS}, got ${String(capacity)}`);
  }
  return new Recorder(options.role, capacity, options.captureBodies === true, options.pipes);
}

class Recorder implements InspectRecorder {
  readonly role: 'server' | 'client';
  readonly capacity: number;
  readonly captureBodies: boolean;
  readonly #ring: EventRing;
  readonly #pipes: PipeTable;
  readonly #listeners = new Set<RecorderListener>();
  /** A client node's server, by the name its last pipe had. */
  #serverName = 'server';
  #closed = false;

  constructor(role: 'server' | 'client', capacity: number, captureBodies: boolean, livePipes: () => readonly PipeInfo[]) {
    this.role = role;
    this.capacity = capacity;
    this.captureBodies = captureBodies;
    this.#ring = new EventRing(capacity);
    this.#pipes = new PipeTable(role, livePipes);
    channels.gatewayEventStart.subscribe(this.#onGatewayStart);
    channels.gatewayEventEnd.subscribe(this.#onGatewayEnd);
    channels.eventSettled.subscribe(this.#onSettled);
    channels.pipeState.subscribe(this.#onPipeState);
  }

  get lastId(): number {
    return this.#ring.lastId;
  }

  events(filter?: EventFilter): EventSummary[] {
    return this.#ring.list(filter);
  }

  event(id: number): EventRecord | undefined {
    return this.#ring.get(id);
  }

  pipes(): InspectedPipe[] {
    return this.#pipes.list();
  }

  listen(listener: RecorderListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    channels.gatewayEventStart.unsubscribe(this.#onGatewayStart);
    channels.gatewayEventEnd.unsubscribe(this.#onGatewayEnd);
    channels.eventSettled.unsubscribe(this.#onSettled);
    channels.pipeState.unsubscribe(this.#onPipeState);
    this.#listeners.clear();
  }

  #keep(record: EventRecord): void {
    this.#ring.push(record);
    if (this.#listeners.size === 0) return;
    const summary = summaryOf(record.detail);
    for (const l of this.#listeners) l.event(summary);
  }

  readonly #onGatewayStart = (message: unknown): void => {
    const m = message as GatewayEventMessage;
    if (m.role === this.role && this.captureBodies) m.captureBodyBytes = Math.max(m.captureBodyBytes, BODY_CAPTURE_BYTES);
  };

  readonly #onGatewayEnd = (message: unknown): void => {
    const m = message as GatewayEventMessage;
    if (m.role !== this.role) return;
    const peer = this.role === 'server' ? (m.target ?? '') : this.#serverName;
    this.#keep(recordGatewayEvent(this.#ring.nextId(), m, peer));
  };

  readonly #onSettled = (message: unknown): void => {
    const m = message as EventSettledMessage;
    // Outbound events are recorded from the gateway, which knows their HTTP side.
    if (m.role !== this.role || m.direction !== 'inbound' || m.event === undefined || m.reply === undefined) return;
    this.#keep(recordInboundEvent(this.#ring.nextId(), m, this.captureBodies ? BODY_CAPTURE_BYTES : 0));
  };

  readonly #onPipeState = (message: unknown): void => {
    const m = message as PipeStateMessage;
    if (!this.#pipes.onPipeState(m)) return;
    if (this.role === 'client' && m.state === 'open') this.#serverName = m.peer;
    for (const l of this.#listeners) l.pipesChanged();
  };
}
