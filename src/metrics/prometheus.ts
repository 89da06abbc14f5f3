import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import {
  channels,
  type DialMessage,
  type EventSettledMessage,
  type PipeStateMessage,
  type RefusalMessage,
  type ReplacedMessage,
  type RulesRefusedMessage,
} from '../diagnostics.js';
import type { NodeStatus } from '../sender.js';

/**
 * Prometheus metrics fed from the library's diagnostics channels (STYLE: metrics observe, the
 * pipe only publishes when someone listens). Everything lives on one registry that is passed
 * in or made here: never prom-client's global one, because `restpipe demo` runs a server and a
 * client in one process and each has its own `/metrics`.
 *
 * Metric names (all with the `restpipe_` prefix):
 *
 * | name | type | labels | meaning |
 * |---|---|---|---|
 * | `restpipe_up` | gauge | | 1 when the node is ready (client: pipe open; server: listening) |
 * | `restpipe_connected_clients` | gauge | | server: clients with an open pipe |
 * | `restpipe_events_total` | counter | direction, outcome | events settled: outbound (sent) or inbound (handled); outcome ok, handler_error, no_handler, forbidden, upstream_failed (a forward's upstream, SPEC §10) or the error code |
 * | `restpipe_event_duration_seconds` | histogram | direction | send → reply (outbound), handler time (inbound) |
 * | `restpipe_pipes_opened_total` / `restpipe_pipes_closed_total` | counter | | pipes that opened (hello done) / closed |
 * | `restpipe_dials_total` | counter | outcome | client: dial attempts, connected or failed |
 * | `restpipe_reconnects_total` | counter | | client: successful dials after the first |
 * | `restpipe_tls_refusals_total` | counter | reason | server: refused peers, by OpenSSL reason code |
 * | `restpipe_pipe_replacements_total` | counter | client | server: pipes replaced by a newer one with the same CN |
 * | `restpipe_certificate_expiry_timestamp_seconds` | gauge | role, name | notAfter of the node's own certificate, its CA's (role ca) and each connected peer's |
 * | `restpipe_crl_next_update_timestamp_seconds` | gauge | | server with a CRL: its nextUpdate |
 * | `restpipe_rules_refused_total` | counter | caller | events the access rules refused, by the caller's CN |
 * | `restpipe_rules_audit_refusals_total` | counter | caller | audit mode: events the rules would have refused (let through) |
 *
 * plus prom-client's Node default metrics (process, heap, event loop, GC) on the same registry.
 */

/** What the scrape-time gauges read of the node (its EventSender fits); `status()` is undefined before the node exists. */
export interface MetricsStateSource {
  isReady(): boolean;
  status(): NodeStatus | undefined;
}

/** Options of {@link createPrometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /** Which node this is: pipe state messages of the other role are ignored. */
  role: 'server' | 'client';
  /** The registry to fill. @default a new Registry (never the global one) */
  register?: Registry;
  /**
   * Read at scrape time for `restpipe_up` and `restpipe_connected_clients`. Without it both
   * are derived from pipe open/close messages of this role (exact only when the process runs
   * one node of this role).
   */
  sender?: MetricsStateSource;
  /** Also collect Node's default metrics on the registry. @default true */
  defaultMetrics?: boolean;
}

/** A node's Prometheus metrics. */
export interface PrometheusMetrics {
  readonly register: Registry;
  /** The exposition text for `GET /metrics`. */
  text(): Promise<{ contentType: string; body: string }>;
  /** Stops observing the channels. The registry keeps its last values. */
  close(): void;
}

/**
 * Latency buckets in seconds, from 100 µs (an event over loopback) to 60 s (the default event
 * timeout), roughly 1-2.5-5 per decade so that quantiles stay within a factor of 2.5.
 */
export const EVENT_DURATION_BUCKETS_S: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

// Label values come from the library's closed sets, but refusal reasons come from OpenSSL and
// from restpipe's own sentences: only code-like tokens become labels, so cardinality stays bounded.
const OUTCOME_LABEL = /^[a-z_]{1,40}$/;
const REASON_CODE = /^[A-Z][A-Z0-9_]{2,63}/;
/** Distinct client names labelled on the replacements and rules counters; the rest count as `other`. */
const MAX_CLIENT_LABELS = 1_000;

/** A counter by caller CN whose label values are capped at MAX_CLIENT_LABELS (`other` past it). */
function cappedByName(counter: Counter<'caller'> | Counter<'client'>): (name: string) => void {
  const names = new Set<string>();
  return (name) => {
    if (!names.has(name) && names.size < MAX_CLIENT_LABELS) names.add(name);
    counter.labels(names.has(name) ? name : 'other').inc();
  };
}

/**
 * Creates the metrics and subscribes to the diagnostics channels.
 * @throws Error from prom-client when the registry already holds metrics of these names
 *   (pass `defaultMetrics: false` when it already collects Node's defaults).
 */
export function createPrometheusMetrics(options: PrometheusMetricsOptions): PrometheusMetrics {
  const { role, sender } = options;
  const register = options.register ?? new Registry();
  const registers = [register];
  let openPipes = 0;

  new Gauge({
    name: 'restpipe_up',
    help: 'Whether the node is ready: a client has its pipe open, a server is listening (1) or not (0).',
    registers,
    collect() {
      this.set(sender !== undefined ? Number(sender.isReady()) : Number(openPipes > 0 || role === 'server'));
    },
  });
  if (role === 'server') {
    new Gauge({
      name: 'restpipe_connected_clients',
      help: 'Clients with an open pipe to this server.',
      registers,
      collect() {
        const status = sender?.status();
        this.set(status?.role === 'server' ? status.clientCount : openPipes);
      },
    });
  }
  // Read at scrape time from the node's status: its own certificate, its CA's, its peers'.
  new Gauge({
    name: 'restpipe_certificate_expiry_timestamp_seconds',
    help: "When a certificate expires (notAfter, Unix seconds): this node's own (role server or client), its CA's (role ca), and each connected peer's.",
    labelNames: ['role', 'name'] as const,
    registers,
    collect() {
      this.reset();
      const certificates = sender?.status()?.certificates ?? [];
      // Peers are certificate holders: at most MAX_CLIENT_LABELS of them are labelled.
      for (const cert of certificates.slice(0, MAX_CLIENT_LABELS + 2)) this.set({ role: cert.role, name: cert.name }, Math.floor(cert.notAfter.getTime() / 1000));
    },
  });
  if (role === 'server') {
    new Gauge({
      name: 'restpipe_crl_next_update_timestamp_seconds',
      help: "When the CRL's issuer promises the next one (nextUpdate, Unix seconds); past it every client is refused. Absent without --crl.",
      registers,
      collect() {
        this.reset();
        const status = sender?.status();
        const next = status?.role === 'server' ? status.crl?.nextUpdate : undefined;
        if (next !== undefined && next !== null) this.set(Math.floor(next.getTime() / 1000));
      },
    });
  }
  // Settled events are counted here and added to the counter when it is read (collect): a Map
  // lookup per event instead of prom-client's label validation and hashing.
  const pendingEvents = new Map<string, Map<string, { labels: { direction: string; outcome: string }; n: number }>>();
  const events = new Counter({
    name: 'restpipe_events_total',
    help: 'Events settled, by direction (outbound: sent by this node; inbound: handled by it) and outcome.',
    labelNames: ['direction', 'outcome'] as const,
    registers,
    collect() {
      for (const byOutcome of pendingEvents.values()) {
        for (const p of byOutcome.values()) {
          if (p.n === 0) continue;
          this.inc(p.labels, p.n);
          p.n = 0;
        }
      }
    },
  });
  const duration = new Histogram({
    name: 'restpipe_event_duration_seconds',
    help: 'Outbound: from send to reply or failure. Inbound: handler time.',
    labelNames: ['direction'] as const,
    buckets: [...EVENT_DURATION_BUCKETS_S],
    registers,
  });
  const pipesOpened = new Counter({ name: 'restpipe_pipes_opened_total', help: 'Pipes opened (hello exchanged).', registers });
  const pipesClosed = new Counter({ name: 'restpipe_pipes_closed_total', help: 'Pipes closed, for any reason.', registers });
  const dials = role === 'client'
    ? new Counter({ name: 'restpipe_dials_total', help: 'Dial attempts by outcome.', labelNames: ['outcome'] as const, registers })
    : undefined;
  const reconnects = role === 'client'
    ? new Counter({ name: 'restpipe_reconnects_total', help: 'Successful dials after the first one.', registers })
    : undefined;
  const refusals = role === 'server'
    ? new Counter({ name: 'restpipe_tls_refusals_total', help: 'Peers refused at the TLS layer, by reason.', labelNames: ['reason'] as const, registers })
    : undefined;
  // Two live holders of one key (a copied certificate) evict each other: the operator must see
  // which CN it is. CNs come from certificates the CA issued, but their number is capped anyway.
  const replacements = role === 'server'
    ? new Counter({ name: 'restpipe_pipe_replacements_total', help: 'Pipes replaced by a newer connection with the same client CN (a reconnect, or another holder of its key).', labelNames: ['client'] as const, registers })
    : undefined;
  const countReplaced = replacements === undefined ? undefined : cappedByName(replacements);
  // The caller is a certificate holder and may be hostile: its CN is a label, capped like the clients'.
  const countRulesRefused = cappedByName(
    new Counter({ name: 'restpipe_rules_refused_total', help: "Events this node's access rules refused (403, return code 254), by the caller's CN.", labelNames: ['caller'] as const, registers }),
  );
  const countRulesAudited = cappedByName(
    new Counter({ name: 'restpipe_rules_audit_refusals_total', help: 'Audit mode (--rules-audit): events the access rules would have refused, let through, by the caller\'s CN.', labelNames: ['caller'] as const, registers }),
  );
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register });

  // Pre-create the common series so they read 0 instead of being absent before the first event.
  for (const direction of ['outbound', 'inbound']) {
    events.inc({ direction, outcome: 'ok' }, 0);
    duration.zero({ direction });
  }
  const durationBy = new Map<string, ReturnType<typeof duration.labels>>();
  dials?.inc({ outcome: 'connected' }, 0);
  dials?.inc({ outcome: 'failed' }, 0);
  let connectedDials = 0;

  const onEvent = (message: unknown): void => {
    const m = message as EventSettledMessage & { role?: string };
    if (m.role !== undefined && m.role !== role) return;
    let byOutcome = pendingEvents.get(m.direction);
    if (byOutcome === undefined) pendingEvents.set(m.direction, (byOutcome = new Map()));
    let pending = byOutcome.get(m.outcome);
    if (pending === undefined) {
      const outcome = OUTCOME_LABEL.test(m.outcome) ? m.outcome : 'other';
      pending = byOutcome.get(outcome) ?? { labels: { direction: m.direction, outcome }, n: 0 };
      byOutcome.set(m.outcome, pending);
    }
    pending.n++;
    let observe = durationBy.get(m.direction);
    if (observe === undefined) durationBy.set(m.direction, (observe = duration.labels(m.direction)));
    observe.observe(m.durationMs / 1000);
  };
  const onPipe = (message: unknown): void => {
    const m = message as PipeStateMessage;
    if (m.role !== role) return;
    if (m.state === 'open') {
      openPipes++;
      pipesOpened.inc();
    } else {
      openPipes = Math.max(0, openPipes - 1);
      pipesClosed.inc();
    }
  };
  const onDial = (message: unknown): void => {
    if (dials === undefined) return;
    const m = message as DialMessage;
    dials.labels(m.outcome).inc();
    if (m.outcome === 'connected' && ++connectedDials > 1) reconnects?.inc();
  };
  const onRefusal = (message: unknown): void => {
    if (refusals === undefined) return;
    const m = message as RefusalMessage;
    refusals.labels(REASON_CODE.exec(m.reason)?.[0] ?? 'other').inc();
  };

  const onReplaced = (message: unknown): void => {
    countReplaced?.((message as ReplacedMessage).name);
  };
  const onRulesRefused = (message: unknown): void => {
    const m = message as RulesRefusedMessage;
    if (m.role !== role) return;
    (m.audit ? countRulesAudited : countRulesRefused)(m.caller);
  };

  channels.eventSettled.subscribe(onEvent);
  channels.pipeState.subscribe(onPipe);
  channels.dial.subscribe(onDial);
  channels.refusal.subscribe(onRefusal);
  channels.replaced.subscribe(onReplaced);
  channels.rulesRefused.subscribe(onRulesRefused);
  let closed = false;

  return {
    register,
    async text() {
      return { contentType: register.contentType, body: await register.metrics() };
    },
    close() {
      if (closed) return;
      closed = true;
      channels.eventSettled.unsubscribe(onEvent);
      channels.pipeState.unsubscribe(onPipe);
      channels.dial.unsubscribe(onDial);
      channels.refusal.unsubscribe(onRefusal);
      channels.replaced.unsubscribe(onReplaced);
      channels.rulesRefused.unsubscribe(onRulesRefused);
    },
  };
}
