// A real browser for the e2e tests: Debian's chromium (`command -v chromium`; CI's .ci/run
// installs it) driven by playwright-core, never a downloaded browser. Where it is missing the
// tests skip saying why, except in CI (CI set), where a missing browser is a failure.
import { execFileSync } from 'node:child_process';

import { chromium, type Browser } from 'playwright-core';

function findChromium(): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The chromium binary, if installed. */
export const CHROMIUM = findChromium();
const MISSING = 'chromium is not installed (`command -v chromium` finds nothing): apt-get install chromium (.ci/run does)';
if (CHROMIUM === undefined && process.env['CI'] !== undefined) throw new Error(`browser test: ${MISSING}`);
/** `skip` for node:test: false when chromium is there, else the reason. */
export const skipWithoutChromium: string | false = CHROMIUM === undefined ? MISSING : false;

/** Launches headless chromium with a fresh profile (removed on close) and nothing talking to the network on its own. */
export function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM!,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', ...extraArgs],
  });
}
