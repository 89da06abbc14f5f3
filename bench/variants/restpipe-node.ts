// `restpipe`: one node, started with the library's composition root (startNode, what the CLI
// runs), with the built-in example handlers (get_time, get_cat) plus post_echo, and for the
// stream group get_blob (`blob?bytes=N`: N bytes streamed with their length, a 64 KiB buffer again
// and again, as http-server.ts) and post_sink (reads a streamed body to its end).
//   --role server|client   --gateway yes|no   --pki FILE   [--inspect off|on|bodies]
//   server: [--port N] (pipe port, 0 = any)    client: --server-port N [--identity client]
//   [--rules FILE]: enforce an access-rules file on the events this node receives
//   [--resumption on|off] (TLS session resumption, default on)   server: [--ticket-keys FILE]
//   [--forward PREFIX=URL]: forward events under PREFIX to the HTTP service at URL (SPEC §10)
import { exampleHandlers, reply, startNode, streaming, type HandlerContext, type PostData } from '../../src/index.js';
import { blob } from '../lib/blob.js';
import { parseArgs, required, startChildAgent } from '../lib/child.js';
import { readNodePki } from '../lib/pki.js';

const args = parseArgs();
const role = required(args, 'role') as 'server' | 'client';
const pki = readNodePki(required(args, 'pki'));
const identity = role === 'server' ? pki.server : pki.client;
const gateway = args.gateway === 'yes';
// The inspector (SPEC §13), for bench/inspect.ts: off (the default), on, or on with bodies kept.
const inspect = args.inspect ?? 'off';
if (!['off', 'on', 'bodies'].includes(inspect)) throw new Error(`--inspect off|on|bodies, got ${inspect}`);

const handlers = {
  ...exampleHandlers(role),
  /** POST echo: the body back, with its mimetype. */
  post_echo(_ctx: HandlerContext, postData: PostData): [string, number, unknown] {
    const [mimetype, data] = postData;
    return [mimetype || 'application/octet-stream', 0, data];
  },
  get_blob(ctx: HandlerContext) {
    const bytes = Number(ctx.query.get('bytes') ?? 0);
    return reply({ mimetype: 'application/octet-stream', data: blob(bytes), length: bytes });
  },
  post_sink: streaming(async (ctx: HandlerContext) => {
    let bytes = 0;
    for await (const c of ctx.body) bytes += (c as Buffer).length;
    return { bytes };
  }),
};

const node = await startNode({
  role,
  identity: { key: identity.keyPem, cert: identity.certPem, ca: pki.ca.certPem },
  ...(role === 'server'
    ? { listen: { host: '127.0.0.1', port: Number(args.port ?? 0) } }
    : { server: { host: '127.0.0.1', port: Number(required(args, 'server-port')) } }),
  http: gateway || inspect !== 'off' ? { host: '127.0.0.1', port: 0 } : null,
  inspect: inspect !== 'off',
  inspectBodies: inspect === 'bodies',
  handlers,
  ...(args.rules === undefined ? {} : { rulesPath: String(args.rules) }),
  tlsResumption: args.resumption !== 'off',
  ...(args['ticket-keys'] === undefined ? {} : { ticketKeyFile: args['ticket-keys'] }),
  ...(args.forward === undefined ? {} : { forward: forwardOption(String(args.forward)) }),
});

/** `PREFIX=URL` → `{ PREFIX: URL }` (one forward is all the bench needs). */
function forwardOption(pair: string): Record<string, string> {
  const eq = pair.indexOf('=');
  if (eq < 1) throw new Error(`--forward PREFIX=URL, got ${pair}`);
  return { [pair.slice(0, eq)]: pair.slice(eq + 1) };
}
if (role === 'client') await node.client!.waitReady(30_000);

const agent = startChildAgent(
  (msg) => {
    if (msg.type === 'clients') return node.server?.clientCount ?? 0;
    if (msg.type === 'has-client') return node.server?.hasClient(String(msg.name)) ?? false;
    return undefined;
  },
  () => node.close({ graceMs: 0 }),
);
const gw = node.gateway?.address;
agent.ready({
  /** When the node was up (pipe port listening, gateway started), wall-clock ms. */
  at: performance.timeOrigin + performance.now(),
  name: node.name,
  pipePort: node.server?.address?.port,
  port: gw !== undefined && 'port' in gw ? gw.port : undefined,
});
