import type { ErrorCode } from './errors.js';
import { ReturnCode, type Reply } from './event.js';

/**
 * The replies restpipe gives itself rather than a handler: a refusal or a limit (SPEC §4's JSON
 * error body) and a handler's exception (the original's format). They carry no HTTP status: the
 * gateway derives one from the return code, in its one table (gateway/http-errors.ts).
 */

const JSON_MIMETYPE = 'application/json';

/**
 * A reply restpipe gives itself rather than a handler (a refusal, a limit): `code` and SPEC §4's
 * JSON error body `{"error": {"code", "message"}}`. It carries no HTTP status: the gateway
 * derives one from the return code, in its one table.
 */
export function errorReply(code: number, errorCode: ErrorCode, message: string): Reply {
  const body = JSON.stringify({ error: { code: errorCode, message } });
  return { code, mimetype: JSON_MIMETYPE, data: Buffer.from(body, 'utf8') };
}

/**
 * The code 251 reply for a handler that threw (SPEC §4, the original's format):
 * `{"exception": {"message", "traceback", "class"}}`. `class` is the error's `name`, or its
 * constructor's name when `name` is the generic `Error` (a subclass that did not set `name`);
 * a thrown non-object gets class `Error`, its `String()` as message and an empty traceback.
 * Never throws, even for a thrown Proxy or an error whose getters throw.
 */
export function exceptionReply(err: unknown): Reply {
  const { message, traceback, cls } = describeThrown(err);
  const body = JSON.stringify({ exception: { message, traceback, class: cls } });
  return { code: ReturnCode.HANDLER_EXCEPTION, mimetype: JSON_MIMETYPE, data: Buffer.from(body, 'utf8') };
}

/** The `class` and `message` of a thrown value, as the exception reply and the log show them. */
export function describeThrown(err: unknown): { message: string; traceback: string; cls: string } {
  if (typeof err !== 'object' || err === null) {
    return { message: safeString(err), traceback: '', cls: 'Error' };
  }
  const e = err as { message?: unknown; stack?: unknown; name?: unknown; constructor?: unknown };
  const message = safeGet(() => (e.message === undefined ? safeString(err) : safeString(e.message)), '');
  const traceback = safeGet(() => (typeof e.stack === 'string' ? e.stack : ''), '');
  const cls = safeGet(() => {
    const name = typeof e.name === 'string' && e.name !== '' ? e.name : undefined;
    if (name !== undefined && name !== 'Error') return name;
    const ctorName = typeof e.constructor === 'function' ? e.constructor.name : '';
    return ctorName !== '' && ctorName !== 'Object' ? ctorName : (name ?? 'Error');
  }, 'Error');
  return { message, traceback, cls };
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    // Object.create(null), a toString or Symbol.toPrimitive that throws, a revoked Proxy (on
    // which even Object.prototype.toString throws).
    return safeGet(() => Object.prototype.toString.call(value), '[object]');
  }
}

function safeGet<T>(get: () => T, fallback: T): T {
  try {
    return get();
  } catch {
    return fallback;
  }
}
