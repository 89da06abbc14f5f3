// 1,000 events in flight on one pipe in each direction at the same time: every reply comes back
// to its own request, the far side really holds all 1,000 at once, the pipe survives (a message
// id reused while in flight is a protocol error that would close it), and afterwards the
// in-flight tables, connect-wait waiters and library timers are back where they started.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import type { HandlerContext, PostData, RestpipeClient, RestpipeServer } from 'restpipe';
import { startTestBed, type TestBed } from '../helpers/nodes.js';
import { activeResources, record, trackLibraryTimers, waitUntil, withTimeout } from '../helpers/wait.js';

const N = 1_000;
const timers = trackLibraryTimers();

/**
 * Handlers that hold every `post_hold` until `N` of them are in progress on this side, then
 * answer all of them, each echoing the id it was given.
 */
function holdingHandlers(side: string): { handlers: Record<string, unknown>; allHeld: Promise<void>; held(): number } {
  let held = 0;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let allHeldResolve!: () => void;
  const allHeld = new Promise<void>((resolve) => (allHeldResolve = resolve));
  return {
    handlers: {
      async post_hold(_ctx: HandlerContext, [, body]: PostData) {
        const { id } = body as { id: string };
        held++;
        if (held === N) {
          allHeldResolve();
          // Let the test look at the tables while everything is in flight, then release.
          setImmediate(release);
        }
        await released;
        return { id, answeredBy: side };
      },
    },
    allHeld,
    held: () => held,
  };
}

let bed: TestBed;
let server: RestpipeServer;
let client: RestpipeClient;
const onServer = holdingHandlers('server');
const onClient = holdingHandlers('client1');

let resourcesBefore: Record<string, number>;

before(async () => {
  resourcesBefore = activeResources();
  bed = await startTestBed();
  let port: number;
  ({ server, port } = await bed.server({ handlers: onServer.handlers, eventTimeoutMs: 20_000 }));
  client = await bed.connectedClient(server, port, bed.pki.client1, { handlers: onClient.handlers, eventTimeoutMs: 20_000 });
});
after(async () => {
  await bed?.close();
  timers.disable();
});

test(`${N} events in flight each way at once, each reply matched to its request`, async () => {
  const removed = record(server, 'connection_removed');
  const baselineTimers = timers.count();

  const t0 = performance.now();
  const toServer = Array.from({ length: N }, (_, i) =>
    client.send({ verb: 'post', noun: 'hold', mimetype: 'application/json', data: JSON.stringify({ id: `c2s-${i}` }) }),
  );
  const toClient = Array.from({ length: N }, (_, i) =>
    server.send('client1', { verb: 'post', noun: 'hold', mimetype: 'application/json', data: JSON.stringify({ id: `s2c-${i}` }) }),
  );

  // Both sides hold all N at once: the pipe carries 2N events concurrently.
  await withTimeout(Promise.all([onServer.allHeld, onClient.allHeld]), 15_000, 'all events to arrive at both handlers');
  const tHeld = performance.now() - t0;
  const view = server.client('client1');
  assert.deepEqual(view?.inFlight, { outbound: N, inbound: N }, 'the server side sees N in flight each way');
  assert.equal(client.pipe()?.inFlight.outbound, N);
  assert.equal(client.pipe()?.inFlight.inbound, N);

  const [repliesFromServer, repliesFromClient] = await withTimeout(
    Promise.all([Promise.all(toServer), Promise.all(toClient)]),
    15_000,
    'all replies',
  );
  const wallMs = performance.now() - t0;

  repliesFromServer.forEach((r, i) => {
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(Buffer.from(r.data).toString()), { id: `c2s-${i}`, answeredBy: 'server' });
  });
  repliesFromClient.forEach((r, i) => {
    assert.equal(r.code, 0);
    assert.deepEqual(JSON.parse(Buffer.from(r.data).toString()), { id: `s2c-${i}`, answeredBy: 'client1' });
  });
  assert.equal(onServer.held(), N, 'each event ran exactly once on the server');
  assert.equal(onClient.held(), N, 'each event ran exactly once on the client');

  // The one pipe carried everything and never broke (an id reused while in flight would have
  // been a protocol error closing it).
  assert.equal(client.connects, 1);
  assert.equal(removed.items.length, 0, 'no connection_removed');
  removed.stop();

  // Nothing left behind: tables, waiters, per-event timers.
  assert.deepEqual(server.client('client1')?.inFlight, { outbound: 0, inbound: 0 });
  assert.equal(client.pipe()?.inFlight.outbound, 0);
  assert.equal(client.pipe()?.inFlight.inbound, 0);
  assert.equal(server.waitingSenders, 0);
  assert.equal(client.waitingSenders, 0);
  await waitUntil(() => timers.count() <= baselineTimers, 2_000, `library timers back to ${baselineTimers} (live: ${timers.live().join('; ')})`);

  console.log(
    `${N} + ${N} concurrent events on one pipe: all held after ${tHeld.toFixed(0)} ms, all replies after ${wallMs.toFixed(0)} ms; ` +
      `library timers ${baselineTimers} before and ${timers.count()} after`,
  );
});

test('after the pipe closes, no library timer is left', async () => {
  const gone = client.close({ graceMs: 500 });
  await withTimeout(gone, 3_000, 'client close');
  await server.close({ graceMs: 500 });
  await waitUntil(() => timers.count() === 0, 500, `no library timers left (live: ${timers.live().join('; ')})`);
  assert.equal(server.waitingSenders, 0);
  // What keeps the event loop alive is back to what it was before the server and client existed:
  // no socket, server handle or ref'd timer of theirs is left.
  await waitUntil(
    () => Object.entries(activeResources()).every(([kind, n]) => n <= (resourcesBefore[kind] ?? 0)),
    1_000,
    `active resources back to ${JSON.stringify(resourcesBefore)} (now ${JSON.stringify(activeResources())})`,
  );
});
