import { test } from 'node:test';
import assert from 'node:assert/strict';

import { createDispatcher } from '../../../src/dispatch/dispatcher.js';
import { exampleHandlers } from '../../../src/dispatch/examples.js';
import { buildHandlerTable } from '../../../src/dispatch/handler-table.js';
import { parseEvent, type ParsedEvent, type Reply } from '../../../src/event.js';

const json = (r: Reply): unknown => JSON.parse(Buffer.from(r.data).toString('utf8'));
const ev = (noun: string): ParsedEvent => parseEvent({ verb: 'get', noun });
const peer = { name: 'peer', address: '127.0.0.1' };
const signal = new AbortController().signal;

for (const role of ['server', 'client'] as const) {
  test(`${role} examples: get_time and get_cat through the dispatcher`, async () => {
    const table = buildHandlerTable(exampleHandlers(role));
    assert.deepEqual(table.methodNames, ['get_cat', 'get_time']);
    const dispatch = createDispatcher(table, { role });

    const before = Date.now() / 1000;
    const t = await dispatch(ev('time'), peer, signal);
    const after = Date.now() / 1000;
    assert.equal(t.code, 0);
    assert.equal(t.mimetype, 'application/json');
    const body = json(t) as Record<string, number>;
    assert.deepEqual(Object.keys(body), [`time_from_${role}`]);
    const time = body[`time_from_${role}`]!;
    assert.equal(typeof time, 'number');
    assert.ok(time >= before && time <= after, `${time} within [${before}, ${after}]`);

    assert.deepEqual(json(await dispatch(ev('cat//hello%20/world'), peer, signal)), { [`result_from_${role}`]: 'hello world' });
    assert.deepEqual(json(await dispatch(ev('cat//only'), peer, signal)), { [`result_from_${role}`]: 'only' });
    assert.deepEqual(json(await dispatch(ev('cat'), peer, signal)), { [`result_from_${role}`]: '' });
    assert.deepEqual(json(await dispatch(ev('cat//1/2/3'), peer, signal)), { [`result_from_${role}`]: '12' });
  });
}
