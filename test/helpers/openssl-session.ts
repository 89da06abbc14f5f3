// `openssl s_client` as an independent TLS client for the resumption tests (issue 14): it saves a
// session with -sess_out and offers it again with -sess_in, so what the server does with a
// resumed session is seen from a client restpipe did not write. The pipe server closes these
// connections itself (no hello comes, or the certificate is refused), which ends s_client.
import { execFile } from 'node:child_process';

import type { PkiCa, PkiIdentity } from './pki.js';

/** What s_client reported of one connection. */
export interface SClientResult {
  /** 'New' for a full handshake, 'Reused' for a resumed session; undefined when no handshake finished. */
  handshake: 'New' | 'Reused' | undefined;
  /** The protocol of the session summary, e.g. TLSv1.3. */
  protocol: string | undefined;
  output: string;
}

/**
 * Connects to a pipe port as `id` and waits until the server closes the connection (`-ign_eof`),
 * up to `timeoutMs`. With `sessOut`, the session the server issued is written there; with
 * `sessIn`, that session is offered.
 */
export function sClient(
  port: number,
  id: PkiIdentity,
  ca: PkiCa,
  { sessOut, sessIn, timeoutMs = 10_000 }: { sessOut?: string; sessIn?: string; timeoutMs?: number },
): Promise<SClientResult> {
  const args = ['s_client', '-connect', `127.0.0.1:${port}`, '-servername', 'localhost', '-CAfile', ca.certPath, '-cert', id.certPath, '-key', id.keyPath, '-ign_eof'];
  if (sessOut !== undefined) args.push('-sess_out', sessOut);
  if (sessIn !== undefined) args.push('-sess_in', sessIn);
  return new Promise((resolve, reject) => {
    const child = execFile('openssl', args, { timeout: timeoutMs, encoding: 'latin1', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const output = `${stdout}\n${stderr}`;
      // s_client exits 1 when the server closes first; only a missing binary or a timeout is a failure here.
      if (err !== null && (err as NodeJS.ErrnoException).code === 'ENOENT') return reject(new Error('openssl is not installed'));
      if (err !== null && err.killed) return reject(new Error(`openssl s_client did not finish within ${timeoutMs} ms:\n${output}`));
      const m = /^(New|Reused), (TLSv[\d.]+)/m.exec(output);
      resolve({ handshake: m?.[1] as SClientResult['handshake'], protocol: m?.[2], output });
    });
    child.stdin?.end();
  });
}
