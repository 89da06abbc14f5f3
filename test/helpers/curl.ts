// curl as a user runs it against a gateway, with the response body hashed as it arrives (never
// held whole) and the request body, when given, streamed from a Readable into curl's stdin.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { REPO_ROOT } from './cli-processes.js';

const MARK = 'CURL-STATUS ';

/** What a curl run gave. */
export interface CurlResult {
  /** curl's exit code: 0, or its error (18 partial file, 56 receive failure, …). */
  code: number | null;
  /** Response body bytes received. */
  bytes: number;
  sha256: string;
  /** The first 64 KiB of the body, as text (JSON answers). */
  head: string;
  /** Response headers, lower-case names (the last response's, after any 100 Continue); repeated ones joined. */
  headers: Record<string, string>;
  status: number;
  /** curl's own messages (errors). */
  stderr: string;
  ms: number;
}

/** A curl run in progress: `child` to kill it mid-transfer, `done` for its outcome. */
export interface CurlRun {
  child: ChildProcess;
  /** Response body bytes received so far. */
  readonly received: number;
  done: Promise<CurlResult>;
}

/**
 * Starts `curl -sS ARGS… URL` with the body (if any) piped to its stdin (`-T -`, chunked, unless
 * ARGS set a Content-Length). The status and headers come from `-w` on stderr (`-D /dev/stderr`
 * makes this curl, 7.88, crash).
 */
export function startCurl(url: string, args: string[] = [], body?: Readable): CurlRun {
  const started = performance.now();
  const child = spawn('curl', ['-sS', '-w', `%{stderr}${MARK}%{http_code}\n%{header_json}\n`, ...(body === undefined ? [] : ['-T', '-']), ...args, url], {
    stdio: [body === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  const hash = createHash('sha256');
  let bytes = 0;
  let head = '';
  let stderr = '';
  child.stdout!.on('data', (c: Buffer) => {
    hash.update(c);
    if (head.length < 65_536) head += c.toString('latin1', 0, Math.min(c.length, 65_536 - head.length));
    bytes += c.length;
  });
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString('latin1')));
  if (body !== undefined) {
    // curl stops reading its stdin when the answer came first or it failed: that is no error here.
    child.stdin!.on('error', () => {});
    body.on('error', () => {});
    body.pipe(child.stdin!);
  }
  const done = new Promise<CurlResult>((resolve) => {
    child.on('close', (code) => {
      body?.unpipe();
      body?.destroy();
      // -w writes the status and the last response's headers (JSON) to stderr, after curl's own errors.
      let status = 0;
      const headers: Record<string, string> = {};
      const at = stderr.lastIndexOf(MARK);
      if (at !== -1) {
        const tail = stderr.slice(at + MARK.length);
        const nl = tail.indexOf('\n');
        status = Number(tail.slice(0, nl));
        const json = tail.slice(nl + 1);
        try {
          for (const [name, values] of Object.entries(JSON.parse(json) as Record<string, string[]>)) headers[name.toLowerCase()] = values.join(', ');
        } catch {
          // no headers (the transfer failed before a response)
        }
        stderr = stderr.slice(0, at);
      }
      resolve({ code, bytes, sha256: hash.digest('hex'), head, headers, status, stderr, ms: performance.now() - started });
    });
  });
  return {
    child,
    get received() {
      return bytes;
    },
    done,
  };
}

/** {@link startCurl}, awaited. */
export function curl(url: string, args: string[] = [], body?: Readable): Promise<CurlResult> {
  return startCurl(url, args, body).done;
}

/** The handlers module of the streaming tests, loaded here for its body generator. */
export const STREAM_HANDLERS = 'test/fixtures/stream-handlers.js';

/** `bytes` bytes of the pattern of `seed` (the stream handlers' generator), made as read. */
export async function pattern(bytes: number, seed = 1): Promise<Readable> {
  const mod = (await import(join(REPO_ROOT, STREAM_HANDLERS))) as { pattern(bytes: number, seed: number): Readable };
  return mod.pattern(bytes, seed);
}

/** SHA-256 of the pattern's bytes (computed as they are made). */
export async function patternSha256(bytes: number, seed = 1): Promise<string> {
  const h = createHash('sha256');
  for await (const c of await pattern(bytes, seed)) h.update(c as Buffer);
  return h.digest('hex');
}

/**
 * The peak resident memory (bytes) of the node that answers `url`: the stream handlers'
 * `get_memory` (process.resourceUsage().maxRSS), asked through a gateway like any event.
 */
export async function peakRss(url: string): Promise<number> {
  return (JSON.parse((await curl(url)).head) as { maxRss: number }).maxRss;
}
