import { Command, CommanderError, Option } from 'commander';
import { createRequire } from 'node:module';
import { REVOCATION_REASONS } from '../identity/index.js';
import { caCrl, caInit, caIssue, caList, caRenew, caRevoke } from './commands/ca.js';
import { demo } from './commands/demo.js';
import { rulesCheck } from './commands/rules.js';
import { runNodeCommand } from './commands/run-node.js';
import { setIdentity } from './commands/set-identity.js';
import { FLAGS, flagHelp, type Role } from './config.js';
import type { NodeSignals } from './signals.js';

export interface CliIo {
  out: (line: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** SIGINT/SIGTERM/SIGHUP for the node commands (bin/restpipe.js installs them first thing). */
  signals: Pick<NodeSignals, 'attach' | 'release'>;
}

/** The commands that run a node and keep the signals; every other command releases them. */
const NODE_COMMANDS = new Set(['server', 'client', 'demo']);

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

/**
 * The command tree of SPEC §3 on commander. Actions store their exit code; main() turns any
 * thrown error into one line and an exit code.
 */
export function buildProgram(io: CliIo, setExitCode: (code: number) => void): Command {
  const program = new Command('restpipe')
    .description('Call programs on a central server and on machines behind firewalls as if each were a local REST API.')
    .version(version)
    // A subcommand's flags belong to it: `server set-identity … --cert-dir D` must not be read
    // as the run command's --cert-dir.
    .enablePositionalOptions()
    .configureOutput({ writeErr: io.err, writeOut: (s) => io.out(s.replace(/\n$/, '')) })
    .exitOverride()
    // A command that runs no node gets Node's own signal handling back (Ctrl-C ends `ca issue`).
    .hook('preAction', (_program, action) => {
      if (!NODE_COMMANDS.has(action.name())) io.signals.release();
    });

  for (const role of ['server', 'client'] as const) {
    const cmd = program
      .command(role)
      .description(role === 'server' ? 'run a server node: accept pipes from clients, serve its gateway' : 'run a client node: keep a pipe to the server, serve its gateway')
      .configureOutput({ writeErr: io.err, writeOut: (s) => io.out(s.replace(/\n$/, '')) })
      .enablePositionalOptions()
      .exitOverride();
    addRunFlags(cmd, role);
    cmd.action(async (opts: Record<string, unknown>) => setExitCode(await runNodeCommand(role, opts, io.env, io.signals)));
    const args = role === 'server' ? '<key> <crt> <ca>' : '<key> <crt> [ca]';
    cmd
      .command(`set-identity ${args}`)
      .description(
        role === 'server'
          ? "validate and install the server's key, certificate and CA into its cert dir (alias rp_server_set_identity)"
          : "validate and install the client's key, certificate and CA into its cert dir (alias rp_client_set_identity; the CA may be omitted if one is installed)",
      )
      .option('--cert-dir <dir>', `cert dir (default: RP_${role.toUpperCase()}_CERT_PATH, else /var/lib/restpipe, else a per-user state dir)`)
      .exitOverride()
      .action(async (key: string, cert: string, ca: string | undefined, opts: { certDir?: string }) =>
        setExitCode(
          await setIdentity(role, { key, cert, ...(ca === undefined ? {} : { ca }), ...(opts.certDir === undefined ? {} : { certDir: opts.certDir }) }, io.env, io.out),
        ),
      );
  }

  const ca = program.command('ca').description('a small CA for restpipe identities').exitOverride();
  ca.command('init')
    .description('create DIR/ca.key.pem (0600) and DIR/ca.crt.pem')
    .requiredOption('--dir <dir>', 'where to write the CA')
    .option('--cn <name>', 'CA common name (default: restpipe-ca- and 8 random hex digits)')
    .option('--days <n>', 'validity in days (default 3650)')
    .addOption(new Option('--key <type>', 'key type (default ec = ECDSA P-256)').choices(['ec', 'rsa']))
    .exitOverride()
    .action(async (opts: { dir: string; cn?: string; days?: string; key?: string }) => setExitCode(await caInit(opts, io.out)));
  ca.command('issue <name>')
    .description('create DIR/NAME.key.pem (0600) and DIR/NAME.crt.pem signed by DIR/ca.*; CN = NAME; SANs = NAME, --san, localhost, 127.0.0.1, ::1')
    .requiredOption('--dir <dir>', 'the CA dir (from ca init); the new files go there too')
    .option('--san <list>', 'extra subject alternative names, comma-separated host names and IPs')
    .option('--days <n>', 'validity in days (default 825)')
    .addOption(new Option('--key <type>', 'key type (default ec = ECDSA P-256)').choices(['ec', 'rsa']))
    .exitOverride()
    .action(async (name: string, opts: { dir: string; san?: string; days?: string; key?: string }) => setExitCode(await caIssue(name, opts, io.out)));
  ca.command('renew <name>')
    .description('issue NAME a fresh certificate with the SANs of DIR/NAME.crt.pem (new key unless --keep-key); the old one stays valid')
    .requiredOption('--dir <dir>', 'the CA dir')
    .option('--keep-key', 'certify the key NAME already has (DIR/NAME.key.pem) instead of a new one')
    .option('--days <n>', 'validity in days (default 825)')
    .exitOverride()
    .action(async (name: string, opts: { dir: string; keepKey?: boolean; days?: string }) => setExitCode(await caRenew(name, opts, io.out)));
  ca.command('revoke <name-or-serial>')
    .description("revoke NAME's certificates (or the one with SERIAL): listed in DIR/crl.pem, signed by the CA (created if missing)")
    .requiredOption('--dir <dir>', 'the CA dir')
    .option('--reason <reason>', `RFC 5280 reason: ${REVOCATION_REASONS.join(', ')} (default unspecified)`)
    .exitOverride()
    .action(async (target: string, opts: { dir: string; reason?: string }) => setExitCode(await caRevoke(target, opts, io.out)));
  ca.command('list')
    .description('each certificate the CA issued: name, serial, expiry, valid/expired/revoked; and the CRL')
    .requiredOption('--dir <dir>', 'the CA dir')
    .exitOverride()
    .action(async (opts: { dir: string }) => setExitCode(await caList(opts, io.out)));
  ca.command('crl')
    .description('re-sign DIR/crl.pem with a fresh next update, 7 days on (creating it empty if missing); run it at least weekly')
    .requiredOption('--dir <dir>', 'the CA dir')
    .exitOverride()
    .action(async (opts: { dir: string }) => setExitCode(await caCrl(opts, io.out)));

  const rules = program.command('rules').description('access rules: which identity may call what (see the README, "Access rules")').exitOverride();
  rules
    .command('check <file> [verb] [noun]')
    .description(
      'validate a rules file and print what each identity it names may call on whom; with --as, --to, VERB and NOUN, say whether that one call is allowed and by which rule (exit 0 allowed, 1 refused, 2 broken file)',
    )
    .option('--as <cn>', 'the calling node\'s CN')
    .option('--to <node>', 'the receiving node: server, client, server:NAME or client:NAME')
    .exitOverride()
    .action(async (file: string, verb: string | undefined, noun: string | undefined, opts: { as?: string; to?: string }) =>
      setExitCode(await rulesCheck(file, verb, noun, opts, io.out)),
    );

  program
    .command('demo')
    .description('start a throw-away CA, server and client with gateways on loopback and print curl lines (--once: send the examples both ways and exit)')
    .option('--once', 'send time and cat both ways through the gateways, print the replies, exit 0 if all succeeded')
    .option('--log-level <level>', 'log level (default warn with --once, else info)')
    .exitOverride()
    .action(async (opts: { once?: boolean; logLevel?: string }) => setExitCode(await demo(opts, io.out, io.signals)));

  oneLineErrors(program, 'restpipe');
  return program;
}

/**
 * SPEC §3: a bad flag or value is one clear line. Commander writes its message and a "Did you
 * mean" suggestion on separate lines; they are joined here, in the same `restpipe: …` form as
 * the CLI's own errors, with the command whose help lists the options.
 */
function oneLineErrors(cmd: Command, path: string): void {
  cmd.configureOutput({
    outputError: (text, write) => {
      const message = text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ');
      write(`restpipe: ${message} (see: ${path} --help)\n`);
    },
  });
  for (const sub of cmd.commands) oneLineErrors(sub, `${path} ${sub.name()}`);
}

function addRunFlags(cmd: Command, role: Role): void {
  cmd.option('--config <file>', 'JSON file of flag names to values (env RP_CONFIG); flags and env win over it');
  for (const spec of FLAGS) {
    if (!spec.roles.includes(role)) continue;
    if (spec.kind === 'boolean') {
      cmd.option(`--${spec.name}`, flagHelp(spec));
    } else if (spec.kind === 'forward') {
      // Repeatable: every occurrence is kept, in order.
      cmd.option(`--${spec.name} <${(spec.arg ?? 'value').toLowerCase()}>`, flagHelp(spec), (value: string, previous: string[] | undefined) => [...(previous ?? []), value]);
    } else {
      cmd.option(`--${spec.name} <${(spec.arg ?? 'value').toLowerCase()}>`, flagHelp(spec));
    }
    if (spec.name === 'http') cmd.option('--no-http', 'run without a local gateway');
  }
}

export { CommanderError };
