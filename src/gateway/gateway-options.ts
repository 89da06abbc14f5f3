import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import { DEFAULT_GATEWAY_HEADERS_TIMEOUT_MS, DEFAULT_GATEWAY_KEEP_ALIVE_TIMEOUT_MS, DEFAULT_GATEWAY_REQUEST_TIMEOUT_MS } from '../options/defaults.js';
import { KEY_NAMING, countOption, durationOption, invalidOption, requireOrder, stringListOption, type OptionNaming } from '../options/validate.js';
import type { EventSender } from '../sender.js';
import { isLoopbackListenHost } from './host-check.js';

/** Where a gateway listens: a TCP address, or a unix socket (for nginx). */
export type GatewayListen = { host: string; port: number } | { path: string };

/** Options of `createGateway`. */
export interface GatewayOptions {
  /** The node the gateway sends events through (its role decides the routes). */
  sender: EventSender;
  /**
   * A TCP address (port 0 picks a free one) or a unix socket path. A TCP host that is not
   * loopback is refused unless {@link allowNonLoopback}: the gateway has no authentication.
   */
  listen: GatewayListen;
  /**
   * Ignored since protocol version 2 (SPEC §9): the gateway streams request bodies into the pipe
   * and buffers none over 64 KiB; `--max-body` is the limit of the node that buffers a body (a
   * handler that takes it whole, a `send()` that wants its reply whole).
   * @deprecated
   */
  maxBodyBytes?: number;
  /** How long a request waits for its reply unless it sends `X-Event-Timeout: S`. */
  eventTimeoutMs: number;
  /**
   * Host header values accepted besides loopback names and addresses (DNS-rebinding
   * protection, TCP only). An entry without a port matches any port; `'*'` accepts any Host.
   * @default []
   */
  allowedHosts?: string[];
  /**
   * Origin header values accepted (cross-site protection, TCP only), e.g.
   * `http://localhost:3000`; `'*'` accepts any. A request carrying any other Origin is refused.
   * @default []
   */
  allowedOrigins?: string[];
  /** Allows a TCP listen address that is not loopback (a warning is logged). @default false */
  allowNonLoopback?: boolean;
  /**
   * Pages served under a path prefix by another module (the inspector, SPEC §13): requests
   * whose path is the prefix or under it go to it, after the gateway's Host/Origin checks.
   */
  pages?: GatewayPages;
  /** Produces `GET /metrics` (Prometheus text); without it `/metrics` is 404. */
  metricsText?: () => Promise<{ contentType: string; body: string }>;
  /** @default silent */
  logger?: Logger;
  /** Time to receive a request's headers (Node's `headersTimeout`). @default 10000 */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, body included (Node's `requestTimeout`); covers slow bodies. @default 120000 */
  requestTimeoutMs?: number;
  /** How long an idle keep-alive connection is kept. @default 5000 */
  keepAliveTimeoutMs?: number;
}

/** A request handed to {@link GatewayPages}: answer it once, with one of these. */
export interface PageCall {
  readonly req: IncomingMessage;
  /** Whether a response may still be written (none yet, and the caller is still there). */
  readonly canRespond: boolean;
  /** Writes one complete response. */
  respond(status: number, headers: string[], body: Uint8Array | undefined): void;
  /** Answers `err` as SPEC §4's JSON error. */
  fail(err: unknown): void;
  /** Starts a response written over time (server-sent events); the caller ends it. */
  startStream(status: number, headers: string[]): ServerResponse;
}

/** Pages served by another module under a path prefix of the gateway (see {@link GatewayOptions.pages}). */
export interface GatewayPages {
  /** `/inspect`: the prefix itself and every path under it. */
  readonly prefix: string;
  /**
   * Serves one request. `path` and `query` split the request target; `gateway` is where the
   * gateway listens (for requests the pages make to it, as replay does). A same-origin
   * request's `Origin` (the page's own) is accepted here, as browsers send one with a POST.
   */
  serve(call: PageCall, path: string, query: string, gateway: { host: string; port: number } | { path: string }): void;
  /** The gateway is closing: end responses still being written (live feeds). */
  close(): void;
}

/** The gateway's options, checked, with every default applied. */
export interface ResolvedGatewayOptions {
  listen: GatewayListen;
  /** A TCP listen address that is not loopback (allowed: the gateway warns). */
  nonLoopback: boolean;
  eventTimeoutMs: number;
  allowedHosts: string[];
  allowedOrigins: string[];
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

/**
 * Checks a gateway's options (all but the sender and the logger) and fills in the defaults; the
 * CLI calls it too, before anything starts, naming its flags through `naming`. The rule that
 * matters most: a TCP address that is not loopback is refused unless allowed, because the
 * gateway has no authentication (SPEC §4).
 * @throws RestpipeError `invalid_option` naming the option and the problem.
 */
export function resolveGatewayOptions(o: Omit<GatewayOptions, 'sender' | 'logger' | 'metricsText' | 'pages'>, naming: OptionNaming = KEY_NAMING): ResolvedGatewayOptions {
  if (typeof o !== 'object' || o === null) throw invalidOption('gateway options must be an object');
  const { listen } = o;
  if (typeof listen !== 'object' || listen === null) throw invalidOption(`${naming.name('listen')}: expected { host, port } or { path }`);
  let resolved: GatewayListen;
  let nonLoopback = false;
  if ('path' in listen) {
    if (typeof listen.path !== 'string' || listen.path === '') throw invalidOption(`${naming.name('listen')}: a unix socket needs a path`);
    resolved = { path: listen.path };
  } else {
    const { host } = listen;
    if (typeof host !== 'string' || host === '') throw invalidOption(`${naming.name('listen')}: expected a host`);
    const port = countOption('listen.port', listen.port, NaN, { max: 65_535, naming });
    if (Number.isNaN(port)) throw invalidOption(`${naming.name('listen')}: expected a port`);
    if (!isLoopbackListenHost(host)) {
      if (o.allowNonLoopback !== true) {
        throw invalidOption(
          `${naming.name('listen')} ${host}:${port}: not a loopback address; a gateway that is not loopback has no authentication, so anyone who can reach it can send events; ` +
            `use 127.0.0.1, ::1 or a unix socket, or ${naming.turnOn('allowNonLoopback')}`,
        );
      }
      nonLoopback = true;
    }
    resolved = { host, port };
  }
  if (o.eventTimeoutMs === undefined) throw invalidOption(`${naming.name('eventTimeoutMs')} is required`);
  const r: ResolvedGatewayOptions = {
    listen: resolved,
    nonLoopback,
    eventTimeoutMs: durationOption('eventTimeoutMs', o.eventTimeoutMs, 0, { naming }),
    allowedHosts: stringListOption('allowedHosts', o.allowedHosts, naming),
    allowedOrigins: stringListOption('allowedOrigins', o.allowedOrigins, naming),
    headersTimeoutMs: durationOption('headersTimeoutMs', o.headersTimeoutMs, DEFAULT_GATEWAY_HEADERS_TIMEOUT_MS, { naming }),
    requestTimeoutMs: durationOption('requestTimeoutMs', o.requestTimeoutMs, DEFAULT_GATEWAY_REQUEST_TIMEOUT_MS, { naming }),
    keepAliveTimeoutMs: durationOption('keepAliveTimeoutMs', o.keepAliveTimeoutMs, DEFAULT_GATEWAY_KEEP_ALIVE_TIMEOUT_MS, { naming }),
  };
  requireOrder({ key: 'requestTimeoutMs', ms: r.requestTimeoutMs }, { key: 'headersTimeoutMs', ms: r.headersTimeoutMs }, naming, { orEqual: true });
  return r;
}
