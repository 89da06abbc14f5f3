// Handlers for the web server, the restpipe server, in TypeScript. `npm run build` compiles
// this file to dist/examples/webserver.js; run it with
//   npx restpipe server --handlers ./dist/examples/webserver.js#WebServer ...
import { setTimeout as sleep } from 'node:timers/promises';
import { reply, type HandlerContext, type PostData } from 'restpipe';

interface Upload {
  name: string;
  bytes: number;
  from: string;
}

export class WebServer {
  readonly #uploads: Upload[] = [];

  // GET /server/time -> {"time_from_server": 1732575600.123}
  get_time(): { time_from_server: number } {
    return { time_from_server: Date.now() / 1000 };
  }

  // POST /server/uploaded with {"name": "report.pdf", "bytes": 1234} -> 201 {"stored": 1}
  post_uploaded(ctx: HandlerContext, [, body]: PostData) {
    const u = body as Partial<Upload> | null;
    if (typeof u?.name !== 'string' || typeof u.bytes !== 'number') {
      return reply({ status: 400, code: 1, data: { error: 'expected {"name": string, "bytes": number}' } });
    }
    this.#uploads.push({ name: u.name, bytes: u.bytes, from: ctx.peer.name });
    return reply({ status: 201, data: { stored: this.#uploads.length } });
  }

  // GET /server/uploads -> CSV, in the original's [mimetype, code, data] form
  get_uploads(): [string, number, string] {
    const lines = this.#uploads.map((u) => `${u.name},${u.bytes},${u.from}`);
    return ['text/csv; charset=utf-8', 0, ['name,bytes,from', ...lines].join('\n') + '\n'];
  }

  // GET /server/slow//2000 -> waits 2 s, or stops early when the caller gives up
  async get_slow(ctx: HandlerContext, _postData: PostData, ms = '1000'): Promise<{ waited_ms: number }> {
    await sleep(Number(ms), undefined, { signal: ctx.signal });
    return { waited_ms: Number(ms) };
  }

  // GET /server/fail -> HTTP 500, X-Event-Return-Code 251, {"exception": {"message", "traceback", "class"}}
  get_fail(): never {
    throw new RangeError('this handler always fails');
  }

  // Lifecycle hooks of the server (optional).
  connection_added(name: string, count: number): void {
    console.error(`webserver: ${name} connected (${count} connected)`);
  }

  connection_removed(name: string, count: number): void {
    console.error(`webserver: ${name} disconnected (${count} connected)`);
  }
}
