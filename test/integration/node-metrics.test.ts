// A node's metrics from its first event on (issue 9): startNode subscribes Prometheus and the
// statsd bridge before the pipe end starts, so a client's first dial and first pipe reach a
// real UDP listener as the original's ticks and show in its Prometheus text. And the statsd
// bridge never needs unix-dgram, hot-shots' optional dependency for unix sockets.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

import { createServer, startNode, type RestpipeServer, type RunningNode } from '../../src/index.js';
import { HEARTBEAT } from '../helpers/gateway-nodes.js';
import { StatsdListener, metricValue } from '../helpers/metrics.js';
import { makePki, type Pki } from '../helpers/pki.js';

let pki: Pki;
let server: RestpipeServer;
let statsd: StatsdListener;

before(async () => {
  pki = await makePki();
  server = createServer({ tls: pki.server.tls, ...HEARTBEAT });
  await server.listen({ host: '127.0.0.1', port: 0 });
  statsd = await StatsdListener.start();
});
after(async () => {
  await server?.close({ graceMs: 0 });
  statsd?.close();
  await pki?.cleanup();
});

test("a client node's first dial and first pipe reach statsd and Prometheus", async () => {
  let node: RunningNode | undefined;
  try {
    node = await startNode({
      role: 'client',
      identity: pki.client1.tls,
      server: { host: '127.0.0.1', port: server.address!.port },
      http: null,
      statsd: { host: '127.0.0.1', port: statsd.port },
      ...HEARTBEAT,
    });
    await node.client!.waitReady(5_000);
    await statsd.received([/^client\.connect\.new\.tick:1\|c$/, /^client\.connect\.connected\.tick:1\|c$/]);
    const text = (await node.metrics.text()).body;
    assert.equal(metricValue(text, 'restpipe_dials_total{outcome="connected"}'), 1);
    assert.equal(metricValue(text, 'restpipe_pipes_opened_total'), 1);
    assert.equal(metricValue(text, 'restpipe_up'), 1);
  } finally {
    await node?.close({ graceMs: 0 });
  }
});

test('the statsd bridge sends without unix-dgram (hot-shots loads it only for unix sockets)', () => {
  // A child process in which loading unix-dgram fails and is recorded, as where the optional
  // dependency did not build or was left out.
  const script = `
    const Module = require('node:module');
    const load = Module._load;
    Module._load = function (request, ...rest) {
      if (request === 'unix-dgram') { process.stderr.write('unix-dgram was loaded\\n'); throw new Error('unix-dgram is not installed'); }
      return load.call(this, request, ...rest);
    };
    (async () => {
      const { createStatsdBridge } = await import(${JSON.stringify(new URL('../../src/metrics/statsd.js', import.meta.url).href)});
      const { channels } = await import(${JSON.stringify(new URL('../../src/diagnostics.js', import.meta.url).href)});
      const bridge = createStatsdBridge({ host: '127.0.0.1', port: ${statsd.port}, prefix: 'nounixdgram' });
      channels.dial.publish({ server: '127.0.0.1:1234', outcome: 'connected', attempt: 1 });
      await bridge.close();
    })();
  `;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /unix-dgram was loaded/);
  return statsd.received([/^nounixdgram\.client\.connect\.new\.tick:1\|c$/, /^nounixdgram\.client\.connect\.connected\.tick:1\|c$/]);
});
