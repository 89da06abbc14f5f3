import { dirname } from 'node:path';
import {
  DEFAULT_CERT_DAYS,
  initCaDir,
  issueInCaDir,
  listCaDir,
  parseRevocationReason,
  renewInCaDir,
  resignCaCrl,
  revokeInCaDir,
  type CrlSummary,
  type IndexedCertificate,
  type IssuedInCaDir,
  type KeyType,
} from '../../identity/index.js';
import { settingError } from '../config.js';

// `restpipe ca …` (SPEC §3, §11): flags parsed here, the work done by src/identity/ca-dir.ts,
// the result printed as the lines a user reads.

type Out = (line: string) => void;

export interface CaInitFlags {
  dir: string;
  cn?: string;
  days?: string;
  key?: string;
}

/** `restpipe ca init --dir DIR`: DIR/ca.key.pem (0600), DIR/ca.crt.pem and an empty DIR/index.json. */
export async function caInit(flags: CaInitFlags, out: Out): Promise<number> {
  const { keyPath, certPath } = await initCaDir(flags.dir, {
    ...(flags.cn === undefined ? {} : { cn: flags.cn }),
    ...(flags.days === undefined ? {} : { days: parseDays(flags.days) }),
    keyType: parseKeyType(flags.key),
  });
  out(`created CA key         ${keyPath} (mode 0600: keep it secret, keep it off the nodes)`);
  out(`created CA certificate ${certPath}`);
  return 0;
}

export interface CaIssueFlags {
  dir: string;
  san?: string;
  days?: string;
  key?: string;
}

/** `restpipe ca issue NAME --dir DIR`: DIR/NAME.key.pem (0600) and DIR/NAME.crt.pem, CN = NAME, recorded in the index. */
export async function caIssue(name: string, flags: CaIssueFlags, out: Out): Promise<number> {
  const sans = flags.san === undefined ? [] : flags.san.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const days = flags.days === undefined ? undefined : parseDays(flags.days);
  const keyType = parseKeyType(flags.key);
  const r = await issueInCaDir(flags.dir, name, { sans, keyType, ...(days === undefined ? {} : { days }) });
  printNotes(r.notes, out);
  out(`issued ${name}: key ${r.keyPath} (mode 0600), certificate ${r.certPath}`);
  printSans(r, out);
  printCapped(r, flags.days, out);
  return 0;
}

export interface CaRenewFlags {
  dir: string;
  keepKey?: boolean;
  days?: string;
}

/** `restpipe ca renew NAME --dir DIR [--keep-key] [--days N]`: a fresh certificate with the same SANs. */
export async function caRenew(name: string, flags: CaRenewFlags, out: Out): Promise<number> {
  const days = flags.days === undefined ? undefined : parseDays(flags.days);
  const r = await renewInCaDir(flags.dir, name, { keepKey: flags.keepKey === true, ...(days === undefined ? {} : { days }) });
  printNotes(r.notes, out);
  out(`renewed ${name}: certificate ${r.certPath} (serial ${r.entry.serial}, valid until ${r.entry.notAfter})`);
  out(flags.keepKey === true ? `  same key ${r.keyPath}` : `  new key ${r.keyPath} (mode 0600)`);
  printSans(r, out);
  printCapped(r, flags.days, out);
  out(`  the previous certificate (serial ${r.previous.serial}) stays valid until ${r.previous.notAfter}`);
  out(`  next, on the node ${name}: restpipe client set-identity ${r.keyPath} ${r.certPath} ${r.caCertPath}`);
  out(`  (server set-identity on the server node), then send the running node SIGHUP or restart it; once it runs the`);
  out(`  new certificate, the old one can go: restpipe ca revoke ${r.previous.serial} --dir ${dirname(r.certPath)} --reason superseded`);
  return 0;
}

export interface CaRevokeFlags {
  dir: string;
  reason?: string;
}

/** `restpipe ca revoke NAME|SERIAL --dir DIR [--reason R]`: into DIR/crl.pem (signed, created if missing). */
export async function caRevoke(target: string, flags: CaRevokeFlags, out: Out): Promise<number> {
  const reason = flags.reason === undefined ? 'unspecified' : parseRevocationReason(flags.reason, '--reason');
  const r = await revokeInCaDir(flags.dir, target, reason);
  printNotes(r.notes, out);
  for (const c of r.revoked) out(`revoked ${c.name === '' ? 'serial' : c.name} ${c.serial}${reason === 'unspecified' ? '' : ` (${reason})`}`);
  for (const c of r.alreadyRevoked) out(`already revoked: ${c.name} ${c.serial} on ${c.revoked!.date} (${c.revoked!.reason})`);
  if (r.crl !== undefined) printCrl(r.crl, out);
  else if (r.revoked.length === 0 && r.alreadyRevoked.length === 0) out(`nothing to revoke for ${target}`);
  return 0;
}

/** `restpipe ca crl --dir DIR`: re-signs DIR/crl.pem with a fresh nextUpdate (created empty if missing). */
export async function caCrl(flags: { dir: string }, out: Out): Promise<number> {
  const r = await resignCaCrl(flags.dir);
  printNotes(r.notes, out);
  printCrl(r.crl, out);
  return 0;
}

/** `restpipe ca list --dir DIR`: each certificate the CA issued, with its state, and the CRL's. */
export async function caList(flags: { dir: string }, out: Out): Promise<number> {
  const r = await listCaDir(flags.dir);
  printNotes(r.notes, out);
  if (r.certificates.length === 0) {
    out(`no certificates issued yet by the CA in ${r.dir}`);
  } else {
    const now = Date.now();
    const rows = [...r.certificates]
      .sort((a, b) => a.name.localeCompare(b.name) || a.notBefore.localeCompare(b.notBefore))
      .map((c) => [c.name, c.serial, c.notAfter, certificateState(c, now)]);
    const head = ['NAME', 'SERIAL', 'NOT AFTER', 'STATE'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
    for (const row of [head, ...rows]) out(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
  }
  if (r.crl === undefined) out(`no CRL yet: restpipe ca crl --dir ${r.dir} makes an empty one`);
  else printCrl(r.crl, out, 'CRL');
  return 0;
}

/** `valid`, `expired`, `revoked (reason, date)`, with `, renewed` for one a newer certificate replaced. */
export function certificateState(c: IndexedCertificate, now = Date.now()): string {
  if (c.revoked !== undefined) return `revoked (${c.revoked.reason}, ${c.revoked.date})`;
  const state = Date.parse(c.notAfter) <= now ? 'expired' : 'valid';
  return c.renewedBy === undefined ? state : `${state}, renewed (by ${c.renewedBy})`;
}

function printNotes(notes: string[], out: Out): void {
  for (const note of notes) out(note);
}

function printSans(r: IssuedInCaDir, out: Out): void {
  out(`  CN=${r.entry.name}; SANs: ${r.entry.sans.map((s) => s.replace(/^(DNS|IP):/, '')).join(', ')}`);
}

function printCapped(r: IssuedInCaDir, days: string | undefined, out: Out): void {
  if (r.issued.cappedAtCaExpiry) {
    out(`  note: valid until ${r.issued.notAfter.toISOString()}, not ${days ?? DEFAULT_CERT_DAYS} days: capped at the expiry of the CA ${r.caCertPath}`);
  }
}

function printCrl(crl: CrlSummary, out: Out, label = 'signed CRL'): void {
  const next = crl.nextUpdate === undefined ? '' : `, next update ${crl.nextUpdate.toISOString()}`;
  out(`${label} ${crl.path}: ${crl.revokedCount} revoked${next}`);
  if (crl.nextUpdate !== undefined && crl.nextUpdate.getTime() <= Date.now()) {
    out(`  past its next update: a server using it refuses every client (CRL_HAS_EXPIRED); re-sign it with restpipe ca crl --dir ${dirname(crl.path)}`);
  }
}

function parseDays(raw: string): number {
  const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1 || n > 36_500) throw settingError(`--days: expected a whole number of days from 1 to 36500, got ${JSON.stringify(raw)}`);
  return n;
}

function parseKeyType(raw: string | undefined): KeyType {
  if (raw === undefined || raw === 'ec') return 'ec';
  if (raw === 'rsa') return 'rsa';
  throw settingError(`--key: expected ec or rsa, got ${JSON.stringify(raw)}`);
}
