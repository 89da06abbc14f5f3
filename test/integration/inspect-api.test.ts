// The inspector's JSON API and live feed (SPEC §13) on real nodes joined by a real TLS pipe:
// events both ways recorded with their HTTP side, credentials redacted, bodies cut to 10 KiB,
// replay through the gateway, filters, the gateway's Host/Origin rules on /inspect, the ring
// bounded, and nothing subscribed when the inspector is off.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import { channels, reply, startNode, type RunningNode } from '../../src/index.js';
import { httpRequest } from '../helpers/gateway-http.js';
import { HEARTBEAT } from '../helpers/gateway-nodes.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { waitUntil } from '../helpers/wait.js';

let pki: Pki;
let server: RunningNode;
let client: RunningNode;

const handlers = {
  get_time: () => ({ t: 1 }),
  post_echo: (_ctx: unknown, [mimetype, data]: [string, Uint8Array]) => reply({ mimetype, data, code: 0 }),
  get_teapot: () => reply({ status: 418, data: 'short and stout', mimetype: 'text/plain', code: 7 }),
};

const gw = (node: RunningNode): { port: number } => ({ port: (node.gateway!.address as { port: number }).port });

before(async () => {
  pki = await makePki();
  server = await startNode({
    role: 'server',
    identity: pki.server.tls,
    listen: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    handlers,
    inspect: true,
    inspectBodies: true,
    inspectEvents: 20,
    connectWaitMs: 300,
    ...HEARTBEAT,
  });
  client = await startNode({
    role: 'client',
    identity: pki.client1.tls,
    server: { host: '127.0.0.1', port: server.server!.address!.port },
    http: { host: '127.0.0.1', port: 0 },
    handlers,
    inspect: true,
    inspectBodies: true,
    ...HEARTBEAT,
  });
  await client.client!.waitReady(5_000);
});

after(async () => {
  await client?.close({ graceMs: 0 });
  await server?.close({ graceMs: 0 });
  await pki?.cleanup();
});

async function api(node: RunningNode, path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<any> {
  const r = await httpRequest(gw(node), { path, ...init });
  assert.equal(r.status, 200, `${path}: ${r.body.toString()}`);
  return r.json();
}

test('events both ways are listed on both nodes, newest first, with direction, peer, status, return code and sizes', async () => {
  const out = await httpRequest(gw(client), { path: '/server/time' });
  assert.equal(out.status, 200);
  const back = await httpRequest(gw(server), { path: '/client/client1/teapot' });
  assert.equal(back.status, 418);

  const onClient = (await api(client, '/inspect/api/events')).events;
  assert.deepEqual(
    onClient.slice(0, 2).map((e: any) => [e.direction, e.peer, e.verb, e.noun, e.status, e.returnCode, e.replyBytes]),
    [
      ['inbound', 'server', 'get', 'teapot', 418, 7, 15],
      ['outbound', 'server', 'get', 'time', 200, 0, out.body.byteLength],
    ],
  );
  assert.ok(onClient[0].id > onClient[1].id, 'newest first');
  const onServer = (await api(server, '/inspect/api/events')).events;
  assert.deepEqual(
    onServer.slice(0, 2).map((e: any) => [e.direction, e.peer, e.noun, e.status]),
    [
      ['outbound', 'client1', 'teapot', 418],
      ['inbound', 'client1', 'time', 200],
    ],
  );
  const pipes = (await api(client, '/inspect/api/pipes')).pipes;
  assert.equal(pipes.length, 1);
  assert.equal(pipes[0].name, 'server');
  assert.equal(pipes[0].state, 'open');
  assert.equal(pipes[0].address, '127.0.0.1');
  assert.equal(pipes[0].reconnects, 0);
  assert.ok(pipes[0].bytes.sent > 0 && pipes[0].bytes.received > 0, JSON.stringify(pipes[0].bytes));
  assert.deepEqual(pipes[0].inFlight, { outbound: 0, inbound: 0 });
});

test('detail: headers with Authorization, Cookie and Set-Cookie redacted; the first 10 KiB of each body', async () => {
  const body = Buffer.alloc(15_000, 'a');
  const r = await httpRequest(gw(client), {
    method: 'POST',
    path: '/server/echo?x=1',
    headers: { authorization: 'Bearer s3cret', cookie: 'session=s3cret', 'content-type': 'text/plain', 'x-trace': 'abc' },
    body,
  });
  assert.equal(r.status, 200);
  const [summary] = (await api(client, '/inspect/api/events?noun=echo&limit=1')).events;
  const d = await api(client, `/inspect/api/events/${summary.id}`);
  const headers = Object.fromEntries(d.requestHeaders);
  assert.equal(headers['authorization'], '[redacted]');
  assert.equal(headers['cookie'], '[redacted]');
  assert.equal(headers['x-trace'], 'abc');
  assert.doesNotMatch(JSON.stringify(d), /s3cret/);
  assert.equal(d.url, '/server/echo?x=1');
  assert.equal(d.requestBytes, 15_000);
  assert.deepEqual({ ...d.requestBody, data: d.requestBody.data.length }, { encoding: 'utf8', data: 10 * 1024, bytes: 15_000, truncated: true });
  assert.equal(d.replyBody.data.length, 10 * 1024);
  assert.equal(d.replayable, false, 'a body not kept whole cannot be replayed');
  const replay = await httpRequest(gw(client), { method: 'POST', path: `/inspect/api/events/${d.id}/replay` });
  assert.equal(replay.status, 400);
  assert.match(replay.json().error.message, /not captured whole/);
});

test('replay sends the event again through the gateway: a new event with the same answer', async () => {
  const r = await httpRequest(gw(client), { method: 'POST', path: '/server/echo', headers: { 'content-type': 'application/json', authorization: 'Basic eA==' }, body: '{"a":1}' });
  assert.equal(r.status, 200);
  const [original] = (await api(client, '/inspect/api/events?noun=echo&limit=1')).events;
  // The page's own POST carries its Origin; it is accepted on /inspect (same origin).
  const origin = `http://127.0.0.1:${gw(client).port}`;
  const replayed = await api(client, `/inspect/api/events/${original.id}/replay`, { method: 'POST', headers: { origin, 'sec-fetch-site': 'same-origin' } });
  assert.equal(replayed.replayOf, original.id);
  assert.equal(replayed.status, 200);
  assert.equal(replayed.returnCode, 0);
  const copy = await api(client, `/inspect/api/events/${replayed.event}`);
  const first = await api(client, `/inspect/api/events/${original.id}`);
  assert.equal(copy.replayOf, original.id);
  assert.equal(copy.replyBody.data, first.replyBody.data);
  assert.equal(copy.replyBody.data, '{"a":1}');
  assert.ok(!copy.requestHeaders.some(([n]: [string]) => n === 'authorization'), 'a redacted header is not replayed');
});

test('filters by peer, noun and status', async () => {
  await httpRequest(gw(server), { path: '/client/client1/teapot' });
  const byStatus = (await api(server, '/inspect/api/events?status=4xx')).events;
  assert.ok(byStatus.length > 0 && byStatus.every((e: any) => e.status >= 400 && e.status < 500));
  assert.ok((await api(server, '/inspect/api/events?noun=tea')).events.every((e: any) => e.noun.includes('tea')));
  assert.deepEqual((await api(server, '/inspect/api/events?peer=nobody')).events, []);
  const missing = await httpRequest(gw(server), { path: '/client/nobody/time' });
  assert.equal(missing.status, 503);
  const [failed] = (await api(server, '/inspect/api/events?status=error')).events;
  assert.deepEqual([failed.peer, failed.status, failed.error, failed.returnCode], ['nobody', 503, 'no_connection', null]);
});

test('the ring keeps the last --inspect-events events', async () => {
  for (let i = 0; i < 25; i++) assert.equal((await httpRequest(gw(server), { path: '/client/client1/time' })).status, 200);
  const { events, capacity, lastId } = await api(server, '/inspect/api/events');
  assert.equal(capacity, 20);
  assert.equal(events.length, 20);
  assert.equal(events[0].id, lastId);
  assert.equal(events[19].id, lastId - 19);
  const gone = await httpRequest(gw(server), { path: `/inspect/api/events/${lastId - 20}` });
  assert.equal(gone.status, 404);
});

test('/inspect follows the gateway rules: a foreign Host, a foreign Origin and a cross-site request get 403', async () => {
  for (const headers of [{ host: 'evil.example' }, { origin: 'http://evil.example' }, { 'sec-fetch-site': 'cross-site' }]) {
    for (const path of ['/inspect', '/inspect/api/events', '/inspect/api/live']) {
      const r = await httpRequest(gw(client), { path, headers });
      assert.equal(r.status, 403, `${path} ${JSON.stringify(headers)}`);
    }
  }
  const page = await httpRequest(gw(client), { path: '/inspect', headers: { 'sec-fetch-site': 'none' } });
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-security-policy']), /default-src 'none'/);
  assert.equal((await httpRequest(gw(client), { path: '/inspect/api/nothing' })).status, 404);
  assert.equal((await httpRequest(gw(client), { method: 'POST', path: '/inspect/api/events' })).status, 405);
});

test('the live feed sends each new event and the pipes', async () => {
  const received: string[] = [];
  const req = http.get({ host: '127.0.0.1', port: gw(client).port, path: '/inspect/api/live' });
  const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
  assert.equal(res.headers['content-type'], 'text/event-stream');
  res.setEncoding('utf8');
  res.on('data', (chunk: string) => received.push(chunk));
  try {
    await waitUntil(() => received.join('').includes('event: pipes'), 5_000, 'the pipes on the feed');
    await httpRequest(gw(client), { path: '/server/time?live=1' });
    await waitUntil(() => /event: events\ndata: .*"noun":"time"/.test(received.join('')), 5_000, 'the event on the feed');
  } finally {
    req.destroy();
  }
});

test('without --inspect nothing subscribes to the gateway channels and no /inspect route exists', async () => {
  // This process runs two inspecting nodes; a third without the inspector adds no subscriber.
  const before = channels.gatewayEventEnd.hasSubscribers;
  assert.equal(before, true);
  const plain = await startNode({ role: 'server', identity: pki.server.tls, listen: { host: '127.0.0.1', port: 0 }, http: { host: '127.0.0.1', port: 0 }, ...HEARTBEAT });
  try {
    assert.equal((await httpRequest(gw(plain), { path: '/inspect' })).status, 404);
    assert.equal(plain.inspector, undefined);
  } finally {
    await plain.close({ graceMs: 0 });
  }
  await client.close({ graceMs: 0 });
  await server.close({ graceMs: 0 });
  assert.equal(channels.gatewayEventStart.hasSubscribers, false);
  assert.equal(channels.gatewayEventEnd.hasSubscribers, false);
});
