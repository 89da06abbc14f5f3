import { once as onceEvent } from 'node:events';
import { createCa, issueCertificate } from '../../identity/index.js';
import { startNode, type RunningNode } from '../../node.js';
import { createCliLogger } from '../logger.js';
import type { NodeSignals } from '../signals.js';
import { nodeSignalTarget } from './run-node.js';

const CLIENT_NAME = 'fileserver';

/**
 * `restpipe demo [--once]` (SPEC §2): a throw-away CA, a server and a client on loopback, both
 * with gateways, over a real mutual-TLS pipe. `--once` sends the example events through the
 * real gateways both ways, prints each reply and exits 0 only if all succeeded.
 */
export async function demo(flags: { once?: boolean; logLevel?: string }, out: (line: string) => void, signals: Pick<NodeSignals, 'attach'>): Promise<number> {
  const logger = createCliLogger(flags.logLevel ?? (flags.once === true ? 'warn' : 'info'));
  const nodes: RunningNode[] = [];
  // The demo's certificates live a day and die with the process: warning that they expire
  // within a day would be noise.
  const noExpiryWarnings = { expiryWarningsMs: [] };
  try {
    const ca = await createCa({ cn: 'restpipe-demo-ca', days: 1 });
    const serverId = await issueCertificate({ ca, name: 'server', days: 1 });
    const clientId = await issueCertificate({ ca, name: CLIENT_NAME, days: 1 });
    const server = await startNode({
      role: 'server',
      identity: { key: serverId.keyPem, cert: serverId.certPem, ca: ca.certPem },
      listen: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      inspect: true,
      inspectBodies: true,
      ...noExpiryWarnings,
      logger: logger.child({ node: 'server' }),
    });
    nodes.push(server);
    const added = onceEvent(server.server!, 'connection_added');
    const client = await startNode({
      role: 'client',
      identity: { key: clientId.keyPem, cert: clientId.certPem, ca: ca.certPem },
      server: { host: 'localhost', port: server.server!.address!.port },
      http: { host: '127.0.0.1', port: 0 },
      inspect: true,
      inspectBodies: true,
      ...noExpiryWarnings,
      logger: logger.child({ node: 'client' }),
    });
    nodes.push(client);
    await client.client!.waitReady(10_000);
    await added;

    const serverGw = url(server);
    const clientGw = url(client);
    if (flags.once === true) return await sendExamples(serverGw, clientGw, out);

    out(`restpipe demo: a CA, a server and a client '${CLIENT_NAME}' on loopback, joined by a mutual-TLS pipe`);
    out(`  pipe:            client ${CLIENT_NAME} -> server at 127.0.0.1:${server.server!.address!.port}`);
    out(`  server gateway:  ${serverGw}   (events to clients: /client/NAME/NOUN)`);
    out(`  client gateway:  ${clientGw}   (events to the server: /server/NOUN)`);
    out(`  inspector:       ${serverGw}/inspect   ${clientGw}/inspect   (pipes and events, live)`);
    out('  certificates:    a throw-away CA and keys, kept in memory only');
    out('');
    out('Try, in another terminal:');
    out(`  curl -i ${clientGw}/server/time`);
    out(`  curl -i ${clientGw}/server/cat//hello/world`);
    out(`  curl -i ${serverGw}/client/${CLIENT_NAME}/time`);
    out(`  curl -i ${serverGw}/client/${CLIENT_NAME}/cat//hello/world`);
    out(`  curl -s ${serverGw}/status`);
    out('');
    out('Ctrl-C to stop.');
    // Both nodes stop together; a reload re-reads what each has (in-memory identities: nothing).
    const both: RunningNode = {
      ...client,
      reload: async () => void (await Promise.all(nodes.map((n) => n.reload()))),
      close: async (o) => void (await Promise.all(nodes.map((n) => n.close(o)))),
    };
    return await signals.attach(nodeSignalTarget(both, 2_000, logger));
  } finally {
    await Promise.all(nodes.map((n) => n.close({ graceMs: 2_000 })));
  }
}

function url(node: RunningNode): string {
  const a = node.gateway!.address;
  if ('path' in a) throw new Error('demo gateways listen on TCP');
  return `http://${a.host}:${a.port}`;
}

async function sendExamples(serverGw: string, clientGw: string, out: (line: string) => void): Promise<number> {
  const requests: Array<[label: string, base: string, path: string]> = [
    ['client -> server', clientGw, '/server/time'],
    ['client -> server', clientGw, '/server/cat//hello/world'],
    ['server -> client', serverGw, `/client/${CLIENT_NAME}/time`],
    ['server -> client', serverGw, `/client/${CLIENT_NAME}/cat//hello/world`],
  ];
  let failures = 0;
  for (const [label, base, path] of requests) {
    try {
      const res = await fetch(base + path, { signal: AbortSignal.timeout(15_000) });
      const body = await res.text();
      const code = res.headers.get('x-event-return-code');
      if (res.status !== 200 || code !== '0') failures++;
      out(`${label}  GET ${path}  ->  ${res.status} (return code ${code})  ${body}`);
    } catch (err) {
      failures++;
      out(`${label}  GET ${path}  ->  failed: ${(err as Error).message}`);
    }
  }
  out(failures === 0 ? 'demo: all 4 events answered through the gateways and the TLS pipe' : `demo: ${failures} of 4 events failed`);
  return failures === 0 ? 0 : 1;
}

