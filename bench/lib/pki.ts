// The benchmark's PKI: one CA, a server identity, a client identity for the pairwise variants,
// and N distinct client identities for the scale and reconnect-storm runs (each pipe needs its
// own CN: a second pipe with the same CN replaces the first, SPEC §6). Made by restpipe's own
// identity code and cached on disk, because 5,000 certificates take a while.
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { createCa, issueCertificate } from '../../src/identity/index.js';

export interface BenchIdentity {
  name: string;
  keyPem: string;
  certPem: string;
}

export interface BenchPki {
  version: 1;
  createdAt: string;
  ca: { keyPem: string; certPem: string };
  server: BenchIdentity;
  client: BenchIdentity;
  /** Distinct client identities `bench-c00000`, `bench-c00001`, … */
  clients: BenchIdentity[];
}

const DAY_MS = 86_400_000;

export function scaleClientName(i: number): string {
  return `bench-c${String(i).padStart(5, '0')}`;
}

/** Reads the PKI file a child was given. */
export function readPki(path: string): BenchPki {
  return JSON.parse(readFileSync(path, 'utf8')) as BenchPki;
}

/** The file beside `path` holding the same PKI without the scale clients (see {@link readNodePki}). */
export function nodePkiPath(path: string): string {
  return path.replace(/(\.json)?$/, '.nodes.json');
}

/**
 * The CA, server and pairwise client identities of the PKI at `path`, read from the small file
 * {@link ensurePki} writes beside it. A restarted server in the reconnect storm reads only this:
 * parsing the 5,000 scale identities (~10 MB of JSON) took the storm's server ~0.3 s of CPU
 * between its spawn and its listening, time the benchmark would have charged to restpipe.
 */
export function readNodePki(path: string): BenchPki {
  try {
    return JSON.parse(readFileSync(nodePkiPath(path), 'utf8')) as BenchPki;
  } catch {
    return readPki(path);
  }
}

/**
 * Makes sure `path` holds a PKI with at least `clientCount` scale clients, generating what is
 * missing (all of it when the file is absent, unreadable or its CA expires within 30 days).
 */
export async function ensurePki(path: string, clientCount: number, log: (msg: string) => void): Promise<void> {
  let pki: BenchPki | undefined;
  if (existsSync(path)) {
    try {
      pki = readPki(path);
      if (pki.version !== 1 || !expiresAfter(pki.ca.certPem, 30 * DAY_MS) || !expiresAfter(pki.server.certPem, 30 * DAY_MS)) pki = undefined;
    } catch {
      pki = undefined;
    }
  }
  let changed = false;
  if (pki === undefined) {
    log('generating the benchmark CA and node certificates');
    const ca = await createCa({ cn: 'restpipe-bench-ca' });
    const [server, client] = await Promise.all([
      issueCertificate({ ca, name: 'server' }),
      issueCertificate({ ca, name: 'bench-client' }),
    ]);
    pki = {
      version: 1,
      createdAt: new Date().toISOString(),
      ca,
      server: { name: 'server', keyPem: server.keyPem, certPem: server.certPem },
      client: { name: 'bench-client', keyPem: client.keyPem, certPem: client.certPem },
      clients: [],
    };
    changed = true;
  }
  if (pki.clients.length < clientCount) {
    const missing = clientCount - pki.clients.length;
    log(`issuing ${missing} client certificates (cached in ${path} for later runs)`);
    const started = performance.now();
    const BATCH = 64;
    for (let i = pki.clients.length; i < clientCount; i += BATCH) {
      const names: string[] = [];
      for (let j = i; j < Math.min(clientCount, i + BATCH); j++) names.push(scaleClientName(j));
      const issued = await Promise.all(names.map((name) => issueCertificate({ ca: pki!.ca, name })));
      issued.forEach((c, k) => pki!.clients.push({ name: names[k]!, keyPem: c.keyPem, certPem: c.certPem }));
    }
    log(`issued ${missing} certificates in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    changed = true;
  }
  const nodes = nodePkiPath(path);
  if (changed || !existsSync(nodes)) {
    mkdirSync(dirname(path), { recursive: true });
    for (const [file, content] of [[path, pki], [nodes, { ...pki, clients: [] }]] as const) {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, JSON.stringify(content), { mode: 0o600 });
      renameSync(tmp, file);
    }
  }
}

function expiresAfter(certPem: string, marginMs: number): boolean {
  return new Date(new X509Certificate(certPem).validTo).getTime() > Date.now() + marginMs;
}
