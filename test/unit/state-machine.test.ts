// StateMachine (src/state-machine.ts): the one function that moves an object's state, refusing
// a move its table does not allow, on an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { StateMachine } from '../../src/state-machine.js';

type S = 'a' | 'b' | 'c';
const MOVES = { a: ['b', 'c'], b: ['c'], c: [] } as const;

test('moves along the table, records when, reports each move', () => {
  let now = 1_000;
  const moves: string[] = [];
  const m = new StateMachine<S>('thing', 'a', MOVES, { now: () => now, onMove: (f, t) => moves.push(`${f}→${t}`) });
  assert.equal(m.state, 'a');
  assert.equal(m.since, 1_000);
  now = 1_500;
  m.move('b');
  assert.equal(m.state, 'b');
  assert.equal(m.since, 1_500);
  assert.ok(m.is('a', 'b'));
  assert.ok(!m.is('c'));
  now = 2_000;
  m.move('c');
  assert.deepEqual(moves, ['a→b', 'b→c']);
  assert.equal(m.since, 2_000);
});

test('an illegal move is refused with internal_error and changes nothing', () => {
  let now = 0;
  const m = new StateMachine<S>('thing', 'b', MOVES, { now: () => now });
  now = 10;
  assert.ok(!m.canMove('a'));
  assert.throws(() => m.move('a'), (err: Error & { code?: string }) => err.code === 'internal_error' && /thing: illegal state move b → a/.test(err.message));
  assert.equal(m.state, 'b');
  assert.equal(m.since, 0, 'the clock is read only on a move');
  m.move('c');
  assert.throws(() => m.move('c'), /illegal state move c → c/, 'a final state has no moves, not even to itself');
});
