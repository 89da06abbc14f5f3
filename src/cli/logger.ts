import pino from 'pino';
import pretty from 'pino-pretty';
import type { Logger } from '../log.js';

/**
 * The CLI's logger: pino, human-readable on a terminal and JSON lines otherwise (for journald,
 * Docker, log shippers), on stderr so stdout stays for command output. Sync writes: log lines
 * are rare (no per-event lines at info) and must not be lost when the process exits.
 */
export function createCliLogger(level: string, { pretty: forcePretty }: { pretty?: boolean } = {}): Logger & { level: string } {
  const options: pino.LoggerOptions = {
    level,
    base: { pid: process.pid },
    // Defence in depth: nothing in restpipe logs keys or bodies, but a handler's log call might.
    redact: { paths: ['key', '*.key', 'body', '*.body', 'data', '*.data'], censor: '[redacted]' },
  };
  const usePretty = forcePretty ?? process.stderr.isTTY === true;
  if (usePretty) {
    return pino(options, pretty({ destination: 2, sync: true, colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
  }
  return pino(options, pino.destination({ fd: 2, sync: true }));
}
