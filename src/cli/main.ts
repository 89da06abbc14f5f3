import { CommanderError } from 'commander';
import { ErrorCode, RestpipeError } from '../errors.js';
import { buildProgram, type CliIo } from './program.js';
import { NodeSignals } from './signals.js';

/**
 * The CLI's entry: parses `argv`, runs the command, and turns any error into one line on stderr
 * and an exit code: 2 for bad flags or values (SPEC §3), 1 for everything else.
 */
export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  let exitCode = 0;
  const program = buildProgram(io, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has printed its message already; help and --version are not errors.
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? 0 : 2;
    }
    io.err(`restpipe: ${describe(err)}\n`);
    return exitCodeFor(err);
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
      // A unix socket path comes with port -1; Node reports a missing directory as EACCES.
      const unixSocket = e.port !== undefined && e.port < 0;
      const hint = unixSocket && code === 'EACCES' ? '; the directory must exist and be writable by this user' : '';
      return `cannot listen on ${e.address ?? ''}${e.port === undefined || unixSocket ? '' : `:${e.port}`}: ${code} (${e.message})${hint}`;
    }
    return err.message;
  }
  return String(err);
}

function exitCodeFor(err: unknown): number {
  if (err instanceof RestpipeError && (err.code === ErrorCode.INVALID_OPTION || err.code === ErrorCode.HANDLER_INVALID)) return 2;
  return 1;
}

function defaultIo(signals: NodeSignals = NodeSignals.install()): CliIo {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (text) => process.stderr.write(text),
    env: process.env,
    signals,
  };
}

/**
 * How long a finished command may take to flush what its sockets still hold before the process
 * exits anyway (something left open, such as a handler module's own timer, must not keep it up).
 */
const EXIT_FLUSH_MS = 2_000;

/**
 * Runs the CLI as a process and exits with main's code. Not with `process.exit()` at once:
 * a node that has just drained still has its last replies in its sockets' write queues (the
 * pipe was ended, not yet flushed), and exiting now would cut them off and turn a drained
 * event into a 502 on the far side. The process exits when its event loop is empty, or after
 * EXIT_FLUSH_MS at the latest.
 */
export async function run(argv: string[], signals?: NodeSignals): Promise<void> {
  // `restpipe ca list | head`: a reader that stops early is not an error (Node would throw EPIPE
  // from the next write). What was to be done is done; only the rest of the output is dropped.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
    process.stdout.destroy();
  });
  const io = defaultIo(signals);
  let code: number;
  try {
    code = await main(argv, io);
  } finally {
    // Whatever ran, a stop signal kept meanwhile (a node that failed to start) now ends the process.
    io.signals.release();
  }
  process.exitCode = code;
  setTimeout(() => process.exit(code), EXIT_FLUSH_MS).unref();
}
