import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { ErrorCode } from '../errors.js';
import { errorBody, httpStatusOf } from './http-errors.js';
import { endAndLinger } from '../linger.js';

const kAnswered = Symbol('restpipe.clientErrorAnswered');

type ClientSocket = Socket & { [kAnswered]?: true; _httpMessage?: { _headerSent?: boolean } | null };

/**
 * node:http's `clientError`: a request Node could not parse (headers over the size limit, bad
 * framing) or that did not arrive within the headers/request timeout. Node's own answer is a
 * bare status line with no body, after which it destroys the socket at once, so a caller
 * that is still sending (a 100 KiB header, or headers trickling in past the timeout) may get a
 * reset instead of the answer. SPEC §8 wants a specific JSON error for every bad input, so it is
 * answered here like the gateway's other errors, and closed with the same lingering close as a
 * refused body (linger.ts).
 */
export function answerClientError(err: Error & { code?: string }, socket: Socket, limits: { headersTimeoutMs: number; requestTimeoutMs: number; maxHeaderBytes: number }, lingerMs: number): void {
  const s = socket as ClientSocket;
  // The parser stays broken, so every later chunk of the same connection comes back here.
  if (s[kAnswered] === true) return;
  s[kAnswered] = true;
  // Nobody to answer, or a response is already on the wire: only closing is left.
  if (err.code === 'ECONNRESET' || !socket.writable || s._httpMessage?._headerSent === true) {
    socket.destroy();
    return;
  }
  let code: ErrorCode;

  let message: string;
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      code = ErrorCode.HEADERS_TOO_LARGE;
      message = `the request line and headers exceed the limit of ${limits.maxHeaderBytes} bytes`;
      break;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      code = ErrorCode.REQUEST_TIMEOUT;
      message =
        `the request did not arrive in time: headers are allowed ${limits.headersTimeoutMs / 1000} s ` +
        `and the whole request ${limits.requestTimeoutMs / 1000} s`;
      break;
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      code = ErrorCode.BODY_TOO_LARGE;
      message = 'the chunk extensions of the request body are too large';
      break;
    default:
      code = ErrorCode.BAD_REQUEST;
      message = `malformed HTTP request (${err.code ?? 'parse error'}: ${err.message})`;
  }
  const status = httpStatusOf(code);
  const body = errorBody(code, message);
  const answer = rawResponseHead(status, ['Content-Type', 'application/json', 'Content-Length', String(Buffer.byteLength(body))]) + body;
  // After a timeout the parser still works: reading on would complete the late request and send
  // its event after we answered 408. Stopped, it refuses every later byte. (After a parse error
  // it takes nothing more anyway.) Where it cannot be stopped, close at once, as Node does.
  if (code === ErrorCode.REQUEST_TIMEOUT && !stopParsing(socket)) {
    socket.write(answer);
    socket.destroy();
    return;
  }
  // A caller still trickling its headers would get a reset for the bytes we did not read, and
  // the reset may discard our answer before it reads it: linger (linger.ts).
  endAndLinger(socket, lingerMs, { last: answer, discardReads: true });
}

/**
 * Stops the connection's HTTP parser for good: node:http's own pause of it (which it uses to hold
 * pipelined requests back) makes the parser answer every later chunk with an `HPE_PAUSED` error,
 * which comes back here as a clientError and is ignored. False when this Node has no such parser.
 */
function stopParsing(socket: Socket): boolean {
  const parser = (socket as Socket & { parser?: { pause?: unknown } | null }).parser;
  if (typeof parser?.pause !== 'function') return false;
  (parser.pause as () => void).call(parser);
  return true;
}

/**
 * The head of an HTTP/1.1 response written straight to a socket (no ServerResponse: the parser
 * failed, or the socket was taken by an upgrade), `Connection: close`, then `headers` (a flat
 * name, value list), ending with the blank line.
 */
export function rawResponseHead(status: number, headers: readonly string[]): string {
  let text = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n`;
  for (let i = 0; i + 1 < headers.length; i += 2) text += `${headers[i]}: ${headers[i + 1]}\r\n`;
  return `${text}\r\n`;
}
