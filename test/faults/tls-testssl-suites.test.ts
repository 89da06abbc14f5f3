// testssl.sh against a running `restpipe server` (issue 13 item 4), protocols and suites: TLS 1.2
// and 1.3 only, and only AEAD suites, exactly those of src/tls-policy.ts. Before the hardening,
// the same scan found TLS 1.2 CBC suites with SHA-1 and SHA-2 MACs, CCM, CCM8 and ARIA on offer
// (16 suites); the vulnerability checks are in tls-testssl-vulns.test.ts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';

import { TLS12_CIPHERS, TLS13_CIPHERSUITES } from '../../src/tls-policy.js';
import { killAll } from '../helpers/cli-processes.js';
import { scanServer, testsslSkip as skip, type Scan } from '../helpers/testssl.js';

let scan: Scan | undefined;

before(async () => {
  if (skip === false) scan = await scanServer(['-p', '-e']);
});
after(async () => {
  await killAll();
  await scan?.pki.cleanup();
});

test('testssl.sh: TLS 1.2 and 1.3 offered, nothing older', { skip }, (t) => {
  const { byId } = scan!;
  t.diagnostic(`testssl.sh scan time: ${byId('scanTime')?.finding ?? '?'} s`);
  for (const id of ['SSLv2', 'SSLv3', 'TLS1', 'TLS1_1']) assert.match(byId(id)?.finding ?? '', /^not offered/, id);
  assert.match(byId('TLS1_2')?.finding ?? '', /^offered/);
  assert.match(byId('TLS1_3')?.finding ?? '', /^offered/);
});

test('testssl.sh: every suite offered is AEAD and in the policy; CBC, CCM, CCM8 and ARIA are not', { skip }, () => {
  // "xc02b ECDHE-ECDSA-AES128-GCM-SHA256 ECDH 253 AESGCM 128 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"
  const offered = scan!.findings.filter((f) => /^cipher_x[0-9a-f]+$/.test(f.id)).map((f) => f.finding.trim().split(/\s+/));
  const names = offered.map((cols) => cols[1]!);
  // The server's certificate is ECDSA, so the ECDHE-RSA suites of the policy cannot be chosen.
  const expected = [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS.filter((c) => c.startsWith('ECDHE-ECDSA'))];
  assert.deepEqual([...names].sort(), [...expected].sort(), `suites offered: ${names.join(', ')}`);
  for (const cols of offered) assert.match(cols[4]!, /^(AESGCM|ChaCha20)$/i, `non-AEAD encryption offered: ${cols.join(' ')}`);
});
