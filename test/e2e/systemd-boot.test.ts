// Opt-in (RESTPIPE_SYSTEMD_BOOT=1; root and Debian's systemd-container): the units under a real
// systemd. `systemd-nspawn --volatile=yes` boots this machine's /usr as a throw-away container
// (fresh /etc, /var and /run in memory; a network namespace of its own with only loopback), with
// the packed restpipe laid out as `npm install -g` lays it out. A oneshot unit there runs
// README's `# readme-install` blocks as written (for the server, then with `client` for
// `server`), starts both units and checks what package-install.test.ts can only emulate:
// systemd's own user, directories, main PID, reload, restart after a crash, a unix-socket
// gateway, and a stop that drains an event in flight. Not in the default run: booting a
// container needs privileges CI machines may lack, and half a minute.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { tempDir } from '../helpers/cli-processes.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { packAndInstall, type InstalledPackage } from '../helpers/package-install.js';
import { markedBlocks, readReadme } from '../helpers/readme.js';

const enabled = process.env['RESTPIPE_SYSTEMD_BOOT'] === '1';
const skip = enabled ? false : 'set RESTPIPE_SYSTEMD_BOOT=1 (as root, with systemd-nspawn) to boot the units under systemd';

let tmp: Awaited<ReturnType<typeof tempDir>> | undefined;
let installed: InstalledPackage;
let pki: Pki | undefined;

before(async () => {
  if (!enabled) return;
  tmp = await tempDir('restpipe-boot-');
  installed = await packAndInstall(join(tmp.dir, 'install'));
  pki = await makePki();
});

after(async () => {
  await pki?.cleanup();
  await tmp?.remove();
});

/** The check the container runs: one `ok NAME` or `not ok NAME: …` line per check on /out/result. */
function checkScript(installBlocks: string[][]): string {
  const block = (lines: string[], role: 'server' | 'client'): string =>
    (role === 'server' ? lines : lines.map((l) => l.replaceAll('server', 'client'))).join('\n');
  return `#!/bin/bash
exec 3>/out/result 2>/out/trace
set -x
check() { local name=$1; shift; if "$@"; then echo "ok $name" >&3; else echo "not ok $name: $*" >&3; fi; }
# README's sudo: as root here, or as the user named by -u (no sudo in a bare container).
sudo() { if [ "$1" = -u ]; then local u=$2; shift 2; setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"; else "$@"; fi; }
answers() { for _ in $(seq 1 100); do curl -m 2 -sf "$@" >/dev/null && return 0; sleep 0.1; done; return 1; }
active() { [ "$(systemctl is-active "$1")" = active ]; }
main_pid() { systemctl show -p MainPID --value "$1"; }

# A fresh /etc lacks what a Debian system has there.
mkdir -p /etc/sysusers.d
# Step 2 for each role, then step 3 from the directory holding the node's files.
( ${block(installBlocks[0]!, 'server')} )
( ${block(installBlocks[0]!, 'client')} )
check sysusers-made-the-user id restpipe
( cd /out/pki && ${block(installBlocks[1]!, 'server')} )
( cd /out/pki && ${block(installBlocks[1]!, 'client')} )
check identity-owned-by-restpipe test "$(stat -c %U:%a /var/lib/restpipe/restpipe.server.key.pem)" = restpipe:600
# "then edit it": the client dials the server on this machine; its handlers have a slow event.
sed -i 's/^RP_SERVER=.*/RP_SERVER=localhost:1234/' /etc/restpipe/client.env
echo 'RP_HANDLERS=/out/slow-handlers.js' >> /etc/restpipe/client.env

systemctl enable --now restpipe-server restpipe-client
check client-to-server answers http://127.0.0.1:1236/server/time
check server-to-client answers http://127.0.0.1:1235/client/client1/time
pid=$(main_pid restpipe-server)
check main-pid-is-node test "$(basename "$(readlink /proc/$pid/exe)")" = node
check runs-as-restpipe test "$(stat -c %U /proc/$pid)" = restpipe
check state-dir test "$(stat -c %U:%a /var/lib/restpipe)" = restpipe:700
check runtime-dirs test "$(stat -c %U:%a /run/restpipe):$(stat -c %U:%a /run/restpipe-client)" = restpipe:750:restpipe:750
systemctl reload restpipe-server restpipe-client
check reload-logged timeout 5 sh -c 'until journalctl -u restpipe-server -o cat | grep -q "nothing to reload"; do sleep 0.1; done'
check reload-keeps-server test "$(main_pid restpipe-server)" = "$pid"
check reload-keeps-client active restpipe-client
kill -9 "$pid"
check restarted-after-crash timeout 15 sh -c 'until [ "$(systemctl show -p NRestarts --value restpipe-server)" = 1 ] && systemctl is-active -q restpipe-server; do sleep 0.2; done'
mkdir -p /run/systemd/system/restpipe-server.service.d
printf '[Service]\\nEnvironment=RP_HTTP=unix:/run/restpipe/gateway.sock\\n' > /run/systemd/system/restpipe-server.service.d/unix.conf
systemctl daemon-reload && systemctl restart restpipe-server
check unix-socket-gateway answers --unix-socket /run/restpipe/gateway.sock http://localhost/client/client1/time
check unix-socket-mode test "$(stat -c %U:%G:%a /run/restpipe/gateway.sock)" = restpipe:restpipe:660
curl -s -m 20 -o /out/slow-reply -w '%{http_code}' --unix-socket /run/restpipe/gateway.sock http://localhost/client/client1/slow > /out/slow-status &
timeout 5 sh -c 'until journalctl -u restpipe-client -o cat | grep -q slow-started; do sleep 0.1; done'
systemctl stop restpipe-client
wait
check stop-drained-the-event test "$(cat /out/slow-status)" = 200
check stop-logged journalctl -u restpipe-client -o cat --grep 'stopped: drained 1 in-flight event'
check stop-exit-0 test "$(systemctl show -p Result --value restpipe-client):$(systemctl show -p ExecMainStatus --value restpipe-client)" = success:0
systemctl stop restpipe-server
check runtime-dir-removed test ! -e /run/restpipe
journalctl -u restpipe-server -u restpipe-client -o cat > /out/journal
echo done >&3
`;
}

test('under systemd: README’s install steps, start, reload, crash, unix socket, drain on stop', { skip }, () => {
  const dir = tmp!.dir;
  const out = join(dir, 'out');
  mkdirSync(join(out, 'pki'), { recursive: true });
  // The node's files, named as README's step 3 has them (server.*.pem, then client.*.pem).
  for (const [role, id] of [['server', pki!.server], ['client', pki!.client1]] as const) {
    copyFileSync(id.keyPath, join(out, 'pki', `${role}.key.pem`));
    copyFileSync(id.certPath, join(out, 'pki', `${role}.crt.pem`));
  }
  copyFileSync(pki!.ca.certPath, join(out, 'pki', 'ca.crt.pem'));
  writeFileSync(
    join(out, 'slow-handlers.js'),
    `export default {
  get_time() { return { now: Date.now() }; },
  async get_slow() { console.error('slow-started'); await new Promise((r) => setTimeout(r, 2000)); return { slow: 'done' }; },
};\n`,
  );
  const blocks = markedBlocks(readReadme(), 'readme-install');
  assert.equal(blocks.length, 2, 'README has the two # readme-install blocks (the unit, the identity)');
  writeFileSync(join(out, 'check.sh'), checkScript(blocks), { mode: 0o755 });
  // What `npm install -g` makes for a Node in /usr/bin, as an overlay on this machine's /usr.
  const upper = join(dir, 'usr-upper');
  mkdirSync(join(upper, 'bin'), { recursive: true });
  mkdirSync(join(upper, 'lib', 'node_modules'), { recursive: true });
  symlinkSync('/opt/restpipe-install/node_modules/restpipe', join(upper, 'lib', 'node_modules', 'restpipe'));
  symlinkSync('../lib/node_modules/restpipe/bin/restpipe.js', join(upper, 'bin', 'restpipe'));
  const checkUnit = join(dir, 'rp-check.service');
  writeFileSync(checkUnit, '[Unit]\nAfter=multi-user.target\n[Service]\nType=oneshot\nExecStart=/out/check.sh\nExecStopPost=/usr/bin/systemctl poweroff --no-block\n');
  // A machine ID, so that the boot is not a first boot (which would enable every installed unit).
  const machineId = join(dir, 'machine-id');
  writeFileSync(machineId, `${randomBytes(16).toString('hex')}\n`);

  const r = spawnSync(
    'systemd-nspawn',
    [
      '--quiet', '--register=no', '--keep-unit', '--directory=/', '--volatile=yes', '--private-network',
      `--machine=restpipe-boot-${process.pid}`,
      `--bind=${out}:/out`,
      `--bind-ro=${installed.dir}:/opt/restpipe-install`,
      `--overlay=/usr:${upper}:/usr`,
      `--bind-ro=${checkUnit}:/etc/systemd/system/rp-check.service`,
      `--bind-ro=${machineId}:/etc/machine-id`,
      '--bind-ro=/etc/hosts', '--bind-ro=/etc/nsswitch.conf',
      // systemd.wants= on its command line: the check runs once the container has booted.
      '--boot', 'systemd.wants=rp-check.service',
    ],
    // Below the test runner's 180 s per file; on timeout nspawn gets SIGTERM and halts the container.
    { encoding: 'utf8', timeout: 150_000 },
  );
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') assert.fail('systemd-nspawn is not installed (Debian: systemd-container)');
  const result = readFileSync(join(out, 'result'), 'utf8').trim().split('\n');
  const context = `${result.join('\n')}\n--- journal ---\n${readOr(join(out, 'journal'))}\n--- trace ---\n${readOr(join(out, 'trace'))}\n--- nspawn ---\n${r.stdout}${r.stderr}`;
  assert.equal(result.at(-1), 'done', context);
  assert.deepEqual(result.filter((l) => !l.startsWith('ok ') && l !== 'done'), [], context);
  assert.ok(result.length >= 18, context);
});

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '(none)';
  }
}
