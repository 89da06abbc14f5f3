// Handlers for the file server, the restpipe client that sits behind the firewall.
// Run: npx restpipe client --handlers ./examples/fileserver.js#FileServer ...
// It shares the files of the directory FILES_DIR (default: the working directory).
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { reply } from 'restpipe';

const ROOT = resolve(process.env.FILES_DIR ?? '.');

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

  // GET /client/fileserver/file//hello.txt -> the file's bytes, as text/plain
  async get_file(ctx, postData, name = '') {
    if (!/^[\w][\w.-]*$/.test(name)) {
      return reply({ status: 400, code: 1, data: { error: `bad file name ${JSON.stringify(name)}` } });
    }
    try {
      // ctx.signal fires when the caller gives up: stop reading then.
      const bytes = await readFile(join(ROOT, name), { signal: ctx.signal });
      return ['text/plain; charset=utf-8', 0, bytes]; // the original's [mimetype, code, data]
    } catch (err) {
      if (err.code === 'ENOENT') return reply({ status: 404, code: 2, data: { error: `no file ${name}` } });
      throw err; // anything else: HTTP 500, X-Event-Return-Code 251, {"exception": {...}}
    }
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
