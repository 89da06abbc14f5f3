import { createScanner, parseTree, printParseErrorCode, SyntaxKind, type Node, type ParseError } from 'jsonc-parser';
import { RulesError } from './rules-error.js';

/**
 * Strict JSON with the place of every value, for error messages that point into the file.
 * `JSON.parse` gives values without places (and Node 20 gives no position at all for some
 * syntax errors), so the tree comes from jsonc-parser (VS Code's JSON parser) in strict mode:
 * no comments, no trailing commas. `JSON.parse` still has the last word on what is JSON, so
 * anything the two disagree on is refused.
 */

/** Deepest nesting of arrays and objects accepted (a rules file needs 3; jsonc-parser recurses). */
export const MAX_JSON_DEPTH = 16;
/** Most JSON tokens accepted: bounds the tree's memory (10,000 patterns take about 25,000). */
export const MAX_JSON_TOKENS = 100_000;

/** A line and column, both 1-based; columns count UTF-16 code units, as editors do. */
export interface TextPosition {
  line: number;
  column: number;
}

/** Parsed JSON text: the tree (jsonc-parser's nodes, each with its offset) and offset → line:column. */
export class JsonText {
  #lineStarts: number[] | undefined;

  constructor(
    readonly text: string,
    readonly root: Node,
  ) {}

  /** The line and column of a character offset. */
  position(offset: number): TextPosition {
    const starts = (this.#lineStarts ??= lineStarts(this.text));
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - starts[lo]! + 1 };
  }
}

/**
 * Parses strict JSON, refusing what would cost more than a rules file can need.
 * @throws RulesError naming the syntax problem and its line:column, or the depth or token limit
 *   that was passed and where.
 */
export function parseJsonText(text: string, source: string): JsonText {
  checkShape(text, source);
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
  const first = errors[0];
  if (first !== undefined || root === undefined) {
    const offset = first?.offset ?? 0;
    const problem = first === undefined ? 'no JSON value' : describeSyntaxError(printParseErrorCode(first.error), text, offset, first.length);
    throw new RulesError(source, `not valid JSON: ${problem}`, positionIn(text, offset));
  }
  try {
    JSON.parse(text);
  } catch (err) {
    // Not seen in practice; kept so that "valid" means what JSON.parse says.
    const at = /at position (\d+)/.exec((err as Error).message);
    throw new RulesError(source, `not valid JSON: ${(err as Error).message}`, at === null ? {} : positionIn(text, Number(at[1])));
  }
  return new JsonText(text, root);
}

/** One linear pass of jsonc-parser's scanner: nesting depth and token count, before any tree is built. */
function checkShape(text: string, source: string): void {
  const scanner = createScanner(text, true);
  let depth = 0;
  let tokens = 0;
  for (let token = scanner.scan(); token !== SyntaxKind.EOF; token = scanner.scan()) {
    if (++tokens > MAX_JSON_TOKENS) {
      throw new RulesError(source, `more than ${MAX_JSON_TOKENS.toLocaleString('en-US')} JSON tokens: far more than a rules file needs`, positionIn(text, scanner.getTokenOffset()));
    }
    if (token === SyntaxKind.OpenBraceToken || token === SyntaxKind.OpenBracketToken) {
      if (++depth > MAX_JSON_DEPTH) {
        throw new RulesError(source, `arrays and objects nested more than ${MAX_JSON_DEPTH} deep: a rules file needs 3`, positionIn(text, scanner.getTokenOffset()));
      }
    } else if (token === SyntaxKind.CloseBraceToken || token === SyntaxKind.CloseBracketToken) {
      depth = Math.max(0, depth - 1);
    }
  }
}

/** What jsonc-parser's error names mean, as a person reading the file would say it. */
const SYNTAX_PROBLEMS: Readonly<Record<string, string>> = {
  InvalidSymbol: 'unexpected %s',
  InvalidNumberFormat: 'malformed number %s',
  PropertyNameExpected: 'expected a key in double quotes, found %s',
  ValueExpected: 'expected a value, found %s',
  ColonExpected: "expected ':' after the key, found %s",
  CommaExpected: "expected ',' or a closing bracket, found %s",
  CloseBraceExpected: "expected ',' or '}', found %s",
  CloseBracketExpected: "expected ',' or ']', found %s",
  EndOfFileExpected: 'unexpected %s after the end of the JSON value',
  InvalidCommentToken: 'comments are not JSON (a rule or the file may have a "comment" key instead)',
  UnexpectedEndOfComment: 'unterminated comment',
  UnexpectedEndOfString: 'unterminated string',
  UnexpectedEndOfNumber: 'malformed number %s',
  InvalidUnicode: 'malformed \\u escape in a string',
  InvalidEscapeCharacter: 'invalid escape %s in a string',
  InvalidCharacter: 'a control character (such as a tab or a line break) inside a string: escape it',
};

function describeSyntaxError(name: string, text: string, offset: number, length: number): string {
  const closer = text[offset];
  if ((name === 'ValueExpected' && closer === ']') || (name === 'PropertyNameExpected' && closer === '}')) {
    const before = text.slice(0, offset).trimEnd();
    if (before.endsWith(',')) return `a comma before '${closer}': JSON allows no trailing comma`;
  }
  const template = SYNTAX_PROBLEMS[name] ?? name;
  return template.replace('%s', () => describeToken(text, offset, length));
}

/** The text at the error, quoted and cut short, or "the end of the file". */
function describeToken(text: string, offset: number, length: number): string {
  if (offset >= text.length) return 'the end of the file';
  const token = text.slice(offset, offset + Math.max(1, Math.min(length, 24)));
  return JSON.stringify(token) + (length > 24 ? '…' : '');
}

function positionIn(text: string, offset: number): TextPosition {
  // A throw-away JsonText: only used on the way to an error.
  return new JsonText(text, { type: 'null', offset: 0, length: 0 }).position(offset);
}

/** Offsets where lines start: after `\n`, after a `\r` not followed by `\n`. */
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) starts.push(i + 1);
  }
  return starts;
}
