// README.md's error-code table lists every ErrorCode of src/errors.ts, with the HTTP status of
// src/gateway/http-errors.ts, and nothing else (the errors test fastify keeps for its docs).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ErrorCode } from '../../src/errors.js';
import { HTTP_STATUS_BY_ERROR_CODE } from '../../src/gateway/http-errors.js';
import { readReadme, readmeSection, tableRows } from '../helpers/readme.js';

const rows = (): Array<{ code: string; status: number; meaning: string }> =>
  tableRows(readmeSection(readReadme(), 'error-codes')).map(([code, status, meaning]) => ({
    code: /^`([a-z_]+)`$/.exec(code ?? '')?.[1] ?? `unparsable cell ${code}`,
    status: Number(status),
    meaning: meaning ?? '',
  }));

test('every ErrorCode has a row in README.md with its HTTP status', () => {
  const byCode = new Map(rows().map((r) => [r.code, r]));
  for (const code of Object.values(ErrorCode)) {
    const row = byCode.get(code);
    assert.ok(row !== undefined, `README.md's error-code table has no row for ${code}`);
    assert.equal(row.status, HTTP_STATUS_BY_ERROR_CODE[code], `README.md's status for ${code}`);
    assert.ok(row.meaning.length > 10, `README.md explains ${code}`);
  }
});

test('README.md lists no code that does not exist, and none twice', () => {
  const codes = rows().map((r) => r.code);
  assert.deepEqual([...codes].sort(), Object.values(ErrorCode).sort());
});

test('README.md’s status table has the statuses SPEC §4 fixes', () => {
  const text = readReadme();
  for (const [status, code] of [
    ['404, return code 255', 'no_handler'],
    ['500, return code 251', 'exception'],
    ['503', 'no_connection'],
    ['502', 'pipe_broken'],
    ['504', 'event_timeout'],
    ['413', 'body_too_large'],
    ['400', 'bad_request'],
    ['405', 'method_not_allowed'],
    ['403', 'forbidden'],
  ] as const) {
    assert.ok(new RegExp(`\\| ${status.replace(/[()]/g, '\\$&')}[^\\n]*${code}`).test(text), `status table row: ${status} … ${code}`);
  }
});
