// packaging/systemd/ against the CLI's flag table (src/cli/config.ts FLAGS): each example
// environment file names every variable of its role and only those, each value shown is one
// restpipe accepts, and each unit gives a stop time that covers the grace period. The units
// themselves are checked by systemd-analyze and run in test/e2e/package-install.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { FLAGS, resolveRunSettings, type FlagSpec, type Role } from '../../../src/cli/config.js';
import { CERT_DIR_ENV } from '../../../src/identity/cert-dir.js';
import {
  SYSTEMD_DIR,
  SYSUSERS_FILE,
  UNIT_ROLES,
  activeEnv,
  readEnvExample,
  readUnit,
  systemdSeconds,
  unitEnvironment,
  unitValue,
} from '../../helpers/systemd-files.js';

/** The variable an operator sets for a flag: its first name, or the role's cert path. */
function primaryEnv(spec: FlagSpec, role: Role): string | undefined {
  return spec.name === 'cert-dir' ? CERT_DIR_ENV[role] : spec.env[0];
}

/** Every variable restpipe ROLE reads, the original's split and alias names included. */
function envNamesOf(role: Role): Set<string> {
  const names = new Set<string>();
  for (const spec of FLAGS.filter((f) => f.roles.includes(role))) {
    for (const name of [...spec.env, ...(spec.alsoEnv ?? [])]) names.add(name);
  }
  names.delete(CERT_DIR_ENV[role === 'server' ? 'client' : 'server']);
  return names;
}

/**
 * What a stop takes besides the grace period: closing the pipes and gateway, and up to 2 s of
 * flushing the last replies before the process exits (EXIT_FLUSH_MS in src/cli/main.ts), with
 * room to spare. The units' comments and README promise TimeoutStopSec >= RP_GRACE + this.
 */
const STOP_MARGIN_S = 5;

for (const role of UNIT_ROLES) {
  test(`restpipe-${role}.env names every variable of \`restpipe ${role}\` and nothing else`, () => {
    const shown = new Set(readEnvExample(role).map((a) => a.name));
    const missing = FLAGS.filter((f) => f.roles.includes(role))
      .map((f) => primaryEnv(f, role))
      .filter((name): name is string => name !== undefined && !shown.has(name));
    assert.deepEqual(missing, [], `add a line for each to packaging/systemd/restpipe-${role}.env (a flag with no line is invisible to service users)`);
    const known = envNamesOf(role);
    assert.deepEqual([...shown].filter((n) => !known.has(n)), [], `restpipe ${role} does not read these`);
  });

  test(`every value shown in restpipe-${role}.env is accepted by restpipe ${role}, alone and as the file stands`, () => {
    for (const a of readEnvExample(role)) {
      assert.notEqual(a.value, '', `line ${a.line}: an empty value is ignored by restpipe, so it shows nothing`);
      assert.doesNotThrow(() => resolveRunSettings(role, {}, { [a.name]: a.value }), `line ${a.line}: ${a.name}=${a.value}`);
    }
    assert.doesNotThrow(() => resolveRunSettings(role, {}, activeEnv(readEnvExample(role))));
  });

  test(`restpipe-${role}.service: TimeoutStopSec covers RP_GRACE + ${STOP_MARGIN_S} s, reload is SIGHUP, stop is SIGTERM`, () => {
    const unit = readUnit(role);
    const settings = resolveRunSettings(role, {}, { ...unitEnvironment(unit), ...activeEnv(readEnvExample(role)) });
    const timeoutStopS = systemdSeconds(unitValue(unit, 'Service', 'TimeoutStopSec'));
    assert.ok(timeoutStopS >= settings.graceMs / 1000 + STOP_MARGIN_S, `TimeoutStopSec=${timeoutStopS} s, RP_GRACE=${settings.graceMs / 1000} s`);
    assert.equal(unitValue(unit, 'Service', 'KillSignal'), 'SIGTERM');
    assert.equal(unitValue(unit, 'Service', 'ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.ok(systemdSeconds(unitValue(unit, 'Service', 'RestartSec')) > 0, 'Restart= needs a delay');
    assert.equal(unitValue(unit, 'Service', 'Restart'), 'always');
  });

  test(`restpipe-${role}.service runs the installed binary as user restpipe with the original's cert dir`, () => {
    const unit = readUnit(role);
    // Not npx (it does not forward SIGTERM) and not a shell: the main PID must be restpipe.
    assert.equal(unitValue(unit, 'Service', 'ExecStart'), `restpipe ${role}`);
    assert.equal(unitValue(unit, 'Service', 'User'), 'restpipe');
    assert.equal(unitValue(unit, 'Service', 'StateDirectory'), 'restpipe');
    assert.equal(unitEnvironment(unit)[CERT_DIR_ENV[role]], '/var/lib/restpipe');
    assert.equal(unitValue(unit, 'Service', 'EnvironmentFile'), `-/etc/restpipe/${role}.env`);
  });
}

test('the two units use different runtime directories (systemd removes one when its unit stops)', () => {
  const [server, client] = UNIT_ROLES.map((role) => unitValue(readUnit(role), 'Service', 'RuntimeDirectory'));
  assert.notEqual(server, client);
  // README's nginx section uses /run/restpipe/gateway.sock for the server.
  assert.equal(server, 'restpipe');
});

test('the sysusers snippet declares the units’ user, with the cert dir as its home', () => {
  const lines = readFileSync(join(SYSTEMD_DIR, SYSUSERS_FILE), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'));
  assert.equal(lines.length, 1, lines.join('\n'));
  assert.match(lines[0]!, /^u restpipe - "[^"]+" \/var\/lib\/restpipe$/);
});
