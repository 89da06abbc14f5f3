import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { IdentityError } from '../../errors.js';
import { DEFAULT_CERT_DAYS, createCa, issueCertificate, writeKeyPair, type KeyType } from '../../identity/index.js';
import { settingError } from '../config.js';

export interface CaInitFlags {
  dir: string;
  cn?: string;
  days?: string;
  key?: string;
}

/** `restpipe ca init --dir DIR`: DIR/ca.key.pem (0600) and DIR/ca.crt.pem. */
export async function caInit(flags: CaInitFlags, out: (line: string) => void): Promise<number> {
  const pair = await createCa({
    ...(flags.cn === undefined ? {} : { cn: flags.cn }),
    ...(flags.days === undefined ? {} : { days: parseDays(flags.days) }),
    keyType: parseKeyType(flags.key),
  });
  const { keyPath, certPath } = await writeKeyPair(flags.dir, 'ca', pair);
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

/** `restpipe ca issue NAME --dir DIR`: DIR/NAME.key.pem (0600) and DIR/NAME.crt.pem, CN = NAME. */
export async function caIssue(name: string, flags: CaIssueFlags, out: (line: string) => void): Promise<number> {
  const dir = resolve(flags.dir);
  const ca = {
    keyPem: await readCaFile(join(dir, 'ca.key.pem')),
    certPem: await readCaFile(join(dir, 'ca.crt.pem')),
    keyPath: join(dir, 'ca.key.pem'),
    certPath: join(dir, 'ca.crt.pem'),
  };
  const caNotAfter = caExpiry(ca.certPem);
  if (caNotAfter !== undefined && caNotAfter.getTime() <= Date.now()) {
    throw new IdentityError(ca.certPath, `the CA expired on ${caNotAfter.toISOString()}: nothing it signs would be trusted; make a new one with restpipe ca init`);
  }
  const sans = flags.san === undefined ? [] : flags.san.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const issued = await issueCertificate({
    ca,
    name,
    sans,
    ...(flags.days === undefined ? {} : { days: parseDays(flags.days) }),
    keyType: parseKeyType(flags.key),
  });
  const { keyPath, certPath } = await writeKeyPair(dir, name, issued);
  out(`issued ${name}: key ${keyPath} (mode 0600), certificate ${certPath}`);
  out(`  CN=${name}; SANs: ${[name, ...sans, 'localhost', '127.0.0.1', '::1'].filter((v, i, a) => a.indexOf(v) === i).join(', ')}`);
  if (issued.cappedAtCaExpiry) {
    out(`  note: valid until ${issued.notAfter.toISOString()}, not ${flags.days ?? DEFAULT_CERT_DAYS} days: capped at the expiry of the CA ${ca.certPath}`);
  }
  return 0;
}

/** The CA certificate's notAfter; undefined when it does not parse (issueCertificate says why). */
function caExpiry(pem: string): Date | undefined {
  try {
    return new Date(new X509Certificate(pem).validTo);
  } catch {
    return undefined;
  }
}

async function readCaFile(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new IdentityError(path, code === 'ENOENT' ? 'not found: run `restpipe ca init --dir DIR` first' : `cannot read it (${code})`);
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
