// Two network namespaces joined by a veth pair, with a token-bucket qdisc on each end: a narrow
// link for tests (RELIABILITY.md §5.1–5.2: netem is missing here, tbf works). Both ends of every
// connection run inside the namespaces (`ip netns exec`); nothing dials into them from outside.
// Needs root and iproute2 (`ip`, `tc`); .ci/run installs iproute2. Everything made is removed in
// close(), which is safe to call twice; /run/netns is unmounted and removed only if this helper
// created it and it is empty again.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface LinkedNamespaces {
  /** The server's namespace and its address on the link. */
  readonly server: { ns: string; address: string };
  /** The client's namespace and its address on the link. */
  readonly client: { ns: string; address: string };
  /** `ip netns exec NS …` as an executable and its leading arguments, for spawnCli's `executable`. */
  execArgs(ns: string): { executable: string; args: string[] };
  /** Bytes the interface of `ns` has sent so far (its kernel counter). */
  txBytes(ns: string): Promise<number>;
  close(): Promise<void>;
}

/** Why the narrow-link tests cannot run here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces)';
  if (!existsSync('/usr/sbin/ip') && !existsSync('/sbin/ip')) return 'needs iproute2 (ip)';
  if (!existsSync('/usr/sbin/tc') && !existsSync('/sbin/tc')) return 'needs iproute2 (tc)';
  return undefined;
}

function tool(name: 'ip' | 'tc'): string {
  return existsSync(`/usr/sbin/${name}`) ? `/usr/sbin/${name}` : `/sbin/${name}`;
}

/**
 * Makes the two namespaces and the link, shaped to `rateKbit` each way (tbf: burst 32 kbit,
 * latency 400 ms, RELIABILITY.md §5.2). Names carry the pid, so parallel test files never meet.
 * @throws with the tool's message when any step fails (after removing what was made).
 */
export async function linkNamespaces(rateKbit: number): Promise<LinkedNamespaces> {
  const ip = tool('ip');
  const tc = tool('tc');
  const tag = `${process.pid % 100_000}`;
  const srv = `rp-srv-${tag}`;
  const cli = `rp-cli-${tag}`;
  const vs = `rpvs${tag}`;
  const vc = `rpvc${tag}`;
  // A /30 per process, from the pid, in 10.213.0.0/16.
  const net = (process.pid % 16_000) * 4;
  const a = `10.213.${Math.floor(net / 256) % 256}.${(net % 256) + 1}`;
  const b = `10.213.${Math.floor(net / 256) % 256}.${(net % 256) + 2}`;
  const hadRunNetns = existsSync('/run/netns');
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const ns of [srv, cli]) await run(ip, ['netns', 'del', ns]).catch(() => undefined);
    if (!hadRunNetns && existsSync('/run/netns') && readdirSync('/run/netns').length === 0) {
      await run('umount', ['/run/netns']).catch(() => undefined);
      await run('rmdir', ['/run/netns']).catch(() => undefined);
    }
  };
  try {
    await run(ip, ['netns', 'add', srv]);
    await run(ip, ['netns', 'add', cli]);
    await run(ip, ['link', 'add', vs, 'netns', srv, 'type', 'veth', 'peer', 'name', vc, 'netns', cli]);
    for (const [ns, dev, addr] of [[srv, vs, a], [cli, vc, b]] as const) {
      await run(ip, ['-n', ns, 'addr', 'add', `${addr}/30`, 'dev', dev]);
      await run(ip, ['-n', ns, 'link', 'set', dev, 'up']);
      await run(ip, ['-n', ns, 'link', 'set', 'lo', 'up']);
      await run(ip, ['netns', 'exec', ns, tc, 'qdisc', 'add', 'dev', dev, 'root', 'tbf', 'rate', `${rateKbit}kbit`, 'burst', '32kbit', 'latency', '400ms']);
    }
  } catch (err) {
    await close();
    throw err;
  }
  const devOf = (ns: string): string => (ns === srv ? vs : vc);
  return {
    server: { ns: srv, address: a },
    client: { ns: cli, address: b },
    execArgs: (ns) => ({ executable: ip, args: ['netns', 'exec', ns] }),
    async txBytes(ns) {
      const { stdout } = await run(ip, ['netns', 'exec', ns, 'cat', `/sys/class/net/${devOf(ns)}/statistics/tx_bytes`]);
      return Number(stdout.trim());
    },
    close,
  };
}
