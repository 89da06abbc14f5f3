// The server's state machine (SERVER_MOVES in src/server/pipe-server.ts) without a socket:
// not_listening → closing → closed when closed before it listened, the status the gateway sees
// in each state, and no way back. (listening is covered with real sockets by the integration
// tests.) Timers are mocked: close()'s flush bound passes only when the test says so.
import { after, before, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';

import type { Reply } from '../../../src/event.js';
import { PipeServer, SERVER_MOVES } from '../../../src/server/pipe-server.js';
import type { ServerState } from '../../../src/sender.js';
import { makePki, type Pki } from '../../helpers/pki.js';

let pki: Pki;
before(async () => {
  pki = await makePki();
});
after(async () => {
  await pki?.cleanup();
});

const answer = async (): Promise<Reply> => ({ code: 0, mimetype: '', data: new Uint8Array(0) });

describe('server states', () => {
  test('the table: listening only from not_listening; closing from either; closed is final', () => {
    assert.deepEqual(SERVER_MOVES.not_listening, ['listening', 'closing']);
    assert.deepEqual(SERVER_MOVES.listening, ['closing']);
    assert.deepEqual(SERVER_MOVES.closing, ['closed']);
    assert.deepEqual(SERVER_MOVES.closed, []);
  });

  test('closed before it listened: not_listening → closing → closed, as the status says; then listen() is refused', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
    try {
      const server = new PipeServer({ tls: { ...pki.server.tls, ca: pki.ca.certPem } }, answer);
      const seen: ServerState[] = [server.sender.status().role === 'server' ? server.state : 'closed'];
      assert.equal(server.state, 'not_listening');
      assert.equal(server.sender.isReady(), false);
      const closing = server.close({ graceMs: 0 });
      seen.push(server.state);
      mock.timers.tick(1_000); // close()'s bound for pipes to flush: there are none
      await closing;
      seen.push(server.state);
      assert.deepEqual(seen, ['not_listening', 'closing', 'closed']);
      const status = server.sender.status();
      assert.ok(status.role === 'server' && status.state === 'closed');
      await assert.rejects(server.listen({ host: '127.0.0.1', port: 0 }), { code: 'closed' });
      await assert.rejects(server.send('anyone', { verb: 'get', noun: 'time' }), { code: 'closed' });
    } finally {
      mock.timers.reset();
    }
  });
});
