import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ErrorCode } from '../../../src/errors.js';
import { ReturnCode, type Reply } from '../../../src/event.js';
import { HTTP_STATUS_BY_ERROR_CODE, errorBody, httpStatusOf, isErrorCode, replyStatus } from '../../../src/gateway/http-errors.js';

test('every ErrorCode has exactly one row, and the table lists no other code', () => {
  const codes = Object.values(ErrorCode).sort();
  assert.deepEqual(Object.keys(HTTP_STATUS_BY_ERROR_CODE).sort(), codes);
  for (const code of codes) {
    const status = HTTP_STATUS_BY_ERROR_CODE[code];
    assert.ok(Number.isInteger(status) && status >= 400 && status <= 599, `${code} → ${status}`);
  }
});

test('the statuses SPEC §4 fixes', () => {
  const expected: Record<string, number> = {
    no_connection: 503,
    pipe_broken: 502,
    event_timeout: 504,
    closed: 503,
    too_many_in_flight: 503,
    body_too_large: 413,
    bad_request: 400,
    headers_too_large: 431,
    request_timeout: 408,
    method_not_allowed: 405,
    not_found: 404,
    forbidden: 403,
    protocol_error: 502,
    version_mismatch: 502,
    tls_refused: 502,
  };
  for (const [code, status] of Object.entries(expected)) assert.equal(httpStatusOf(code), status, code);
  for (const code of ['aborted', 'invalid_option', 'identity_invalid', 'handler_invalid', 'internal_error']) assert.equal(httpStatusOf(code), 500, code);
  assert.equal(httpStatusOf('no_handler'), 404);
});

test('isErrorCode knows exactly the closed set', () => {
  for (const code of Object.values(ErrorCode)) assert.ok(isErrorCode(code), code);
  for (const code of ['ECONNRESET', 'constructor', '', undefined, 503]) assert.ok(!isErrorCode(code), String(code));
});

test('an unknown code is 500', () => {
  assert.equal(httpStatusOf('no_such_code'), 500);
  assert.equal(httpStatusOf(''), 500);
  assert.equal(httpStatusOf('toString'), 500, 'no prototype lookups');
});

test('errorBody is SPEC §4’s JSON shape', () => {
  assert.deepEqual(JSON.parse(errorBody('no_connection', 'no pipe to client \'x\' within 20 s')), {
    error: { code: 'no_connection', message: "no pipe to client 'x' within 20 s" },
  });
  assert.deepEqual(JSON.parse(errorBody('bad_request', 'quote " and \n newline')), {
    error: { code: 'bad_request', message: 'quote " and \n newline' },
  });
});

test('replyStatus: the handler’s status wins when it is a final status', () => {
  const r = (code: number, status?: number): Reply => ({ code, mimetype: '', data: new Uint8Array(0), ...(status === undefined ? {} : { status }) });
  assert.equal(replyStatus(r(0, 201)), 201);
  assert.equal(replyStatus(r(0, 204)), 204);
  assert.equal(replyStatus(r(7, 418)), 418);
  assert.equal(replyStatus(r(ReturnCode.HANDLER_EXCEPTION, 502)), 502);
  assert.equal(replyStatus(r(0, 599)), 599);
  // Not a usable final status: derived from the code instead.
  assert.equal(replyStatus(r(0, 100)), 200);
  assert.equal(replyStatus(r(0, 101)), 200);
  assert.equal(replyStatus(r(255, 600)), 404);
  assert.equal(replyStatus(r(0, 200.5)), 200);
  assert.equal(replyStatus(r(0, Number.NaN)), 200);
});

test('replyStatus: derived from the return code', () => {
  const r = (code: number): Reply => ({ code, mimetype: '', data: new Uint8Array(0) });
  assert.equal(replyStatus(r(ReturnCode.OK)), 200);
  assert.equal(replyStatus(r(ReturnCode.NO_HANDLER)), 404);
  assert.equal(replyStatus(r(ReturnCode.HANDLER_EXCEPTION)), 500);
  assert.equal(replyStatus(r(ReturnCode.REPLY_TOO_LARGE)), 413);
  assert.equal(replyStatus(r(ReturnCode.BUSY)), 503);
  assert.equal(replyStatus(r(ReturnCode.BAD_REQUEST)), 400);
  assert.equal(replyStatus(r(ReturnCode.FORBIDDEN)), 403);
  for (const code of [1, 7, 249, 257, 2 ** 32 - 1]) assert.equal(replyStatus(r(code)), 200, String(code));
  // 256: a forward's upstream failed; its reply carries 502 or 504, 502 when it does not.
  assert.equal(replyStatus(r(256)), 502);
});
