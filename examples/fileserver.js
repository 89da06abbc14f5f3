// Handlers for the file server, the restpipe client that sits behind the firewall.
// Run: npx restpipe client --handlers ./examples/fileserver.js#FileServer ...
// It shares the files of the directory FILES_DIR (default: the working directory). Files of
// any size are streamed (nothing is held in memory whole), and a Range request gets 206.
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { reply } from 'restpipe';

const ROOT = resolve(process.env.FILES_DIR ?? '.');
const MIMETYPES = { '.txt': 'text/plain; charset=utf-8', '.html': 'text/html; charset=utf-8', '.json': 'application/json', '.pdf': 'application/pdf', '.png': 'image/png', '.jpg': 'image/jpeg' };

/**
 * The byte range a `Range` header asks for in a file of `size` bytes: `{ start, end }`
 * (inclusive), `null` when there is no usable single range (the whole file is sent), or
 * `'unsatisfiable'` (416). One range only: `bytes=0-99`, `bytes=100-`, `bytes=-100`.
 */
function byteRange(header, size) {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (m === null || (m[1] === '' && m[2] === '')) return null;
  let start;
  let end;
  if (m[1] === '') {
    // The last N bytes.
    const n = Number(m[2]);
    if (n === 0) return 'unsatisfiable';
    start = Math.max(0, size - n);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (start > end || start >= size) return 'unsatisfiable';
  }
  return { start, end };
}

export class FileServer {
  // GET /client/fileserver/time -> {"time_from_client": 1732575600.123}
  get_time() {
    return { time_from_client: Date.now() / 1000 };
  }

  // GET /client/fileserver/cat//hello/world -> {"result_from_client": "helloworld"}
  get_cat(ctx, postData, x = '', y = '') {
    return { result_from_client: x + y };
  }

  // GET /client/fileserver/files -> {"files": ["hello.txt", ...]}
  async get_files() {
    return { files: (await readdir(ROOT)).sort() };
  }

  // GET /client/fileserver/file//hello.txt -> the file, streamed (any size), with Content-Length;
  // with `Range: bytes=START-END` just those bytes: 206 and Content-Range (416 when out of range)
  async get_file(ctx, postData, name = '') {
    if (!/^[\w][\w.-]*$/.test(name)) {
      return reply({ status: 400, code: 1, data: { error: `bad file name ${JSON.stringify(name)}` } });
    }
    const path = join(ROOT, name);
    let size;
    try {
      const s = await stat(path);
      if (!s.isFile()) return reply({ status: 404, code: 2, data: { error: `no file ${name}` } });
      size = s.size;
    } catch (err) {
      if (err.code === 'ENOENT') return reply({ status: 404, code: 2, data: { error: `no file ${name}` } });
      throw err; // anything else: HTTP 500, X-Event-Return-Code 251, {"exception": {...}}
    }
    const mimetype = MIMETYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
    const range = byteRange(ctx.headers.range, size);
    if (range === 'unsatisfiable') {
      return reply({ status: 416, code: 3, headers: { 'content-range': `bytes */${size}` }, data: { error: `no such range in ${size} bytes` } });
    }
    // The stream is read only as fast as the caller takes it (the pipe's flow control), and is
    // closed if the caller goes away.
    if (range === null) {
      return reply({ mimetype, data: createReadStream(path), length: size, headers: { 'accept-ranges': 'bytes' } });
    }
    const { start, end } = range;
    return reply({
      status: 206,
      mimetype,
      data: createReadStream(path, { start, end }),
      length: end - start + 1,
      headers: { 'accept-ranges': 'bytes', 'content-range': `bytes ${start}-${end}/${size}` },
    });
  }

  // POST /client/fileserver/search with {"prefix": "he"} -> {"matches": ["hello.txt"]}
  async post_search(ctx, [mimetype, body]) {
    if (typeof body?.prefix !== 'string') {
      return reply({ status: 400, code: 1, data: { error: 'send {"prefix": "..."} as application/json' } });
    }
    const names = await readdir(ROOT);
    return { matches: names.filter((n) => n.startsWith(body.prefix)).sort(), asked_by: ctx.peer.name };
  }

  // Lifecycle hooks of a client (optional).
  connect_success(retryAttempts, lastDisconnected) {
    console.error(`fileserver: pipe up after ${retryAttempts} failed attempts (down since ${lastDisconnected ?? 'never'})`);
  }

  connect_fail(retryAttempts) {
    console.error(`fileserver: dial attempt ${retryAttempts} failed; retrying`);
  }
}
