// A flood of forbidden calls against access rules (SPEC §11, issue 13 item 1), with real CLI
// processes over real TLS: one client sends 10,000 events the server's rules refuse, spread over
// many nouns, while another client keeps calling what it may. Every forbidden call is a 403
// (return code 254), the server's log grows by a bounded number of lines (refusal-log.ts), the
// metrics count every refusal, and the other caller is served throughout.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { issueCertificate } from '../../src/identity/index.js';
import { MAX_KEYS_PER_CALLER } from '../../src/rules/index.js';
import { httpRequest } from '../helpers/gateway-http.js';
import { metricValue } from '../helpers/metrics.js';
import { makePki, type Pki, type PkiIdentity } from '../helpers/pki.js';
import { E2E_HANDLERS, FAST_FLAGS, clientConnected, killAll, startClient, startServer, type StartedClient, type StartedServer } from '../helpers/cli-processes.js';

const FLOOD = 10_000;
const NOUNS = 500;
const CONCURRENCY = 32;

let pki: Pki;
let server: StartedServer;
let attacker: StartedClient;
let neighbour: StartedClient;

async function leaf(name: string): Promise<PkiIdentity> {
  const issued = await issueCertificate({ ca: { keyPem: pki.ca.keyPem, certPem: pki.ca.certPem }, name });
  return { ...pki.client1, name, keyPem: issued.keyPem, certPem: issued.certPem };
}

before(async () => {
  pki = await makePki();
  const rulesPath = join(pki.dir, 'rules.json');
  await writeFile(rulesPath, JSON.stringify({ rules: [{ from: 'neighbour', to: 'server', allow: ['get whoami'] }, { from: 'attacker', to: 'server', allow: ['get time'] }] }));
  // A long event timeout: the flood is bounded by the machine's speed, not by a timer.
  const flags = ['--handlers', E2E_HANDLERS, ...FAST_FLAGS, '--event-timeout', '30'];
  server = await startServer(await pki.certDir('server', pki.server), [...flags, '--rules', rulesPath]);
  attacker = await startClient(await pki.certDir('client', await leaf('attacker')), server.pipePort, flags, { name: 'attacker' });
  neighbour = await startClient(await pki.certDir('client', await leaf('neighbour')), server.pipePort, flags, { name: 'neighbour' });
  await Promise.all([clientConnected(server.proc, 'attacker'), clientConnected(server.proc, 'neighbour')]);
});

after(async () => {
  await killAll();
  await pki?.cleanup();
});

/** GET on a keep-alive agent: the status and the return code header. */
function get(agent: http.Agent, port: number, path: string): Promise<{ status: number; code: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, code: res.headers['x-event-return-code'] as string | undefined }));
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`no response to ${path} within 60 s`)));
    req.on('error', reject);
  });
}

test(`${FLOOD} forbidden calls: all 403, a bounded log, every one counted, the other caller served`, async () => {
  const logBefore = server.proc.log.length;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const neighbourAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const statuses = new Map<string, number>();
  let sent = 0;
  let flooding = true;
  const worker = async (): Promise<void> => {
    while (sent < FLOOD) {
      const i = sent++;
      const r = await get(agent, attacker.gateway!.port, `/server/forbidden/${i % NOUNS}//p${i}?q=${i}`);
      const key = `${r.status}/${r.code}`;
      statuses.set(key, (statuses.get(key) ?? 0) + 1);
    }
  };
  const neighbourResults: string[] = [];
  const neighbourLoop = (async () => {
    while (flooding) {
      const r = await get(neighbourAgent, neighbour.gateway!.port, '/server/whoami');
      neighbourResults.push(`${r.status}/${r.code}`);
    }
  })();
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    flooding = false;
    await neighbourLoop;
    agent.destroy();
    neighbourAgent.destroy();
  }
  assert.deepEqual(Object.fromEntries(statuses), { '403/254': FLOOD });
  assert.ok(neighbourResults.length > 0);
  assert.deepEqual([...new Set(neighbourResults)], ['200/0'], 'the neighbour is served throughout');
  // The attacker may still call what it is allowed.
  const allowed = await httpRequest({ port: attacker.gateway!.port }, { path: '/server/time' });
  assert.equal(allowed.status, 200);

  const metrics = (await httpRequest({ port: server.gateway!.port }, { path: '/metrics' })).body.toString();
  assert.equal(metricValue(metrics, 'restpipe_rules_refused_total{caller="attacker"}'), FLOOD);
  const ruleLines = server.proc.log.slice(logBefore).filter((l) => String(l['msg'] ?? '').startsWith('access rules'));
  // One line per key up to the per-caller cap; the rest is counted for the window's summary.
  assert.equal(ruleLines.length, MAX_KEYS_PER_CALLER, ruleLines.map((l) => l.text).join('\n'));
  assert.ok(server.proc.log.length - logBefore < 100, `the server wrote ${server.proc.log.length - logBefore} lines during the flood`);
});
