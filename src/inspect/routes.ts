import { readFileSync } from 'node:fs';
import { ErrorCode, RestpipeError } from '../errors.js';
import type { GatewayPages, PageCall } from '../gateway/gateway-options.js';
import { truncate } from '../text.js';
import { detailOf } from './event-record.js';
import type { EventFilter } from './event-ring.js';
import { LiveFeed } from './live-feed.js';
import type { InspectRecorder } from './recorder.js';
import { replay, type GatewayAddress } from './replay.js';

/**
 * The inspector's routes on the gateway (SPEC §13), under `/inspect`:
 *
 * | route | answer |
 * |---|---|
 * | `GET /inspect` | the page (assets/index.html), which loads `/inspect/assets/inspector.{css,js}` |
 * | `GET /inspect/api/pipes` | `{ role, pipes }` |
 * | `GET /inspect/api/events?peer=&noun=&status=&after=&limit=` | `{ role, capacity, captureBodies, lastId, events }`, newest first |
 * | `GET /inspect/api/events/ID` | the event's detail |
 * | `POST /inspect/api/events/ID/replay` | `{ replayOf, event, status, returnCode }` |
 * | `GET /inspect/api/live` | server-sent events: `events` and `pipes` |
 *
 * The gateway has applied its Host/Origin/Sec-Fetch-Site rules before a request gets here.
 */

const PREFIX = '/inspect';
const ASSETS_DIR = new URL('../../../src/inspect/assets/', import.meta.url);
const ASSET_TYPES: Readonly<Record<string, string>> = {
  'index.html': 'text/html; charset=utf-8',
  'inspector.css': 'text/css; charset=utf-8',
  'inspector.js': 'text/javascript; charset=utf-8',
};
/** The page loads nothing from elsewhere, runs no inline script and cannot be framed (replay is a button). */
const PAGE_SECURITY = [
  'Content-Security-Policy',
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options',
  'nosniff',
  'X-Frame-Options',
  'DENY',
  'Referrer-Policy',
  'no-referrer',
];
const EVENT_PATH = /^\/api\/events\/(\d{1,15})(\/replay)?$/;
const MAX_LIST = 5_000;

/** The inspector's pages for a gateway, over a recorder. Reads its assets now (small files). */
export function createInspectPages(recorder: InspectRecorder): GatewayPages {
  const assets = new Map<string, Buffer>();
  for (const name of Object.keys(ASSET_TYPES)) assets.set(name, readFileSync(new URL(name, ASSETS_DIR)));
  const feed = new LiveFeed(recorder);

  const json = (call: PageCall, status: number, value: unknown): void => {
    const body = Buffer.from(JSON.stringify(value));
    call.respond(status, ['Content-Type', 'application/json', 'Content-Length', String(body.byteLength), 'Cache-Control', 'no-store', 'X-Content-Type-Options', 'nosniff'], body);
  };
  const asset = (call: PageCall, name: string): void => {
    const body = assets.get(name)!;
    call.respond(200, ['Content-Type', ASSET_TYPES[name]!, 'Content-Length', String(body.byteLength), 'Cache-Control', 'no-cache', ...PAGE_SECURITY], body);
  };

  return {
    prefix: PREFIX,
    close: () => feed.close(),
    serve(call, fullPath, query, gateway) {
      const path = fullPath.slice(PREFIX.length);
      const method = call.req.method ?? '';
      const replayRoute = EVENT_PATH.exec(path)?.[2] !== undefined;
      if (method !== (replayRoute ? 'POST' : 'GET')) {
        call.fail(new RestpipeError(ErrorCode.METHOD_NOT_ALLOWED, `method ${truncate(method)} is not allowed on ${JSON.stringify(truncate(fullPath))}: use ${replayRoute ? 'POST' : 'GET'}`));
        return;
      }
      if (path === '' || path === '/') return asset(call, 'index.html');
      if (path.startsWith('/assets/') && path.slice(8) in ASSET_TYPES && path !== '/assets/index.html') return asset(call, path.slice(8));
      if (path === '/api/pipes') return json(call, 200, { role: recorder.role, pipes: recorder.pipes() });
      if (path === '/api/events') {
        return json(call, 200, { role: recorder.role, capacity: recorder.capacity, captureBodies: recorder.captureBodies, lastId: recorder.lastId, events: recorder.events(parseFilter(query)) });
      }
      if (path === '/api/live') {
        if (feed.full) {
          call.fail(new RestpipeError(ErrorCode.TOO_MANY_IN_FLIGHT, 'too many inspector pages are watching this node; close one'));
          return;
        }
        feed.add(call.startStream(200, ['Content-Type', 'text/event-stream', 'Cache-Control', 'no-store', 'X-Accel-Buffering', 'no']));
        return;
      }
      const m = EVENT_PATH.exec(path);
      if (m === null) {
        call.fail(new RestpipeError(ErrorCode.NOT_FOUND, `no inspector route for ${JSON.stringify(truncate(fullPath))}; the page is at /inspect, the data under /inspect/api/`));
        return;
      }
      const id = Number(m[1]);
      const record = recorder.event(id);
      if (record === undefined) {
        call.fail(new RestpipeError(ErrorCode.NOT_FOUND, `event ${id} is not kept (the inspector keeps the last ${recorder.capacity}: --inspect-events)`));
        return;
      }
      if (m[2] === undefined) return json(call, 200, detailOf(record));
      if (record.replayBody === undefined) {
        const why = record.detail.direction === 'inbound' ? 'it was sent by the peer, not through this gateway' : 'its request body was not captured whole (--inspect-bodies keeps the first 10 KiB)';
        call.fail(new RestpipeError(ErrorCode.BAD_REQUEST, `event ${id} cannot be replayed: ${why}`));
        return;
      }
      const before = recorder.lastId;
      replay(record, gateway as GatewayAddress).then(
        (outcome) => {
          const replayed = recorder.events({ after: before, limit: 100 }).find((e) => e.replayOf === id);
          if (call.canRespond) json(call, 200, { replayOf: id, event: replayed?.id ?? null, ...outcome });
        },
        (err: unknown) => call.fail(new RestpipeError(ErrorCode.INTERNAL_ERROR, `replay of event ${id} failed: ${(err as Error).message}`)),
      );
    },
  };
}

function parseFilter(query: string): EventFilter {
  const q = new URLSearchParams(query);
  const filter: EventFilter = {};
  const peer = q.get('peer');
  const noun = q.get('noun');
  const status = q.get('status');
  const after = Number(q.get('after') ?? '');
  const limit = Number(q.get('limit') ?? '');
  if (peer !== null) filter.peer = peer;
  if (noun !== null) filter.noun = noun;
  if (status !== null) filter.status = status;
  if (Number.isSafeInteger(after) && after > 0) filter.after = after;
  filter.limit = Number.isSafeInteger(limit) && limit > 0 ? Math.min(limit, MAX_LIST) : MAX_LIST;
  return filter;
}
