import http from 'node:http';
import { REDACTED, REPLAY_HEADER, type EventRecord } from './event-record.js';

/** Where the gateway listens. */
export type GatewayAddress = { host: string; port: number } | { path: string };

/** What a replay got back. */
export interface ReplayOutcome {
  status: number;
  returnCode: number | null;
}

// Headers that belong to one connection or that the request is given anew.
const NOT_REPLAYED = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'expect', 'te', 'trailer', 'upgrade', 'proxy-connection', REPLAY_HEADER]);

/**
 * Sends a recorded outbound event again through the gateway itself, as an HTTP request to its
 * own address: the same path as any request (Host checks, route, body limit, sender), so the
 * replay is recorded as a new event, marked with {@link REPLAY_HEADER}. Headers whose values
 * were redacted are not sent (their values were never kept).
 * @throws Error when the gateway cannot be reached.
 */
export function replay(record: EventRecord, gateway: GatewayAddress): Promise<ReplayOutcome> {
  const d = record.detail;
  const body = record.replayBody ?? Buffer.alloc(0);
  const headers: Record<string, string | string[]> = {};
  const flat = d.requestHeaders;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!;
    const value = flat[i + 1]!;
    const lower = name.toLowerCase();
    if (NOT_REPLAYED.has(lower) || value === REDACTED) continue;
    const prev = headers[lower];
    headers[lower] = prev === undefined ? value : ([] as string[]).concat(prev, value);
  }
  headers[REPLAY_HEADER] = String(d.id);
  headers['content-length'] = String(body.byteLength);
  const target = 'path' in gateway ? { socketPath: gateway.path } : { host: gateway.host, port: gateway.port };
  return new Promise<ReplayOutcome>((resolve, reject) => {
    const req = http.request({ ...target, method: d.method, path: d.url, headers, agent: false }, (res) => {
      const code = res.headers['x-event-return-code'];
      const returnCode = typeof code === 'string' && /^\d{1,3}$/.test(code) ? Number(code) : null;
      // The answer itself is recorded as the new event's; here it is only drained.
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, returnCode }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
