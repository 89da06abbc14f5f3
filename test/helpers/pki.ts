// A throw-away PKI for tests, made by restpipe's own CA code (so every test that uses it also
// exercises src/identity). The certificates are generated once per process and cached; each
// makePki() call only writes them to a fresh directory.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type IdentityRole,
  type PemPair,
  createCa,
  createCrl,
  identityFileNames,
  issueCertificate,
} from '../../src/identity/index.js';

/** A CA as PEM text and as files. */
export interface PkiCa {
  keyPem: string;
  certPem: string;
  keyPath: string;
  certPath: string;
}

/** A leaf identity as PEM text and as files. */
export interface PkiIdentity {
  /** The CN. */
  name: string;
  keyPem: string;
  certPem: string;
  keyPath: string;
  certPath: string;
  serialHex: string;
  /** PEM of the CA that issued it. */
  caPem: string;
  /** `{ key, cert, ca }` for tls.createServer / tls.connect (ca = its own issuer). */
  tls: { key: string; cert: string; ca: string };
}

/** A CRL as PEM text and as a file. */
export interface PkiCrl {
  pem: string;
  path: string;
}

/** The whole test PKI; see {@link makePki}. */
export interface Pki {
  /** The fresh directory every file below lives in. */
  dir: string;
  ca: PkiCa;
  /** CN `server`; SANs server, localhost, 127.0.0.1, ::1; EKU serverAuth + clientAuth. */
  server: PkiIdentity;
  client1: PkiIdentity;
  client2: PkiIdentity;
  /** CN `expired1`, valid 2020-01-01 to 2020-02-01. */
  expired: PkiIdentity;
  /** CN `notyet1`, valid from 2099-01-01. */
  notYetValid: PkiIdentity;
  /** A second CA, unknown to everyone. */
  foreignCa: PkiCa;
  /** CN `client1` (the same as a real client), signed by the foreign CA. */
  foreignClient: PkiIdentity;
  /** A server certificate whose only SAN is `other.example` (CN `other.example`). */
  wrongNameServer: PkiIdentity;
  /** CN `wrongeku1`, EKU serverAuth only: refused as a client (INVALID_PURPOSE). */
  serverOnlyEku: PkiIdentity;
  /** CN `revoked1`, listed in {@link Pki.crl}. */
  revoked: PkiIdentity;
  /** CRL of the CA listing `revoked1`, next update in 7 days. */
  crl: PkiCrl;
  /** CRL of the CA listing `revoked1`, next update already past (CRL_HAS_EXPIRED). */
  staleCrl: PkiCrl;
  /**
   * Writes a role's installed files (`restpipe.ROLE.key.pem`, …, `ca.crt.pem`) for `id` into a
   * new directory under {@link Pki.dir}, without verifying them (so expired or foreign
   * identities can be placed too), and returns the directory. `ca` defaults to the main CA.
   */
  certDir(role: IdentityRole, id: PkiIdentity, ca?: PkiCa): Promise<string>;
  /** Removes {@link Pki.dir}. */
  cleanup(): Promise<void>;
}

interface Material {
  ca: PemPair;
  foreignCa: PemPair;
  leaves: Record<LeafKey, PemPair & { serialHex: string; name: string; issuer: 'ca' | 'foreignCa' }>;
  crl: string;
  staleCrl: string;
}

type LeafKey =
  | 'server'
  | 'client1'
  | 'client2'
  | 'expired'
  | 'notYetValid'
  | 'foreignClient'
  | 'wrongNameServer'
  | 'serverOnlyEku'
  | 'revoked';

const DAY_MS = 86_400_000;
let cached: Promise<Material> | undefined;

async function generate(): Promise<Material> {
  const [ca, foreignCa] = await Promise.all([createCa({ cn: 'restpipe-test-ca' }), createCa({ cn: 'foreign-ca' })]);
  const issue = async (
    name: string,
    issuer: 'ca' | 'foreignCa',
    extra: Omit<Parameters<typeof issueCertificate>[0], 'ca' | 'name'> = {},
  ): Promise<Material['leaves'][LeafKey]> => {
    const leaf = await issueCertificate({ ca: issuer === 'ca' ? ca : foreignCa, name, ...extra });
    return { ...leaf, name, issuer };
  };
  const entries = await Promise.all([
    issue('server', 'ca'),
    issue('client1', 'ca'),
    issue('client2', 'ca'),
    issue('expired1', 'ca', { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-02-01T00:00:00Z') }),
    issue('notyet1', 'ca', { notBefore: new Date('2099-01-01T00:00:00Z'), notAfter: new Date('2099-02-01T00:00:00Z') }),
    issue('client1', 'foreignCa'),
    issue('other.example', 'ca', { loopbackSans: false }),
    issue('wrongeku1', 'ca', { usage: 'server' }),
    issue('revoked1', 'ca'),
  ]);
  const keys: LeafKey[] = [
    'server',
    'client1',
    'client2',
    'expired',
    'notYetValid',
    'foreignClient',
    'wrongNameServer',
    'serverOnlyEku',
    'revoked',
  ];
  const leaves = Object.fromEntries(keys.map((k, i) => [k, entries[i]])) as Material['leaves'];
  const now = Date.now();
  const [crl, staleCrl] = await Promise.all([
    createCrl({ ca, revoked: [{ serialHex: leaves.revoked.serialHex }] }),
    createCrl({
      ca,
      revoked: [{ serialHex: leaves.revoked.serialHex }],
      thisUpdate: new Date(now - 2 * DAY_MS),
      nextUpdate: new Date(now - DAY_MS),
    }),
  ]);
  return { ca, foreignCa, leaves, crl, staleCrl };
}

/**
 * Makes (once per process) and writes (per call) a throw-away PKI into a fresh directory under
 * `parentDir` (default: the OS temp dir). Keys are written 0600. Call `cleanup()` in an `after`
 * hook.
 */
export async function makePki(parentDir?: string): Promise<Pki> {
  cached ??= generate();
  let m: Material;
  try {
    m = await cached;
  } catch (err) {
    cached = undefined; // let a later call try again rather than fail forever
    throw err;
  }
  if (parentDir !== undefined) await mkdir(parentDir, { recursive: true });
  const dir = await mkdtemp(join(parentDir ?? tmpdir(), 'restpipe-pki-'));

  const writePair = async (base: string, pair: PemPair): Promise<{ keyPath: string; certPath: string }> => {
    const keyPath = join(dir, `${base}.key.pem`);
    const certPath = join(dir, `${base}.crt.pem`);
    await writeFile(keyPath, pair.keyPem, { mode: 0o600 });
    await writeFile(certPath, pair.certPem, { mode: 0o644 });
    return { keyPath, certPath };
  };
  const ca: PkiCa = { ...m.ca, ...(await writePair('ca', m.ca)) };
  const foreignCa: PkiCa = { ...m.foreignCa, ...(await writePair('foreign-ca', m.foreignCa)) };

  const leaf = async (key: LeafKey): Promise<PkiIdentity> => {
    const l = m.leaves[key];
    const base = l.issuer === 'foreignCa' ? `foreign-${l.name}` : l.name;
    const caPem = l.issuer === 'ca' ? m.ca.certPem : m.foreignCa.certPem;
    return {
      name: l.name,
      keyPem: l.keyPem,
      certPem: l.certPem,
      serialHex: l.serialHex,
      caPem,
      tls: { key: l.keyPem, cert: l.certPem, ca: caPem },
      ...(await writePair(base, l)),
    };
  };
  const writeCrl = async (name: string, pem: string): Promise<PkiCrl> => {
    const path = join(dir, name);
    await writeFile(path, pem);
    return { pem, path };
  };

  let certDirs = 0;
  return {
    dir,
    ca,
    foreignCa,
    server: await leaf('server'),
    client1: await leaf('client1'),
    client2: await leaf('client2'),
    expired: await leaf('expired'),
    notYetValid: await leaf('notYetValid'),
    foreignClient: await leaf('foreignClient'),
    wrongNameServer: await leaf('wrongNameServer'),
    serverOnlyEku: await leaf('serverOnlyEku'),
    revoked: await leaf('revoked'),
    crl: await writeCrl('ca.crl.pem', m.crl),
    staleCrl: await writeCrl('ca.stale-crl.pem', m.staleCrl),
    async certDir(role, id, issuer = ca) {
      const target = join(dir, `certdir-${role}-${id.name}-${++certDirs}`);
      await mkdir(target, { mode: 0o700 });
      const names = identityFileNames(role);
      await writeFile(join(target, names.key), id.keyPem, { mode: 0o600 });
      await writeFile(join(target, names.cert), id.certPem, { mode: 0o644 });
      await writeFile(join(target, names.ca), issuer.certPem, { mode: 0o644 });
      return target;
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
