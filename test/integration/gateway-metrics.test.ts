// Metrics fed from the diagnostics channels: Prometheus (own registry, never the global one)
// and the statsd bridge with the original metric names, against a real UDP listener.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegister } from 'prom-client';

import { createClient } from '../../src/index.js';
import { createPrometheusMetrics } from '../../src/metrics/prometheus.js';
import { createStatsdBridge } from '../../src/metrics/statsd.js';
import { httpRequest, onceMatching } from '../helpers/gateway-http.js';
import { HEARTBEAT, startNodes, type TestNodes } from '../helpers/gateway-nodes.js';
import { StatsdListener, metricValue } from '../helpers/metrics.js';

let nodes: TestNodes;
before(async () => {
  nodes = await startNodes();
});
after(async () => {
  await nodes?.close();
});

const clientGwPort = (): number => (nodes.clientGw.address as { port: number }).port;

describe('Prometheus', () => {
  test('each instance has its own registry; the global one stays empty', async () => {
    const a = createPrometheusMetrics({ role: 'client' });
    const b = createPrometheusMetrics({ role: 'client' });
    try {
      assert.notEqual(a.register, b.register);
      assert.notEqual(a.register, globalRegister);
      assert.doesNotMatch(await globalRegister.metrics(), /restpipe_/);
      const { contentType, body } = await a.text();
      assert.match(contentType, /^text\/plain/);
      assert.match(body, /^# HELP restpipe_events_total /m);
      assert.match(body, /^restpipe_events_total\{direction="outbound",outcome="ok"\} 0$/m, 'common series start at 0');
    } finally {
      a.close();
      b.close();
    }
  });

  test('events are counted by direction and outcome, with latency; close() stops counting', async () => {
    const m = createPrometheusMetrics({ role: 'client', defaultMetrics: false });
    const series = 'restpipe_events_total{direction="outbound",outcome="ok"}';
    try {
      for (let i = 0; i < 3; i++) assert.equal((await httpRequest({ port: clientGwPort() }, { path: '/server/time' })).status, 200);
      assert.equal((await httpRequest({ port: clientGwPort() }, { path: '/server/nosuch' })).status, 404);
      const text = (await m.text()).body;
      // Server handlers count as inbound: both ends run in this process and publish on the same channel.
      assert.equal(metricValue(text, series), 3);
      assert.equal(metricValue(text, 'restpipe_events_total{direction="outbound",outcome="no_handler"}'), 1);
      assert.equal(metricValue(text, 'restpipe_event_duration_seconds_count{direction="outbound"}'), 4);
      assert.ok(metricValue(text, 'restpipe_event_duration_seconds_bucket{le="60",direction="outbound"}') === 4);
      m.close();
      await httpRequest({ port: clientGwPort() }, { path: '/server/time' });
      assert.equal(metricValue((await m.text()).body, series), 3, 'nothing counted after close()');
    } finally {
      m.close();
    }
  });

  test('an event timeout is counted under its error code', async () => {
    const m = createPrometheusMetrics({ role: 'client', defaultMetrics: false });
    try {
      const r = await httpRequest({ port: clientGwPort() }, { path: '/server/wait', headers: { 'X-Event-Timeout': '0.05' } });
      assert.equal(r.status, 504);
      assert.equal(metricValue((await m.text()).body, 'restpipe_events_total{direction="outbound",outcome="event_timeout"}'), 1);
    } finally {
      m.close();
    }
  });

  test('TLS refusals are counted by reason on the server', async () => {
    const m = createPrometheusMetrics({ role: 'server', defaultMetrics: false });
    const refused = onceMatching(nodes.server, 'refused', (r: { reason: string }) => /CERT_HAS_EXPIRED/.test(r.reason));
    const expired = createClient({
      host: '127.0.0.1',
      port: nodes.server.address!.port,
      tls: nodes.pki.expired.tls,
      ...HEARTBEAT,
      reconnectMinMs: 1_000,
      reconnectMaxMs: 2_000,
    }).start();
    try {
      await refused;
      assert.ok(metricValue((await m.text()).body, 'restpipe_tls_refusals_total{reason="CERT_HAS_EXPIRED"}') >= 1);
    } finally {
      await expired.close({ graceMs: 0 });
      m.close();
    }
  });
});

describe('statsd bridge', () => {
  let statsd: StatsdListener;
  before(async () => {
    statsd = await StatsdListener.start();
  });
  after(() => statsd?.close());

  test('the original metric names', async () => {
    const bridge = createStatsdBridge({ host: '127.0.0.1', port: statsd.port, prefix: 'rp' });
    try {
      assert.equal((await httpRequest({ port: clientGwPort() }, { path: '/server/time' })).status, 200);
      await statsd.received([
        /^rp\.message\.send\.tick:1\|c$/,
        /^rp\.message\.send\.timing:[\d.]+\|ms$/,
        /^rp\.message\.receive\.tick:1\|c$/,
        /^rp\.message\.received\.handle\.get_time\.timing:[\d.]+\|ms$/,
      ]);
      const back = nodes.reconnected();
      nodes.server.disconnect('client1', 'test: statsd reconnect');
      await back;
      await statsd.received([/^rp\.client\.connect\.broken\.tick:1\|c$/, /^rp\.client\.connect\.new\.tick:1\|c$/, /^rp\.client\.connect\.connected\.tick:1\|c$/]);
      // An unknown handler gets no per-handler timing (a peer must not mint metric names).
      statsd.lines.length = 0;
      await httpRequest({ port: clientGwPort() }, { path: '/server/nosuch' });
      await statsd.received([/^rp\.message\.receive\.tick:1\|c$/]);
      assert.ok(!statsd.lines.some((l) => l.includes('handle.get_nosuch')), JSON.stringify(statsd.lines));
    } finally {
      await bridge.close();
    }
  });
});
