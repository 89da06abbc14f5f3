import { ErrorCode, RestpipeError } from '../errors.js';

/** Where in a rules file a problem is: line and column (1-based) and the JSON path. */
export interface RulesPlace {
  line?: number;
  column?: number;
  /** A JSON path such as `rules[3].allow[1]`; absent for syntax errors. */
  path?: string;
}

/**
 * A rules file that cannot be used, and why. The message is one line in the form compilers
 * use, so editors can jump to it: `FILE:LINE:COLUMN: PATH: PROBLEM`, e.g.
 * `rules.json:7:18: rules[1].allow[0]: unknown verb "fetch" (use get, post, put, delete, patch or *)`.
 * The code is `invalid_option`: a rules file is configuration, and the CLI exits 2 on it.
 */
export class RulesError extends RestpipeError {
  constructor(
    /** The file name (or `<rules>` for text that came from no file). */
    readonly source: string,
    /** What is wrong, without the place. */
    readonly problem: string,
    readonly place: RulesPlace = {},
  ) {
    super(ErrorCode.INVALID_OPTION, formatRulesMessage(source, problem, place));
    this.name = 'RulesError';
  }
}

function formatRulesMessage(source: string, problem: string, { line, column, path }: RulesPlace): string {
  const at = line === undefined ? source : `${source}:${line}${column === undefined ? '' : `:${column}`}`;
  return `${at}: ${path === undefined ? '' : `${path}: `}${problem}`;
}
