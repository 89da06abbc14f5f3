// Events go both ways over one real TLS pipe: the built-in examples, custom handlers, binary and
// JSON bodies, `//` parameters, query strings, every reply form, and far-side failures (255, 251)
// that resolve instead of rejecting (SPEC §1, §5).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
  ReturnCode,
  reply,
  type EventRequest,
  type HandlerContext,
  type PostData,
  type Reply,
  type RestpipeClient,
  type RestpipeServer,
} from 'restpipe';
import { DIRECTIONS, farSide, sendWay, startTestBed, type Direction, type TestBed } from '../helpers/nodes.js';

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

/** The same handlers on both sides; `node` says which side answered. */
function handlers(node: string): Record<string, unknown> {
  const inspect = (ctx: HandlerContext, [mimetype, data]: PostData, ...params: string[]): unknown => ({
    node,
    verb: ctx.verb,
    noun: ctx.noun,
    params,
    ctxParams: ctx.params,
    query: [...ctx.query],
    peer: ctx.peer.name,
    peerAddress: ctx.peer.address,
    mimetype,
    dataKind: Buffer.isBuffer(data) ? 'buffer' : data === null ? 'null' : typeof data,
    data: Buffer.isBuffer(data) ? data.toString('hex') : data,
  });
  return {
    get_inspect: inspect,
    post_inspect: inspect,
    put_inspect: inspect,
    delete_inspect: inspect,
    patch_inspect: inspect,
    patch_nested_path: inspect,
    post_echo: (_ctx: HandlerContext, [mimetype, data]: PostData) => reply({ mimetype, data: data as Buffer }),
    get_tuple: () => ['text/plain; charset=utf-8', 0, `tuple from ${node}`],
    get_tuple7: () => ['text/x-seven', 7, Buffer.from([7, 7, 7])],
    get_replyobject: () => reply({ mimetype: 'application/x-thing', code: 3, data: Buffer.from('thing'), status: 202 }),
    get_plainobject: () => ({ mimetype: 'text/csv; charset=utf-8', data: 'a,b\n1,2\n' }),
    get_value: async () => ({ from: node, list: [1, 2, 3] }),
    get_boom: () => {
      throw new RangeError(`boom from ${node}`);
    },
  };
}

let bed: TestBed;
let server: RestpipeServer;
let client: RestpipeClient;

before(async () => {
  bed = await startTestBed();
  let port: number;
  ({ server, port } = await bed.server({ handlers: handlers('server') }));
  client = await bed.connectedClient(server, port, bed.pki.client1, { handlers: handlers('client1') });
});
after(async () => {
  await bed?.close();
});

/** Sends `event` one way or the other. */
const send = (dir: Direction, event: EventRequest): Promise<Reply> => sendWay({ server, client }, dir, event);
const near = (dir: Direction): string => (dir === 'client→server' ? 'client1' : 'server');
const json = (r: Reply): any => JSON.parse(Buffer.from(r.data).toString('utf8'));

describe('the built-in example handlers (no handlers option)', () => {
  test('time and cat answer in both directions', async () => {
    const b = await startTestBed();
    try {
      const { server: s, port } = await b.server();
      const c = await b.connectedClient(s, port, b.pki.client2);

      const before = Date.now() / 1000;
      const fromServer = await c.send({ verb: 'get', noun: 'time' });
      const fromClient = await s.send('client2', { verb: 'get', noun: 'time' });
      const now = Date.now() / 1000;
      for (const [r, key] of [
        [fromServer, 'time_from_server'],
        [fromClient, 'time_from_client'],
      ] as const) {
        assert.equal(r.code, ReturnCode.OK);
        assert.equal(r.mimetype, 'application/json');
        const t = json(r)[key] as number;
        assert.ok(t >= before - 0.001 && t <= now + 0.001, `${key} ${t} within [${before}, ${now}]`);
      }

      const cat1 = await c.send({ verb: 'get', noun: 'cat//hello/world' });
      assert.deepEqual(json(cat1), { result_from_server: 'helloworld' });
      const cat2 = await s.send('client2', { verb: 'get', noun: 'cat//hello%20/w%2Forld' });
      assert.deepEqual(json(cat2), { result_from_client: 'hello w/orld' });
    } finally {
      await b.close();
    }
  });
});

for (const dir of DIRECTIONS) {
  describe(`${dir}`, () => {
    test('all 256 byte values round trip unchanged, with their mimetype', async () => {
      const r = await send(dir, { verb: 'post', noun: 'echo', mimetype: 'application/octet-stream', data: ALL_BYTES });
      assert.equal(r.code, 0);
      assert.equal(r.mimetype, 'application/octet-stream');
      assert.ok(Buffer.from(r.data).equals(ALL_BYTES));
      // And a body larger than one TLS record (16 KiB), still byte-exact.
      const big = Buffer.alloc(300_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 31 + 7) & 0xff;
      const r2 = await send(dir, { verb: 'post', noun: 'echo', mimetype: 'application/x-big', data: big });
      assert.equal(r2.mimetype, 'application/x-big');
      assert.ok(Buffer.from(r2.data).equals(big));
    });

    test('the handler sees bytes as a Buffer and JSON decoded into postData', async () => {
      const bin = json(await send(dir, { verb: 'post', noun: 'inspect', mimetype: 'image/png', data: ALL_BYTES.subarray(250) }));
      assert.equal(bin.mimetype, 'image/png');
      assert.equal(bin.dataKind, 'buffer');
      assert.equal(bin.data, 'fafbfcfdfeff');

      const payload = { a: 1, b: ['x', null, true], c: { d: 'é' } };
      const js = json(await send(dir, { verb: 'post', noun: 'inspect', mimetype: 'application/json; charset=utf-8', data: JSON.stringify(payload) }));
      assert.equal(js.dataKind, 'object');
      assert.deepEqual(js.data, payload);

      const vendorJson = json(await send(dir, { verb: 'put', noun: 'inspect', mimetype: 'application/vnd.x+json', data: '[1,2]' }));
      assert.deepEqual(vendorJson.data, [1, 2]);

      const empty = json(await send(dir, { verb: 'get', noun: 'inspect' }));
      assert.equal(empty.mimetype, '');
      assert.equal(empty.dataKind, 'string');
      assert.equal(empty.data, '');
    });

    test('a JSON body that does not parse is a 250 reply: bad_request from the far side, which parses it once', async () => {
      const r = await send(dir, { verb: 'post', noun: 'inspect', mimetype: 'application/json', data: '{not json' });
      assert.equal(r.code, ReturnCode.BAD_REQUEST);
      assert.equal(json(r).error.code, 'bad_request');
      assert.match(json(r).error.message, /not valid JSON/);
    });

    test('`//` parameters, the query string, verb, noun and peer reach the handler', async () => {
      const raw = await send(dir, { verb: 'patch', noun: 'nested/path//hello%20/w%2Fo%2Frld/%E2%9C%93', query: 'x=1&y=two&x=3&sp=a%20b' });
      assert.equal(raw.code, 0, 'PATCH nested/path goes to patch_nested_path');
      const r = json(raw);
      assert.equal(r.node, farSide(dir));
      assert.equal(r.verb, 'patch');
      assert.equal(r.noun, 'nested/path');
      assert.deepEqual(r.params, ['hello ', 'w/o/rld', '✓']);
      assert.deepEqual(r.ctxParams, r.params);
      assert.deepEqual(r.query, [
        ['x', '1'],
        ['y', 'two'],
        ['x', '3'],
        ['sp', 'a b'],
      ]);
      assert.equal(r.peer, near(dir), 'ctx.peer is the sending node, by certificate CN');
      assert.equal(r.peerAddress, '127.0.0.1');

      for (const verb of ['get', 'post', 'put', 'delete', 'patch'] as const) {
        assert.equal(json(await send(dir, { verb, noun: 'inspect' })).verb, verb);
      }
    });

    test('reply forms: plain value, tuple, reply object, plain reply-shaped object', async () => {
      const value = await send(dir, { verb: 'get', noun: 'value' });
      assert.equal(value.code, 0);
      assert.equal(value.mimetype, 'application/json');
      assert.deepEqual(json(value), { from: farSide(dir), list: [1, 2, 3] });

      const tuple = await send(dir, { verb: 'get', noun: 'tuple' });
      assert.equal(tuple.code, 0);
      assert.equal(tuple.mimetype, 'text/plain; charset=utf-8');
      assert.equal(Buffer.from(tuple.data).toString(), `tuple from ${farSide(dir)}`);

      const tuple7 = await send(dir, { verb: 'get', noun: 'tuple7' });
      assert.equal(tuple7.code, 7);
      assert.equal(tuple7.mimetype, 'text/x-seven');
      assert.deepEqual([...tuple7.data], [7, 7, 7]);

      const obj = await send(dir, { verb: 'get', noun: 'replyobject' });
      assert.equal(obj.code, 3);
      assert.equal(obj.status, 202);
      assert.equal(obj.mimetype, 'application/x-thing');
      assert.equal(Buffer.from(obj.data).toString(), 'thing');

      const plain = await send(dir, { verb: 'get', noun: 'plainobject' });
      assert.equal(plain.code, 0);
      assert.equal(plain.mimetype, 'text/csv; charset=utf-8');
      assert.equal(Buffer.from(plain.data).toString(), 'a,b\n1,2\n');
    });

    test('no handler (255) and a throwing handler (251) resolve with the far side\'s answer', async () => {
      const missing = await send(dir, { verb: 'get', noun: 'nothing/here' });
      assert.equal(missing.code, ReturnCode.NO_HANDLER);
      assert.equal(missing.mimetype, 'application/json');
      assert.equal(json(missing).error.code, 'no_handler');
      assert.match(json(missing).error.message, /get_nothing_here/);

      const wrongVerb = await send(dir, { verb: 'delete', noun: 'tuple' });
      assert.equal(wrongVerb.code, ReturnCode.NO_HANDLER);

      const boom = await send(dir, { verb: 'get', noun: 'boom' });
      assert.equal(boom.code, ReturnCode.HANDLER_EXCEPTION);
      const { exception } = json(boom);
      assert.equal(exception.class, 'RangeError');
      assert.equal(exception.message, `boom from ${farSide(dir)}`);
      assert.match(exception.traceback, /RangeError: boom/);

      // The pipe is unharmed by either.
      assert.equal((await send(dir, { verb: 'get', noun: 'tuple' })).code, 0);
    });

    test('a bad event is refused locally with bad_request and never sent', async () => {
      await assert.rejects(send(dir, { verb: 'get', noun: '../etc' }), { code: 'bad_request' });
      await assert.rejects(send(dir, { verb: 'trace' as 'get', noun: 'time' }), { code: 'bad_request' });
      await assert.rejects(send(dir, { verb: 'get', noun: 'a b' }), { code: 'bad_request' });
      await assert.rejects(send(dir, { verb: 'get', noun: 'x//%E2%9C' }), { code: 'bad_request' });
    });
  });
}

test('both directions at once on the same pipe', async () => {
  const results = await Promise.all(
    Array.from({ length: 50 }, (_, i) =>
      send(i % 2 === 0 ? 'client→server' : 'server→client', { verb: 'post', noun: 'echo', mimetype: 'text/plain', data: `n${i}` }),
    ),
  );
  results.forEach((r, i) => assert.equal(Buffer.from(r.data).toString(), `n${i}`));
  assert.equal(client.connects, 1, 'one pipe carried everything');
  assert.equal(server.clientCount, 1);
});
