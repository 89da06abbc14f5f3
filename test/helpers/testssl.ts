// testssl.sh (Debian package `testssl.sh`; CI's .ci/run installs it) against a running
// `restpipe server`, for the TLS hardening tests (issue 13 item 4). Each scan runs offline: no
// DNS (--nodns none), and testssl contacts nothing but the target by default. --fast makes -e
// try the suites through the local openssl (~80 of them) instead of its own ClientHellos (370):
// a third of the time, and as complete here, since the server's suites come from OpenSSL too
// (a scan of Node's default suites finds the same 16 either way).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { makePki, type Pki } from './pki.js';
import { FAST_FLAGS, startServer } from './cli-processes.js';

/** The testssl.sh executable, if installed. */
export const TESTSSL = ['/usr/bin/testssl', '/usr/bin/testssl.sh', '/usr/local/bin/testssl.sh'].find((p) => existsSync(p));
/** `skip` for node:test: a reason when testssl.sh is missing. */
export const testsslSkip: string | false =
  TESTSSL === undefined ? 'testssl.sh is not installed (Debian package testssl.sh; .ci/run installs it)' : false;

/**
 * A bound on one scan. Each takes about a minute on a busy 2-core machine; the test runner allows
 * a whole file 180 s, which is why the checks are split over two files.
 */
const SCAN_TIMEOUT_MS = 160_000;

/** One line of testssl's flat JSON output (--jsonfile). */
export interface Finding {
  id: string;
  severity: string;
  finding: string;
}

/** A finished scan of a fresh server. */
export interface Scan {
  pki: Pki;
  /** The server's pipe port. */
  port: number;
  findings: Finding[];
  byId(id: string): Finding | undefined;
}

/**
 * Starts `restpipe server` (the test PKI's ECDSA server identity) and runs testssl.sh with
 * `checks` (e.g. `['-p', '-e']`) against its pipe port. The caller kills the processes
 * (killAll) and removes the PKI.
 */
export async function scanServer(checks: string[]): Promise<Scan> {
  const pki = await makePki();
  const server = await startServer(await pki.certDir('server', pki.server), [...FAST_FLAGS, '--no-http']);
  const port = server.pipePort;
  const jsonFile = join(pki.dir, 'testssl.json');
  const args = [
    '--quiet', '--color', '0', '--warnings', 'off', '--nodns', 'none', '--fast',
    // The CA is private: without it every certificate finding is "chain of trust NOT ok".
    '--add-ca', pki.ca.certPath,
    ...checks,
    '--jsonfile', jsonFile,
    `127.0.0.1:${port}`,
  ];
  const scan = spawn(TESTSSL!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  scan.stdout.on('data', (c: Buffer) => (output += c.toString()));
  scan.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const timer = setTimeout(() => scan.kill('SIGKILL'), SCAN_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => scan.once('close', resolve));
  clearTimeout(timer);
  assert.notEqual(code, null, `testssl.sh did not finish within ${SCAN_TIMEOUT_MS} ms:\n${output}`);
  const findings = JSON.parse(await readFile(jsonFile, 'utf8')) as Finding[];
  assert.ok(findings.some((f) => f.id === 'scanTime'), `testssl.sh finished its scan:\n${output}`);
  return { pki, port, findings, byId: (id) => findings.find((f) => f.id === id) };
}
