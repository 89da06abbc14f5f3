import { isUtf8 } from 'node:buffer';
import { open } from 'node:fs/promises';
import { parseRules } from './parse.js';
import { MAX_RULES_FILE_BYTES, type RulesDocument } from './rule.js';
import { RulesError } from './rules-error.js';
import { compileRules, type RuleSet } from './rule-set.js';

/**
 * Reads and parses a rules file, reading at most {@link MAX_RULES_FILE_BYTES} + 1 bytes
 * whatever the file claims (a FIFO, a file still growing, /dev/zero).
 * @throws RulesError: cannot read it, not a regular file, too large, not UTF-8, or any problem
 *   {@link parseRules} finds; the message names the file and the place.
 */
export async function readRulesFile(path: string): Promise<RulesDocument> {
  let bytes: Buffer;
  let handle;
  try {
    handle = await open(path, 'r');
    const stat = await handle.stat();
    if (!stat.isFile()) throw new RulesError(path, 'not a regular file');
    if (stat.size > MAX_RULES_FILE_BYTES) throw tooLarge(path, `${stat.size} bytes`);
    const buffer = Buffer.allocUnsafe(MAX_RULES_FILE_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_RULES_FILE_BYTES) throw tooLarge(path, `more than ${MAX_RULES_FILE_BYTES} bytes`);
    }
    bytes = buffer.subarray(0, length);
  } catch (err) {
    if (err instanceof RulesError) throw err;
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new RulesError(path, code === 'ENOENT' ? 'file not found' : `cannot read it (${code})`);
  } finally {
    await handle?.close();
  }
  if (!isUtf8(bytes)) throw new RulesError(path, 'not UTF-8 text: save the file as UTF-8', { line: firstBadUtf8Line(bytes) });
  return parseRules(bytes.toString('utf8'), path);
}

/** {@link readRulesFile}, compiled. */
export async function loadRules(path: string): Promise<RuleSet> {
  return compileRules(await readRulesFile(path));
}

function tooLarge(path: string, size: string): RulesError {
  return new RulesError(path, `${size}: a rules file may have at most ${MAX_RULES_FILE_BYTES} bytes (1 MiB)`);
}

/** The first line (1-based) that is not valid UTF-8 on its own; a line break (0x0A) never occurs inside a UTF-8 sequence. */
function firstBadUtf8Line(bytes: Buffer): number {
  let line = 1;
  let start = 0;
  for (;;) {
    const end = bytes.indexOf(0x0a, start);
    if (!isUtf8(bytes.subarray(start, end === -1 ? bytes.length : end))) return line;
    if (end === -1) return line;
    start = end + 1;
    line++;
  }
}
