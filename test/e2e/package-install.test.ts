// The package as a user installs it, and the systemd units as systemd reads and runs them.
// `npm pack` of the repository is installed into an empty directory outside it, offline
// (helpers/package-install.ts); `npx restpipe demo --once` runs there. The same directory is
// then laid out as a machine's root with restpipe where `npm install -g` links it, for
// `systemd-analyze verify --root` and `systemd-sysusers --root`, and each unit's command line
// and environment are run from there as systemd would run them: the installed binary itself as
// the main process, SIGHUP for reload, SIGTERM for stop within TimeoutStopSec.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import { CERT_DIR_ENV } from 'restpipe/identity';
import { httpRequest } from '../helpers/gateway-http.js';
import {
  REPO_ROOT,
  clientReady,
  gatewayAddress,
  killAll,
  pipePort,
  runCommand,
  spawnCli,
  startedUp,
  tempDir,
  type CliProcess,
} from '../helpers/cli-processes.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { npmEnv, packAndInstall, type InstalledPackage } from '../helpers/package-install.js';

/** The inspector's page, read from the package at run time (SPEC §13). */
const INSPECT_ASSETS_DIR = join(REPO_ROOT, 'src', 'inspect', 'assets');
import {
  SYSTEMD_DIR,
  SYSUSERS_FILE,
  UNIT_ROLES,
  activeEnv,
  readEnvExample,
  readUnit,
  systemdSeconds,
  unitEnvironment,
  unitFileName,
  unitValue,
  type UnitRole,
} from '../helpers/systemd-files.js';

let tmp: Awaited<ReturnType<typeof tempDir>> | undefined;
let installed: InstalledPackage;
let pki: Pki | undefined;

before(async () => {
  tmp = await tempDir('restpipe-package-');
  installed = await packAndInstall(tmp.dir);
});

after(async () => {
  await killAll();
  await pki?.cleanup();
  await tmp?.remove();
});

const repoPackage = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
  bin: Record<string, string>;
  exports: Record<string, string | { default: string; types?: string }>;
};

test('the tarball holds the built code, the bins, the schema, the units and the README; nothing of tests, bench, fuzz or examples', () => {
  const allowed = [
    /^(README\.md|LICENSE(\.md|\.txt)?|package\.json)$/,
    /^bin\/[\w-]+\.js$/,
    /^proto\/[\w-]+\.proto$/,
    /^dist\/src\/.+\.(js|d\.ts|js\.map)$/,
    /^packaging\/systemd\/[\w.-]+$/,
    /^src\/inspect\/assets\/[\w-]+\.(html|css|js)$/,
  ];
  const files = installed.tarball.files;
  assert.deepEqual(files.filter((f) => !allowed.some((re) => re.test(f))), [], 'files a user does not need');
  const targets = Object.values(repoPackage.exports).flatMap((e) => (typeof e === 'string' ? [e] : [e.default, ...(e.types === undefined ? [] : [e.types])]));
  const required = [
    'package.json',
    'README.md',
    'proto/restpipe.proto',
    ...Object.values(repoPackage.bin),
    ...targets,
    ...readdirSync(SYSTEMD_DIR).map((f) => `packaging/systemd/${f}`),
    ...readdirSync(INSPECT_ASSETS_DIR).map((f) => `src/inspect/assets/${f}`),
  ].map((p) => p.replace(/^\.\//, ''));
  assert.deepEqual(required.filter((p) => !files.includes(p)), [], 'files the package needs');
});

test('npx restpipe demo --once runs from the installed package, outside the repository', async () => {
  assert.ok(!installed.dir.startsWith(REPO_ROOT), 'installed outside the repository');
  // --no: never download a package called restpipe; the installed one must be found.
  const r = await runCommand('npx', ['--no', '--offline', 'restpipe', 'demo', '--once'], { cwd: installed.dir, env: npmEnv(), timeoutMs: 60_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.filter((l) => /-> {2}200 \(return code 0\)/.test(l)).length, 4, r.stdout);
  assert.equal(lines.at(-1), 'demo: all 4 events answered through the gateways and the TLS pipe');
});

test('every export of the installed package loads, with the same names as the repository’s build', async () => {
  const subpaths = Object.keys(repoPackage.exports).filter((p) => p !== './package.json');
  const script = `
    const out = {};
    for (const sub of ${JSON.stringify(subpaths)}) {
      const spec = 'restpipe' + sub.slice(1);
      out[sub] = { file: import.meta.resolve(spec), names: Object.keys(await import(spec)).sort() };
    }
    console.log(JSON.stringify(out));`;
  const r = await runCommand(process.execPath, ['--input-type=module', '-e', script], { cwd: installed.dir });
  assert.equal(r.code, 0, r.stderr);
  const loaded = JSON.parse(r.stdout) as Record<string, { file: string; names: string[] }>;
  for (const sub of subpaths) {
    const entry = repoPackage.exports[sub]!;
    const target = typeof entry === 'string' ? entry : entry.default;
    const fromRepo = Object.keys((await import(join(REPO_ROOT, target))) as object).sort();
    assert.ok(loaded[sub]!.file.startsWith(`file://${installed.packageDir}/`), `${sub} resolved to ${loaded[sub]!.file}`);
    assert.deepEqual(loaded[sub]!.names, fromRepo, sub);
  }
});

// --- the install directory as a machine's root --------------------------------------------

/** Runs a systemd tool, failing clearly when it is not installed (CI's .ci/run installs systemd). */
function systemdTool(tool: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(tool, args, { encoding: 'utf8', timeout: 60_000 });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    assert.fail(`${tool} is not installed: install Debian's systemd package (.ci/run does) to check the units`);
  }
  if (r.error !== undefined) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

/**
 * Lays out the install directory as a root: npm's global layout (usr/lib/node_modules/restpipe,
 * linked as usr/bin/restpipe, as `npm install -g` does for a Node in /usr/bin), the units in
 * etc/systemd/system, this machine's systemd units (the targets ours depend on), and the other
 * programs the units name (/bin/kill). Only relative links, so they resolve inside the root.
 */
function machineRoot(): string {
  const root = installed.dir;
  if (existsSync(join(root, 'usr', 'bin', 'restpipe'))) return root;
  mkdirSync(join(root, 'usr', 'lib', 'node_modules'), { recursive: true });
  mkdirSync(join(root, 'usr', 'bin'), { recursive: true });
  mkdirSync(join(root, 'etc', 'systemd', 'system'), { recursive: true });
  symlinkSync('../../../node_modules/restpipe', join(root, 'usr', 'lib', 'node_modules', 'restpipe'));
  for (const [name, target] of Object.entries(repoPackage.bin)) {
    symlinkSync(`../lib/node_modules/restpipe/${target.replace(/^\.\//, '')}`, join(root, 'usr', 'bin', name));
  }
  symlinkSync('usr/bin', join(root, 'bin'));
  const hostUnits = ['/usr/lib/systemd/system', '/lib/systemd/system'].find((d) => existsSync(join(d, 'multi-user.target')));
  if (hostUnits === undefined) assert.fail('no systemd unit directory on this machine: install Debian\'s systemd package (.ci/run does)');
  cpSync(hostUnits, join(root, 'usr', 'lib', 'systemd', 'system'), { recursive: true, verbatimSymlinks: true });
  for (const role of UNIT_ROLES) {
    copyFileSync(join(SYSTEMD_DIR, unitFileName(role)), join(root, 'etc', 'systemd', 'system', unitFileName(role)));
    for (const program of execPrograms(role).filter((p) => p.startsWith('/'))) {
      if (!existsSync(program)) assert.fail(`${unitFileName(role)} runs ${program}, which this machine does not have (Debian: procps for /bin/kill; .ci/run installs it)`);
      if (!existsSync(join(root, program))) copyFileSync(program, join(root, program));
    }
  }
  return root;
}

/** The programs a unit's Exec*= lines run. */
function execPrograms(role: UnitRole): string[] {
  return ['ExecStart', 'ExecReload'].map((key) => unitValue(readUnit(role), 'Service', key).split(/\s+/)[0]!);
}

test('systemd-analyze verify accepts both units, with restpipe where npm install -g links it', () => {
  const root = machineRoot();
  const verify = (...units: string[]): { status: number | null; output: string } =>
    systemdTool('systemd-analyze', ['verify', `--root=${root}`, '--man=no', '--generators=no', ...units]);
  // verify exits 0 even for unknown keys and bad values, printing a warning; so the output must
  // be empty. A misspelt copy shows that the warnings do come out here.
  const unit = readFileSync(join(SYSTEMD_DIR, unitFileName('server')), 'utf8');
  writeFileSync(join(root, 'etc', 'systemd', 'system', 'restpipe-typo.service'), unit.replace(/^ProtectSystem=/m, 'ProtectSytem='));
  assert.match(verify('restpipe-typo.service').output, /Unknown key '?ProtectSytem'?/);
  const r = verify(...UNIT_ROLES.map(unitFileName));
  assert.deepEqual(r, { status: 0, output: '' });
});

test('systemd-sysusers creates the units’ user from the packaged snippet', () => {
  const root = machineRoot();
  mkdirSync(join(root, 'etc', 'sysusers.d'), { recursive: true });
  copyFileSync(join(SYSTEMD_DIR, SYSUSERS_FILE), join(root, 'etc', 'sysusers.d', 'restpipe.conf'));
  const r = systemdTool('systemd-sysusers', [`--root=${root}`]);
  assert.equal(r.status, 0, r.output);
  const user = readFileSync(join(root, 'etc', 'passwd'), 'utf8').split('\n').find((l) => l.startsWith('restpipe:'));
  assert.ok(user !== undefined, r.output);
  const [, , uid, gid, , home, shell] = user.split(':');
  assert.ok(Number(uid) > 0 && Number(uid) < 1000, `a system user: ${user}`);
  assert.equal(home, '/var/lib/restpipe');
  assert.match(shell!, /nologin$/);
  assert.ok(readFileSync(join(root, 'etc', 'group'), 'utf8').split('\n').includes(`restpipe:x:${gid}:`), 'its own group');
});

/**
 * Starts a unit's ExecStart= from the root: the bare name looked up where systemd looks, with
 * the unit's Environment=, the example environment file, and `overrides` (what an operator's
 * file would set on this machine), in the root directory systemd gives a service.
 */
function startUnit(role: UnitRole, overrides: Record<string, string>): CliProcess {
  const unit = readUnit(role);
  const [command, ...args] = unitValue(unit, 'Service', 'ExecStart').split(/\s+/);
  const searchPath = ['usr/local/sbin', 'usr/local/bin', 'usr/sbin', 'usr/bin'].map((d) => join(installed.dir, d, command!));
  const executable = command!.startsWith('/') ? join(installed.dir, command!) : searchPath.find((p) => existsSync(p));
  assert.ok(executable !== undefined, `${command} not found on systemd's search path`);
  const env = { ...unitEnvironment(unit), ...activeEnv(readEnvExample(role)), ...overrides };
  return spawnCli(args, { executable, env, cwd: '/', name: `restpipe-${role}.service` });
}

/** The program a process runs (its /proc exe link). */
const programOf = (pid: number): string => basename(readlinkSync(`/proc/${pid}/exe`));

test('the units’ commands run as systemd runs them: restpipe is the main process, answers both ways, survives SIGHUP, stops on SIGTERM', async () => {
  const root = machineRoot();
  pki = await makePki();
  const certDir = join(root, 'var', 'lib', 'restpipe');
  const restpipe = join(root, 'usr', 'bin', 'restpipe');
  // The identities go in as README's "Install on a server" does it, with the installed binary.
  for (const [role, id] of [['server', pki.server], ['client', pki.client1]] as const) {
    const p = spawnCli([role, 'set-identity', id.keyPath, id.certPath, pki.ca.certPath, '--cert-dir', certDir], { executable: restpipe });
    assert.equal((await p.waitForExit(20_000)).code, 0, p.dump());
  }

  const server = startUnit('server', { [CERT_DIR_ENV.server]: certDir, RP_LISTEN: '127.0.0.1:0', RP_HTTP: '127.0.0.1:0' });
  const port = await pipePort(server, 20_000);
  const serverGateway = await gatewayAddress(server, 20_000);
  await startedUp(server, 20_000);
  const client = startUnit('client', { [CERT_DIR_ENV.client]: certDir, RP_SERVER: `localhost:${port}`, RP_HTTP: '127.0.0.1:0' });
  const clientGateway = await gatewayAddress(client, 20_000);
  await clientReady(client, 20_000);

  // The main PID is node running restpipe: the #! line's env replaced itself, no shell or npm between.
  for (const p of [server, client]) assert.match(programOf(p.pid), /^node/, p.name);

  const toServer = await httpRequest({ port: clientGateway.port }, { path: '/server/time' });
  assert.equal(toServer.status, 200, toServer.body.toString());
  const toClient = await httpRequest({ port: serverGateway.port }, { path: `/client/${pki.client1.name}/time` });
  assert.equal(toClient.status, 200, toClient.body.toString());

  // ExecReload: the server re-reads its CRL (none here, and it says so); the client ignores it.
  // Had SIGHUP killed either, the exit below would be by SIGHUP, not 0 after SIGTERM.
  server.signal('SIGHUP');
  await server.waitForLog((l) => l['msg'] === 'no --crl configured: nothing to reload', 'the reload line');
  client.signal('SIGHUP');

  for (const p of [client, server]) {
    const role = p === server ? 'server' : 'client';
    const timeoutStopMs = systemdSeconds(unitValue(readUnit(role), 'Service', 'TimeoutStopSec')) * 1000;
    p.signal(unitValue(readUnit(role), 'Service', 'KillSignal') as NodeJS.Signals);
    assert.deepEqual(await p.waitForExit(timeoutStopMs), { code: 0, signal: null }, p.dump());
    assert.ok(p.log.some((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('stopped: drained')), p.dump());
  }
});
