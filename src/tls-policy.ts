import { constants as cryptoConstants } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';
import { invalidOption } from './options/validate.js';

/**
 * What the pipe port offers, on both ends (the server's acceptor and the client's connector):
 * Mozilla's "intermediate" configuration without its DHE suites (guidelines 5.7/5.8,
 * ssl-config.mozilla.org), i.e. TLS 1.3, and for TLS 1.2 only ECDHE key exchange with AEAD
 * ciphers. Node's defaults also offer TLS 1.2 CBC suites with SHA-1/SHA-2 MACs (LUCKY13), CCM,
 * CCM8 (a 64-bit tag) and ARIA, which a testssl.sh scan reported (test/faults/tls-testssl.test.ts).
 */

/** The lowest TLS version the pipe accepts. */
export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3';

/** @default TLS 1.2: TLS 1.3 is still preferred whenever both ends have it. */
export const DEFAULT_TLS_MIN_VERSION: TlsMinVersion = 'TLSv1.2';

/** TLS 1.3 suites (Mozilla modern and intermediate): AES-GCM and ChaCha20-Poly1305; no CCM. */
export const TLS13_CIPHERSUITES: readonly string[] = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

/**
 * TLS 1.2 suites (OpenSSL names), Mozilla intermediate's ECDHE ones in its order: forward
 * secrecy, AEAD only. Its DHE-RSA suites are left out: restpipe's certificates are ECDSA by
 * default, and finite-field DH only adds handshake cost.
 */
export const TLS12_CIPHERS: readonly string[] = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];

/** Key-exchange groups, Mozilla's `tls_curves`: X25519, P-256, P-384 (not P-521, X448, ffdhe). */
export const TLS_GROUPS = 'X25519:P-256:P-384';

/**
 * The TLS options both ends of a pipe use: versions, suites, groups, and no renegotiation
 * (TLS 1.2 client-initiated renegotiation costs the server a handshake per request: testssl.sh
 * rates it a DoS risk; TLS 1.3 has none). Node's `ciphers` option sets the TLS 1.3 suites from
 * the `TLS_` names and the TLS 1.2 list from the others.
 */
export function pipeTlsOptions(minVersion: TlsMinVersion = DEFAULT_TLS_MIN_VERSION): Pick<
  SecureContextOptions,
  'minVersion' | 'ciphers' | 'ecdhCurve' | 'secureOptions'
> {
  return {
    minVersion,
    ciphers: [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(':'),
    ecdhCurve: TLS_GROUPS,
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
  };
}

/**
 * `--tls-min` as given (`1.2`, `1.3`, or Node's `TLSv1.2` / `TLSv1.3`) → a {@link TlsMinVersion}.
 * @throws RestpipeError `invalid_option` naming `where` for anything else.
 */
export function parseTlsMinVersion(raw: string, where: string): TlsMinVersion {
  const t = raw.trim().replace(/^TLSv?/i, '');
  if (t === '1.2') return 'TLSv1.2';
  if (t === '1.3') return 'TLSv1.3';
  throw invalidOption(`${where}: expected 1.2 or 1.3, got ${JSON.stringify(raw)}`);
}

/** Checks a library caller's `tlsMinVersion`. @throws RestpipeError `invalid_option`. */
export function tlsMinVersionOption(value: unknown): TlsMinVersion {
  if (value === undefined) return DEFAULT_TLS_MIN_VERSION;
  if (value === 'TLSv1.2' || value === 'TLSv1.3') return value;
  throw invalidOption(`tlsMinVersion must be 'TLSv1.2' or 'TLSv1.3', got ${JSON.stringify(value)}`);
}
