// Bad flags and values, as a user types them (SPEC §3): exactly one clear line on stderr that
// names the flag (or file) and the problem, nothing else, exit 2, and no node started.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { makePki, type Pki } from '../helpers/pki.js';
import { E2E_HANDLERS, killAll, runCli, tempDir } from '../helpers/cli-processes.js';

let pki: Pki;
let tmp: { dir: string; remove: () => Promise<void> };
let serverDir: string;
let clientDir: string;

before(async () => {
  pki = await makePki();
  tmp = await tempDir();
  serverDir = await pki.certDir('server', pki.server);
  clientDir = await pki.certDir('client', pki.client1);
  await writeFile(join(tmp.dir, 'unknown-key.json'), JSON.stringify({ 'heartbeat-intervall': 2 }));
  await writeFile(join(tmp.dir, 'bad-value.json'), JSON.stringify({ 'connect-wait': 'soon' }));
  await writeFile(join(tmp.dir, 'not-json.json'), '{ "listen": ');
  await writeFile(join(tmp.dir, 'no-methods.mjs'), 'export default { hello() { return 1; } };\n');
  await writeFile(join(tmp.dir, 'throws.mjs'), "throw new Error('the module failed to load');\n");
  await writeFile(join(tmp.dir, 'ctor-throws.mjs'), "export default class H { constructor() { throw new Error('no db'); } get_time() {} }\n");
});

after(async () => {
  await killAll();
  await pki?.cleanup();
  await tmp?.remove();
});

/** `@/NAME` in a case's arguments is NAME in the test's temporary directory. */
const t = (name: string) => `@/${name}`;

const CASES: Array<[string[], RegExp]> = [
  [['server', '--heartbeat-interval', 'abc'], /^restpipe: --heartbeat-interval: expected a positive number of seconds, got "abc"$/],
  [['client', '--heartbeat-interval', '5', '--heartbeat-timeout', '2'], /--heartbeat-timeout \(2 s\) must be greater than --heartbeat-interval \(5 s\)/],
  [['server', '--listen', 'nope'], /^restpipe: --listen: expected HOST:PORT/],
  [['client', '--server', 'localhost:99999'], /^restpipe: --server: port must be 0-65535/],
  [['server', '--max-body', '12XB'], /^restpipe: --max-body: expected a size in bytes/],
  [['client', '--log-level', 'loud'], /^restpipe: --log-level: expected one of/],
  [['server', '--tls-min', '1.1'], /^restpipe: --tls-min: expected 1\.2 or 1\.3, got "1\.1"$/],
  [['server', '--http', '0.0.0.0:1235'], /^restpipe: --http 0\.0\.0\.0:1235: not a loopback address.*--http-allow-remote$/],
  [['server', '--http', 'unix:'], /^restpipe: --http: unix: needs a socket path/],
  [['client', '--inspect', '--no-http'], /^restpipe: --inspect: the inspector is a page on the gateway, and --no-http turns the gateway off$/],
  [['server', '--inspect-events', '0'], /^restpipe: --inspect-events: expected a whole number from 1 to 50000, got 0$/],
  [['client', '--bogus'], /^restpipe: unknown option '--bogus' \(see: restpipe client --help\)$/],
  [['server', '--htp', '127.0.0.1:1'], /^restpipe: unknown option '--htp' \(Did you mean --http\?\)/],
  [['server', '--server', 'x:1'], /^restpipe: unknown option '--server'/],
  [['client', '--server'], /^restpipe: option '--server <host:port>' argument missing/],
  [['bogus'], /^restpipe: unknown command 'bogus' \(see: restpipe --help\)$/],
  [['ca', 'issue', 'x'], /^restpipe: required option '--dir <dir>' not specified/],
  [['ca', 'init', '--dir', t('ca'), '--key', 'dsa'], /argument 'dsa' is invalid/],
  [['ca', 'init', '--dir', t('ca'), '--days', 'lots'], /^restpipe: --days: expected a whole number of days/],
  [['ca', 'revoke', 'x', '--dir', t('ca'), '--reason', 'bogus'], /^restpipe: --reason: expected one of unspecified, keyCompromise, .*, got "bogus"$/],
  [['ca', 'renew', 'x', '--dir', t('ca'), '--days', '0'], /^restpipe: --days: expected a whole number of days from 1 to 36500, got "0"$/],
  [['ca', 'revoke', 'x'], /^restpipe: required option '--dir <dir>' not specified/],
  [['server', '--config', t('unknown-key.json')], /--config .*unknown-key\.json: unknown key "heartbeat-intervall"/],
  [['server', '--config', t('bad-value.json')], /bad-value\.json: "connect-wait": expected a non-negative number of seconds, got "soon"/],
  [['server', '--config', t('not-json.json')], /not-json\.json: not valid JSON/],
  [['server', '--config', t('missing.json')], /missing\.json: cannot read it \(ENOENT\)/],
  [['server', '--handlers', './no/such/module.js'], /^restpipe: --handlers \.\/no\/such\/module\.js: file not found/],
  [['server', '--handlers', 'no-such-package-restpipe-test'], /--handlers no-such-package-restpipe-test: no file or package/],
  [['client', '--handlers', `${E2E_HANDLERS}#Nope`], /--handlers test\/fixtures\/e2e-handlers\.js#Nope: the module has no export named 'Nope' \(exports: default\)/],
  [['server', '--handlers', t('no-methods.mjs')], /--handlers .*no-methods\.mjs: handler object has no handler methods .*found hello\(\)/],
  [['client', '--handlers', t('throws.mjs')], /--handlers .*throws\.mjs: cannot load the module: the module failed to load/],
  [['server', '--handlers', t('ctor-throws.mjs')], /--handlers .*ctor-throws\.mjs: constructing handler class H failed: Error: no db/],
  // Forwarding (issue 12, SPEC §10): a URL that is not http(s):// to a host, an empty prefix, no URL.
  [['client', '--forward', 'files=ftp://x'], /^restpipe: --forward\b.*ftp:\/\/x/],
  [['server', '--forward', '=http://x'], /^restpipe: --forward\b.*prefix/],
  [['client', '--forward', 'files'], /^restpipe: --forward\b.*\bfiles\b/],
  [['server', '--forward', 'files=http://'], /^restpipe: --forward\b.*"http:\/\/".*not a URL/],
  [['client', '--forward-timeout', 'soon'], /^restpipe: --forward-timeout\b.*"soon"/],
  [['server', '--forward', 'files=https://127.0.0.1:1/', '--forward-ca', t('no-such-ca.pem')], /^restpipe: forward CA file .*no-such-ca\.pem \(--forward-ca\): cannot read it \(ENOENT\)$/],
];

for (const [caseArgs, expected] of CASES) {
  test(`restpipe ${caseArgs.join(' ')}`, async () => {
    const args = caseArgs.map((a) => a.replace(/^@\//, `${tmp.dir}/`));
    const [role, ...rest] = args;
    // Everything else valid (cert dir, free ports) and given first, so that the case's own
    // flags win and only they can fail the start.
    const valid =
      role === 'server'
        ? ['--cert-dir', serverDir, '--listen', '127.0.0.1:0', '--http', '127.0.0.1:0']
        : role === 'client'
          ? ['--cert-dir', clientDir, '--server', 'localhost:1', '--http', '127.0.0.1:0']
          : [];
    const r = await runCli([role!, ...valid, ...rest], { timeoutMs: 10_000 });
    assert.equal(r.code, 2, `exit code\n${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.equal(r.stderrLines.length, 1, `exactly one line on stderr:\n${r.stderr}`);
    assert.match(r.stderrLines[0]!, expected);
  });
}
