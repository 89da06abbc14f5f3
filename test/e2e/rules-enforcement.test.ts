// Access rules enforced (SPEC §11, issue 13 item 1) with real CLI processes over real TLS: a
// server and three clients, each node with its own rules file (one client in audit mode). A
// table of callers × events in both directions: deny beats allow, default deny, `**` (also
// zero segments), `*` as one segment, CN globs, parameters and query ignored, prototype names
// as nouns, and a server whose own copy allows everything on clients being refused by a
// client's own file. Then the log lines and metrics of refusals, audit mode, and reloads: on
// SIGHUP, on a file renamed into place, and a broken file that keeps the rules in force.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { issueCertificate } from '../../src/identity/index.js';
import { httpRequest, type HttpResult } from '../helpers/gateway-http.js';
import { metricValue } from '../helpers/metrics.js';
import { makePki, type Pki, type PkiIdentity } from '../helpers/pki.js';
import {
  E2E_HANDLERS,
  FAST_FLAGS,
  clientConnected,
  killAll,
  runCli,
  startClient,
  startServer,
  type CliProcess,
  type LogLine,
  type StartedClient,
  type StartedServer,
} from '../helpers/cli-processes.js';

const COMMON = ['--handlers', E2E_HANDLERS, ...FAST_FLAGS];

/** The server's copy. Its last rule is what a compromised server might say: clients never read it. */
const SERVER_RULES = {
  rules: [
    { from: 'sensor-*', to: 'server', allow: ['post readings', 'get time', 'get pub/**', 'get constructor', 'get __proto__'] },
    { from: 'sensor-*', to: 'server', deny: ['get pub/secret/**'] },
    { from: 'fileserver', to: 'server', allow: ['* **'] },
    { from: '*', deny: ['delete **', '* admin/**'] },
    { from: '*', to: 'client', allow: ['* **'] },
  ],
};
const SENSOR1_RULES = { rules: [{ from: 'server', allow: ['get **'], deny: ['get secret/**'] }] };
const FILESERVER_RULES = { rules: [{ from: 'server', to: 'fileserver', allow: ['get **', 'put files/*'] }] };
/** The client `sensor` runs it with --rules-audit. */
const AUDIT_RULES = { rules: [{ from: 'server', allow: ['get time'] }] };

let pki: Pki;
let rulesDir: string;
let server: StartedServer;
const clients: Record<string, StartedClient> = {};

async function leaf(name: string): Promise<PkiIdentity> {
  const issued = await issueCertificate({ ca: { keyPem: pki.ca.keyPem, certPem: pki.ca.certPem }, name });
  return { ...pki.client1, name, keyPem: issued.keyPem, certPem: issued.certPem };
}

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

before(async () => {
  pki = await makePki();
  rulesDir = join(pki.dir, 'rules');
  // The server reads its rules through a symlink in a watched directory: a change to the target
  // (in another directory) is seen only by SIGHUP, a file renamed over the link by the watch.
  await mkdir(join(rulesDir, 'watched'), { recursive: true });
  await mkdir(join(rulesDir, 'elsewhere'));
  await writeFile(join(rulesDir, 'elsewhere', 'server.json'), json(SERVER_RULES));
  await symlink(join(rulesDir, 'elsewhere', 'server.json'), join(rulesDir, 'watched', 'server.json'));
  await writeFile(join(rulesDir, 'sensor-1.json'), json(SENSOR1_RULES));
  await writeFile(join(rulesDir, 'fileserver.json'), json(FILESERVER_RULES));
  await writeFile(join(rulesDir, 'sensor.json'), json(AUDIT_RULES));
  server = await startServer(await pki.certDir('server', pki.server), [...COMMON, '--rules', join(rulesDir, 'watched', 'server.json')]);
  const start = async (name: string, extra: string[]): Promise<void> => {
    clients[name] = await startClient(await pki.certDir('client', await leaf(name)), server.pipePort, [...COMMON, ...extra], { name });
    await clientConnected(server.proc, name);
  };
  // One at a time, as the other e2e tests do: three node processes loading at once on a busy
  // machine can take longer than the helpers' start-up bounds.
  await start('sensor-1', ['--rules', join(rulesDir, 'sensor-1.json')]);
  await start('fileserver', ['--rules', join(rulesDir, 'fileserver.json')]);
  await start('sensor', ['--rules', join(rulesDir, 'sensor.json'), '--rules-audit']);
});

after(async () => {
  await killAll();
  await pki?.cleanup();
});

/** A request through a client's gateway to the server. */
function toServer(caller: string, method: string, noun: string): Promise<HttpResult> {
  return httpRequest({ port: clients[caller]!.gateway!.port }, { method, path: `/server/${noun}` });
}

/** A request through the server's gateway to a client. */
function toClient(callee: string, method: string, noun: string): Promise<HttpResult> {
  return httpRequest({ port: server.gateway!.port }, { method, path: `/client/${callee}/${noun}` });
}

type Expect = 'forbidden' | 'ok' | 'no_handler';

/** What the answer says: refused by the rules (403, 254, forbidden), a handler's 200, or allowed and no handler (404, 255). */
function verdict(res: HttpResult): string {
  const code = res.headers['x-event-return-code'];
  if (res.status === 403 && code === '254' && res.json().error.code === 'forbidden') return 'forbidden';
  if (res.status === 200 && code === '0') return 'ok';
  if (res.status === 404 && code === '255' && res.json().error.code === 'no_handler') return 'no_handler';
  return `unexpected ${res.status} (return code ${String(code)}): ${res.body.toString()}`;
}

const CLIENT_TO_SERVER: Array<[caller: string, method: string, noun: string, expect: Expect, why: string]> = [
  ['sensor-1', 'GET', 'time', 'ok', 'allowed'],
  ['sensor-1', 'POST', 'readings', 'no_handler', 'allowed, no handler'],
  ['sensor-1', 'POST', 'readings//kitchen/2?at=now', 'no_handler', 'parameters and query ignored'],
  ['sensor-1', 'GET', 'config', 'forbidden', 'default deny'],
  ['sensor-1', 'PUT', 'time', 'forbidden', 'the verb is part of the pattern'],
  ['sensor-1', 'GET', 'pub', 'no_handler', '** matches zero segments'],
  ['sensor-1', 'GET', 'pub/a/b/c', 'no_handler', '** matches the rest'],
  ['sensor-1', 'GET', 'pub/secret/key', 'forbidden', 'deny beats allow'],
  ['sensor-1', 'DELETE', 'readings', 'forbidden', 'deny beats allow (from *)'],
  ['sensor-1', 'GET', 'constructor', 'no_handler', 'a prototype name as an allowed noun'],
  ['sensor-1', 'GET', '__proto__', 'no_handler', 'a prototype name as an allowed noun'],
  ['sensor-1', 'GET', 'toString', 'forbidden', 'a prototype name no rule allows'],
  ['sensor-1', 'GET', 'hasOwnProperty', 'forbidden', 'a prototype name no rule allows'],
  ['sensor', 'GET', 'time', 'forbidden', 'sensor-* does not match sensor'],
  ['fileserver', 'GET', 'whoami', 'ok', 'CN rule * **'],
  ['fileserver', 'PUT', 'anything/at/all', 'no_handler', 'CN rule * **'],
  ['fileserver', 'DELETE', 'files/a', 'forbidden', 'deny beats allow'],
  ['fileserver', 'GET', 'admin/users', 'forbidden', 'deny * admin/**'],
  ['fileserver', 'GET', 'admin', 'forbidden', 'admin/** matches admin itself'],
];

test('client → server: the server enforces its rules on each caller', async () => {
  const failures: string[] = [];
  for (const [caller, method, noun, expect, why] of CLIENT_TO_SERVER) {
    const got = verdict(await toServer(caller, method, noun));
    if (got !== expect) failures.push(`${caller} ${method} ${noun} (${why}): expected ${expect}, got ${got}`);
  }
  assert.deepEqual(failures, []);
});

const SERVER_TO_CLIENT: Array<[callee: string, method: string, noun: string, expect: Expect, why: string]> = [
  ['sensor-1', 'GET', 'whoami', 'ok', 'get ** from the server'],
  ['sensor-1', 'GET', 'whoami//a/b?c=d', 'ok', 'parameters ignored'],
  ['sensor-1', 'GET', 'secret/x', 'forbidden', 'deny beats allow'],
  ['sensor-1', 'POST', 'echo', 'forbidden', 'default deny'],
  ['fileserver', 'GET', 'time', 'ok', 'get **'],
  ['fileserver', 'PUT', 'files/a', 'no_handler', 'put files/*'],
  ['fileserver', 'PUT', 'files/a/b', 'forbidden', '* is one segment'],
  // The server's own copy allows `* **` on every client: the client's own file decides.
  ['fileserver', 'DELETE', 'files/a', 'forbidden', "the client's rules, not the server's"],
  ['fileserver', 'POST', 'echo', 'forbidden', "the client's rules, not the server's"],
];

test("server → client: each client enforces its own rules, whatever the server's copy says", async () => {
  const failures: string[] = [];
  for (const [callee, method, noun, expect, why] of SERVER_TO_CLIENT) {
    const got = verdict(await toClient(callee, method, noun));
    if (got !== expect) failures.push(`server → ${callee} ${method} ${noun} (${why}): expected ${expect}, got ${got}`);
  }
  assert.deepEqual(failures, []);
});

const msg = (l: LogLine): string => String(l['msg'] ?? '');

test('a refusal is logged by the refusing node with the caller, the event and the rule, and counted in /metrics', async () => {
  const line = await server.proc.waitForLog((l) => l['caller'] === 'sensor-1' && l['noun'] === 'pub/secret/key', 'the refusal line');
  assert.equal(line['level'], 40);
  assert.match(msg(line), /^access rules refused get 'pub\/secret\/key' from 'sensor-1': refused by rules\[1\]\.deny\[0\] "get pub\/secret\/\*\*" \(line \d+\)$/);
  assert.equal(line['rule'], 'rules[1].deny[0]');
  const fileserver = clients['fileserver']!.proc;
  const clientLine = await fileserver.waitForLog((l) => l['caller'] === 'server' && l['verb'] === 'delete', "the client's refusal line");
  assert.match(msg(clientLine), /^access rules refused delete 'files\/a' from 'server': refused: no rule allows it$/);

  const metrics = (await httpRequest({ port: server.gateway!.port }, { path: '/metrics' })).body.toString();
  const expected = CLIENT_TO_SERVER.filter(([caller, , , expect]) => caller === 'sensor-1' && expect === 'forbidden').length;
  assert.equal(metricValue(metrics, 'restpipe_rules_refused_total{caller="sensor-1"}'), expected);
  assert.equal(metricValue(metrics, 'restpipe_events_total{direction="inbound",outcome="forbidden"}') >= expected, true);
  const clientMetrics = (await httpRequest({ port: clients['fileserver']!.gateway!.port }, { path: '/metrics' })).body.toString();
  assert.equal(metricValue(clientMetrics, 'restpipe_rules_refused_total{caller="server"}'), 3);
});

test('audit mode refuses nothing and logs each would-be refusal', async () => {
  const sensor = clients['sensor']!.proc;
  assert.equal(verdict(await toClient('sensor', 'GET', 'time')), 'ok');
  assert.equal(verdict(await toClient('sensor', 'GET', 'whoami')), 'ok');
  assert.equal(verdict(await toClient('sensor', 'DELETE', 'whoami')), 'no_handler');
  const would = await sensor.waitForLog((l) => l['verb'] === 'delete' && l['audit'] === true, 'the audit line for delete');
  assert.equal(msg(would), "access rules would refuse delete 'whoami' from 'server': refused: no rule allows it (audit: let through)");
  assert.equal(would['level'], 30);
  assert.equal(sensor.log.filter((l) => l['audit'] === true && l['verb'] === 'get' && l['noun'] === 'whoami').length, 1);
  assert.equal(sensor.log.filter((l) => l['audit'] === true && l['noun'] === 'time').length, 0, 'get time is allowed: no line');
  const metrics = (await httpRequest({ port: clients['sensor']!.gateway!.port }, { path: '/metrics' })).body.toString();
  assert.equal(metricValue(metrics, 'restpipe_rules_audit_refusals_total{caller="server"}'), 2);
  assert.ok(Number.isNaN(metricValue(metrics, 'restpipe_rules_refused_total{caller="server"}')));
});

/** Waits for a log line of `p` after index `from`. */
function logAfter(p: CliProcess, from: number, match: (l: LogLine) => boolean, what: string): Promise<LogLine> {
  return p.waitForLog((l) => p.log.indexOf(l) >= from && match(l), what);
}

const reloaded = (l: LogLine): boolean => msg(l).startsWith('access rules reloaded from ');

test('SIGHUP reloads the rules (here a change the directory watch cannot see)', async () => {
  assert.equal(verdict(await toServer('sensor-1', 'GET', 'time')), 'ok');
  const from = server.proc.log.length;
  const next = { rules: [{ from: 'sensor-*', to: 'server', allow: ['post readings'] }] };
  await writeFile(join(rulesDir, 'elsewhere', 'server.json'), json(next));
  server.proc.signal('SIGHUP');
  const line = await logAfter(server.proc, from, reloaded, 'the reload line');
  assert.equal(line['count'], 1);
  assert.equal(verdict(await toServer('sensor-1', 'GET', 'time')), 'forbidden');
  assert.equal(verdict(await toServer('sensor-1', 'POST', 'readings')), 'no_handler');
});

test('a file renamed into place is reloaded without a signal', async () => {
  const from = server.proc.log.length;
  const tmp = join(rulesDir, 'watched', '.server.json.tmp');
  await writeFile(tmp, json(SERVER_RULES));
  await rename(tmp, join(rulesDir, 'watched', 'server.json'));
  await logAfter(server.proc, from, reloaded, 'the reload line');
  assert.equal(verdict(await toServer('sensor-1', 'GET', 'time')), 'ok');
  assert.equal(verdict(await toServer('sensor-1', 'GET', 'config')), 'forbidden');
});

test('a broken file keeps the rules in force and says what and where the problem is', async () => {
  const from = server.proc.log.length;
  const tmp = join(rulesDir, 'watched', '.server.json.tmp');
  await writeFile(tmp, '{\n  "rules": [\n    { "from": "sensor-*", "allow": ["fetch time"] }\n  ]\n}\n');
  await rename(tmp, join(rulesDir, 'watched', 'server.json'));
  const line = await logAfter(server.proc, from, (l) => msg(l).startsWith('access rules not reloaded'), 'the error line');
  assert.equal(line['level'], 50);
  assert.match(msg(line), /server\.json:3:\d+: rules\[0\]\.allow\[0\]: unknown verb "fetch"/);
  // One line per reload attempt (a watch may see a rename as more than one change): the same error line, nothing else.
  const lines = server.proc.log.slice(from).filter((l) => msg(l).startsWith('access rules'));
  assert.deepEqual([...new Set(lines.map(msg))], [msg(line)], 'one line, naming the problem');
  // The rules in force are those of the last good file.
  assert.equal(verdict(await toServer('sensor-1', 'GET', 'time')), 'ok');
  assert.equal(verdict(await toServer('sensor-1', 'GET', 'config')), 'forbidden');
  // SIGHUP with the file still broken: the same, once more.
  const from2 = server.proc.log.length;
  server.proc.signal('SIGHUP');
  await logAfter(server.proc, from2, (l) => msg(l).startsWith('access rules not reloaded'), 'the error line after SIGHUP');
  assert.equal(verdict(await toServer('sensor-1', 'GET', 'time')), 'ok');
});

test('a node started with a broken rules file prints one line naming the place and exits 2', async () => {
  const broken = join(rulesDir, 'broken.json');
  await writeFile(broken, '{ "rules": [ { "from": "sensor-*", "allow": ["get admin/**/x"] } ] }\n');
  const r = await runCli(['server', '--cert-dir', await pki.certDir('server', pki.server), '--listen', '127.0.0.1:0', '--no-http', '--rules', broken]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderrLines.length, 1, r.stderr);
  assert.match(r.stderr, /^restpipe: .*broken\.json:1:\d+: rules\[0\]\.allow\[0\]: /);
});
