// The forwarding tests' set-up (issue 12, SPEC §10): a real server node and a real client node
// (the CLI, as a user runs it) whose client forwards prefixes to local HTTP services; the
// caller uses the server's gateway, as the seed's web server reaches its file server. Also the
// Node upstream fixture (test/fixtures/forward-upstream.ts) and a free port for services that
// cannot take port 0 (nginx) or for an upstream that is down.
import net from 'node:net';
import { after, before } from 'node:test';

import { clientConnected, killAll, startClient, startServer, type StartedClient, type StartedServer } from './cli-processes.js';
import { makePki, type Pki } from './pki.js';
import { fixturePath, startNode as startProcess, stopAll, type Child } from './processes.js';

/**
 * Fast failure detection for the pipe, but the default --event-timeout (60 s): a forwarded
 * event's own bound is --forward-timeout, and big transfers must not meet a short event timeout.
 */
export const FORWARD_NODE_FLAGS = ['--heartbeat-interval', '0.2', '--heartbeat-timeout', '1', '--connect-wait', '0.5', '--grace', '5'] as const;

/** A server node and client `client1`, connected, the client forwarding as `forwards` says. */
export interface ForwardPair {
  server: StartedServer;
  client: StartedClient;
  /** `http://127.0.0.1:PORT/client/client1/` + `rest` on the server's gateway. */
  url(rest: string): string;
  /** The server gateway's port (for requests sent with a raw path). */
  gatewayPort: number;
}

/**
 * Starts `restpipe server` and `restpipe client` (CN client1) with `--forward P=U` for each entry
 * of `forwards` on the client, plus `clientArgs` (and `clientEnv` in its environment); resolves
 * once the server has the pipe.
 */
export async function startForwardPair(
  pki: Pki,
  forwards: Record<string, string>,
  clientArgs: string[] = [],
  serverArgs: string[] = [],
  clientEnv: NodeJS.ProcessEnv = {},
): Promise<ForwardPair> {
  const server = await startServer(await pki.certDir('server', pki.server), [...FORWARD_NODE_FLAGS, ...serverArgs]);
  const forwardArgs = Object.entries(forwards).flatMap(([prefix, url]) => ['--forward', `${prefix}=${url}`]);
  const connected = clientConnected(server.proc, 'client1');
  const client = await startClient(await pki.certDir('client', pki.client1), server.pipePort, [...FORWARD_NODE_FLAGS, '--no-http', ...forwardArgs, ...clientArgs], {
    env: clientEnv,
  });
  await connected;
  const gatewayPort = server.gateway!.port;
  return { server, client, gatewayPort, url: (rest) => `http://127.0.0.1:${gatewayPort}/client/client1/${rest}` };
}

/** The upstream fixture, running, and its port. */
export interface Upstream {
  child: Child;
  port: number;
  /** `http://127.0.0.1:PORT/` */
  base: string;
}

/** Starts test/fixtures/forward-upstream.js and reads back its port. */
export async function startUpstream(): Promise<Upstream> {
  const child = startProcess(fixturePath('forward-upstream'));
  const [, port] = await child.waitForLine(/^listening (\d+)$/);
  return { child, port: Number(port), base: `http://127.0.0.1:${port}/` };
}

/**
 * A TCP port on 127.0.0.1 that was free a moment ago (bound with port 0, then released): for
 * nginx, which cannot report a port 0 back, and for an upstream that is down. The caller retries
 * if another process takes it in between.
 */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** What {@link upstreamForwardBed} starts: filled in by its before-hook. */
export interface UpstreamForwardBed {
  pki: Pki;
  upstream: Upstream;
  pair: ForwardPair;
}

/**
 * Registers the hooks of a test file whose client1 forwards `up` to the upstream fixture: before
 * all tests a PKI, the upstream and the node pair; after them, every process stopped and the PKI
 * removed. Read the fields inside tests (they are set once the before-hook has run).
 */
export function upstreamForwardBed(): UpstreamForwardBed {
  const bed = {} as UpstreamForwardBed;
  before(async () => {
    bed.pki = await makePki();
    bed.upstream = await startUpstream();
    bed.pair = await startForwardPair(bed.pki, { up: bed.upstream.base });
  });
  after(async () => {
    await killAll();
    await stopAll();
    await bed.pki?.cleanup();
  });
  return bed;
}
