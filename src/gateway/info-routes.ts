import { ErrorCode, RestpipeError } from '../errors.js';
import type { EventSender } from '../sender.js';
import type { GatewayCall } from './gateway-call.js';

/**
 * The gateway's own routes (SPEC §4): `GET /healthz` (200 once the node is ready, else 503 with
 * its state), `GET /status` (the node's status and the gateway's own counts), `GET /metrics`
 * (Prometheus text, when the node has metrics). Never cached.
 */

const JSON_TYPE = 'application/json';
const HEALTH_OK = Buffer.from('{"status":"ok"}');

function jsonHeaders(body: Uint8Array): string[] {
  return ['Content-Type', JSON_TYPE, 'Content-Length', String(body.byteLength), 'Cache-Control', 'no-store'];
}

/** `GET /healthz`. */
export function serveHealth(call: GatewayCall, sender: EventSender): void {
  if (sender.isReady()) {
    call.respond(200, jsonHeaders(HEALTH_OK), HEALTH_OK);
    return;
  }
  let state: string | undefined;
  try {
    state = sender.status().state;
  } catch {
    state = undefined;
  }
  const body = Buffer.from(JSON.stringify({ status: 'unavailable', ...(state === undefined ? {} : { state }) }));
  call.respond(503, jsonHeaders(body), body);
}

/** `GET /status`: the node's status, plus `gateway` (what `gatewayState()` says of the gateway). */
export function serveStatus(call: GatewayCall, sender: EventSender, gatewayState: () => object): void {
  let body: Buffer;
  try {
    body = Buffer.from(JSON.stringify({ ...sender.status(), gateway: gatewayState() }));
  } catch (err) {
    call.fail(err);
    return;
  }
  call.respond(200, jsonHeaders(body), body);
}

/** `GET /metrics`; 404 `not_found` when the node has none. */
export async function serveMetrics(call: GatewayCall, metricsText: (() => Promise<{ contentType: string; body: string }>) | undefined): Promise<void> {
  if (metricsText === undefined) {
    call.fail(new RestpipeError(ErrorCode.NOT_FOUND, 'metrics are not enabled on this node'));
    return;
  }
  try {
    const { contentType, body } = await metricsText();
    if (!call.canRespond) return;
    const bytes = Buffer.from(body);
    call.respond(200, ['Content-Type', contentType, 'Content-Length', String(bytes.byteLength), 'Cache-Control', 'no-store'], bytes);
  } catch (err) {
    call.fail(err);
  }
}
