import { Readable } from 'node:stream';

/**
 * Bodies given as streams (SPEC §9): what counts as one, and the one Readable the pipe reads
 * every kind of them through. A string or bytes is not a stream here: those travel in memory.
 */

/**
 * A body given as a stream (SPEC §9): a Node Readable of bytes or strings, an async iterable of
 * them, or a web ReadableStream.
 */
export type BodyStream = Readable | AsyncIterable<Uint8Array | string> | ReadableStream<Uint8Array>;

/** Whether `value` is a body stream: a Node Readable, a web ReadableStream, or an async iterable. */
export function isBodyStream(value: unknown): value is BodyStream {
  if (typeof value !== 'object' || value === null) return false;
  if (value instanceof Readable) return true;
  if (typeof (value as { getReader?: unknown }).getReader === 'function') return true;
  return typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';
}

/**
 * A body stream as a Node Readable of bytes: a Readable as it is, a web ReadableStream through
 * `Readable.fromWeb`, an async iterable through `Readable.from` (not in object mode: its items
 * must be bytes or strings; anything else makes the stream fail with a TypeError).
 */
export function toReadable(body: BodyStream): Readable {
  if (body instanceof Readable) return body;
  if (typeof (body as ReadableStream<Uint8Array>).getReader === 'function') {
    return Readable.fromWeb(body as Parameters<typeof Readable.fromWeb>[0]);
  }
  return Readable.from(bytesOnly(body as AsyncIterable<unknown>), { objectMode: false });
}

async function* bytesOnly(items: AsyncIterable<unknown>): AsyncGenerator<Uint8Array | string> {
  for await (const item of items) {
    if (typeof item === 'string' || item instanceof Uint8Array) yield item;
    else throw new TypeError(`a body stream yielded ${item === null ? 'null' : typeof item}; it must yield bytes or strings`);
  }
}

/**
 * Reads a body stream whole, up to `maxBytes`. Resolves with the bytes (one Buffer; no copy when
 * it came in one chunk), or with `undefined` when it is longer (the stream is then destroyed, so
 * the rest is not read). Rejects with the stream's error when it breaks off.
 */
export function collectBody(body: Readable, maxBytes: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    const onData = (chunk: Buffer | string): void => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      bytes += b.byteLength;
      if (bytes > maxBytes) {
        cleanup();
        body.destroy();
        resolve(undefined);
        return;
      }
      chunks.push(b);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('the body stream closed before its end'));
    };
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}
