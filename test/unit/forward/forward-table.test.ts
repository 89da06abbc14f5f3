import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ForwardTable } from '../../../src/forward/forward-table.js';

const table = ForwardTable.parse({
  files: 'http://127.0.0.1:8080/',
  'files/big': 'http://127.0.0.1:8081/store/',
  api: 'https://[::1]:8443/v1',
  app: 'http://app.internal',
});

test('a noun goes to the longest prefix that matches whole segments; the rest and the query are appended as written', () => {
  assert.deepEqual(pathOf('files/docs/a.pdf'), ['files', '/docs/a.pdf']);
  assert.deepEqual(pathOf('files/big/x.iso'), ['files/big', '/store/x.iso']);
  assert.deepEqual(pathOf('files/bigger'), ['files', '/bigger'], 'a prefix matches whole segments only');
  assert.deepEqual(pathOf('files'), ['files', '/']);
  assert.deepEqual(pathOf('files/'), ['files', '/']);
  assert.deepEqual(pathOf('files/big'), ['files/big', '/store']);
  assert.deepEqual(pathOf('api/users'), ['api', '/v1/users']);
  assert.deepEqual(pathOf('app/x'), ['app', '/x']);
  assert.deepEqual(pathOf('files/a%2Fb%20c/%25', 'q=%2F&x'), ['files', '/a%2Fb%20c/%25?q=%2F&x'], 'escapes kept, nothing re-encoded');
  assert.equal(table.match('filesx/a', ''), undefined);
  assert.equal(table.match('time', ''), undefined);
});

test('targets keep what http.request needs: host as written, IPv6 without brackets, default ports', () => {
  const api = table.match('api/x', '')!.target;
  assert.equal(api.hostname, '::1');
  assert.equal(api.host, '[::1]:8443');
  assert.equal(api.port, 8443);
  assert.equal(api.protocol, 'https:');
  const app = table.match('app', '')!.target;
  assert.equal(app.port, 80);
  assert.equal(app.host, 'app.internal');
});

test('a bad forward is an invalid_option naming the prefix and the problem', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ '': 'http://x/' }, /needs a noun prefix/],
    [{ '../x': 'http://x/' }, /prefix is noun segments/],
    [{ 'a//b': 'http://x/' }, /prefix is noun segments/],
    [{ '/a': 'http://x/' }, /prefix is noun segments/],
    [{ 'a b': 'http://x/' }, /prefix is noun segments/],
    [{ files: 'ftp://x/' }, /not an http:\/\/ or https:\/\/ URL/],
    [{ files: 'x' }, /is not a URL/],
    [{ files: '' }, /needs an upstream URL/],
    [{ files: 42 }, /needs an upstream URL/],
    [{ files: 'http://u:p@x/' }, /user name or password/],
    [{ files: 'http://x/?a=1' }, /query or fragment/],
    [{ files: 'http://x/#f' }, /query or fragment/],
  ];
  for (const [spec, message] of cases) {
    assert.throws(() => ForwardTable.parse(spec), (err: Error & { code?: string }) => err.code === 'invalid_option' && message.test(err.message), JSON.stringify(spec));
  }
  assert.throws(() => ForwardTable.parse(['files=http://x/']), /expected PREFIX=URL pairs/);
  assert.equal(ForwardTable.parse(undefined).size, 0);
});

function pathOf(noun: string, query = ''): [string, string] | undefined {
  const m = table.match(noun, query);
  return m === undefined ? undefined : [m.target.prefix, m.path];
}
