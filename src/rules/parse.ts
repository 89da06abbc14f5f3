import type { Node } from 'jsonc-parser';
import { isVerb, VERBS, type Verb } from '../event.js';
import { truncate } from '../text.js';
import { parseJsonText, type JsonText } from './json-text.js';
import { compileCnGlob, compileNounGlob, isGlobProblem } from './match.js';
import {
  MAX_PATTERN_LENGTH,
  MAX_PATTERNS,
  MAX_PATTERNS_PER_LIST,
  MAX_RULES,
  MAX_RULES_FILE_BYTES,
  type PatternKind,
  type Rule,
  type RulePattern,
  type RulesDocument,
  type Subject,
} from './rule.js';
import { RulesError } from './rules-error.js';

/**
 * Parses and checks an access-rules file (SPEC §11):
 *
 * ```json
 * {"rules": [
 *   {"from": "sensor-*", "to": "server", "allow": ["post readings", "get time"]},
 *   {"from": "*", "deny": ["* admin/**"]}
 * ]}
 * ```
 *
 * The file is an object with `rules` (required) and `comment` (optional). A rule has `from`
 * (required: a CN glob, or the role `server` or `client`), `to` (a role or CN glob; default
 * `*`), `allow` and/or `deny` (at least one, each a non-empty list of patterns), and `comment`.
 * `server` and `client` are always roles; `cn:NAME` names a node whose CN is literally one of
 * them. A pattern is a verb (`get`, `post`, `put`, `delete`, `patch` or `*`), spaces, and a noun
 * glob (see `match.ts`).
 *
 * Refused with a {@link RulesError} naming the first problem, its line:column and JSON path:
 * JSON syntax, a file over {@link MAX_RULES_FILE_BYTES}, unknown or duplicate keys, wrong
 * types, empty lists, bad verbs and globs, more than {@link MAX_RULES} rules,
 * {@link MAX_PATTERNS_PER_LIST} patterns in a list, {@link MAX_PATTERNS} in the file, or a
 * pattern over {@link MAX_PATTERN_LENGTH} characters.
 *
 * @param text the file's contents.
 * @param source the file name for messages.
 */
export function parseRules(text: string, source = '<rules>'): RulesDocument {
  if (text.length > MAX_RULES_FILE_BYTES) {
    throw new RulesError(source, `${text.length} characters, more than the ${MAX_RULES_FILE_BYTES} bytes a rules file may have`);
  }
  // Editors on Windows may start a UTF-8 file with a byte order mark; JSON itself has none.
  const json = parseJsonText(text.charCodeAt(0) === 0xfeff ? ` ${text.slice(1)}` : text, source);
  return new RulesReader(json, source).document();
}

const FILE_KEYS = ['rules', 'comment'] as const;
const RULE_KEYS = ['from', 'to', 'allow', 'deny', 'comment'] as const;

/** Walks the JSON tree; every check fails at the node it is about. */
class RulesReader {
  #patternCount = 0;

  constructor(
    readonly json: JsonText,
    readonly source: string,
  ) {}

  document(): RulesDocument {
    const root = this.json.root;
    const fields = this.#object(root, '', 'the file', FILE_KEYS);
    const list = fields.get('rules');
    if (list === undefined) {
      this.#fail(root, '', 'missing "rules": the file is {"rules": [rule, …]}');
    }
    this.#comment(fields.get('comment'), 'comment');
    const items = this.#array(list, 'rules');
    if (items.length > MAX_RULES) this.#fail(items[MAX_RULES]!, `rules[${MAX_RULES}]`, `more than ${MAX_RULES} rules`);
    const rules = items.map((item, index) => this.#rule(item, index));
    return { source: this.source, rules, patternCount: this.#patternCount };
  }

  #rule(node: Node, index: number): Rule {
    const path = `rules[${index}]`;
    const fields = this.#object(node, path, 'a rule', RULE_KEYS);
    const fromNode = fields.get('from');
    if (fromNode === undefined) {
      this.#fail(node, path, 'missing "from": the caller, a CN glob such as "sensor-*", or "*" for every caller');
    }
    const from = this.#subject(fromNode, `${path}.from`);
    const toNode = fields.get('to');
    const to = toNode === undefined ? anyNode() : this.#subject(toNode, `${path}.to`);
    const allowNode = fields.get('allow');
    const denyNode = fields.get('deny');
    if (allowNode === undefined && denyNode === undefined) {
      this.#fail(node, path, 'a rule needs "allow" or "deny" (or both): a list of patterns such as "get time"');
    }
    const comment = this.#comment(fields.get('comment'), `${path}.comment`);
    const { line, column } = this.json.position(node.offset);
    return {
      index,
      path,
      line,
      column,
      from,
      to,
      allow: allowNode === undefined ? [] : this.#patterns(allowNode, index, 'allow'),
      deny: denyNode === undefined ? [] : this.#patterns(denyNode, index, 'deny'),
      ...(comment === undefined ? {} : { comment }),
    };
  }

  #subject(node: Node, path: string): Subject {
    const text = this.#string(node, path);
    if (text === 'server' || text === 'client') return { kind: 'role', role: text, text };
    if (text.toLowerCase() === 'server' || text.toLowerCase() === 'client') {
      this.#fail(node, path, `${JSON.stringify(text)}: the roles are lower case ("${text.toLowerCase()}"); for a node whose CN is ${JSON.stringify(text)} write "cn:${text}"`);
    }
    const globText = text.startsWith('cn:') ? text.slice(3) : text;
    const glob = compileCnGlob(globText);
    if (isGlobProblem(glob)) this.#fail(node, path, glob.problem, text.length - globText.length + glob.at);
    return { kind: 'cn', glob, text };
  }

  #patterns(node: Node, rule: number, kind: PatternKind): RulePattern[] {
    const path = `rules[${rule}].${kind}`;
    const items = this.#array(node, path);
    if (items.length === 0) this.#fail(node, path, `an empty list: give at least one pattern, or leave "${kind}" out`);
    if (items.length > MAX_PATTERNS_PER_LIST) this.#fail(items[MAX_PATTERNS_PER_LIST]!, `${path}[${MAX_PATTERNS_PER_LIST}]`, `more than ${MAX_PATTERNS_PER_LIST} patterns in one list`);
    return items.map((item, index) => {
      const itemPath = `${path}[${index}]`;
      if (++this.#patternCount > MAX_PATTERNS) this.#fail(item, itemPath, `more than ${MAX_PATTERNS} patterns in the file`);
      return this.#pattern(item, itemPath, rule, kind, index);
    });
  }

  #pattern(node: Node, path: string, rule: number, kind: PatternKind, index: number): RulePattern {
    const text = this.#string(node, path);
    if (text.length > MAX_PATTERN_LENGTH) this.#fail(node, path, `pattern longer than ${MAX_PATTERN_LENGTH} characters`);
    const space = text.indexOf(' ');
    const verbText = space === -1 ? text : text.slice(0, space);
    let globStart = space + 1;
    while (text.charCodeAt(globStart) === 0x20) globStart++;
    if (space === -1 || space === 0 || globStart === text.length) {
      this.#fail(node, path, `${JSON.stringify(truncate(text))}: a pattern is a verb and a noun glob, such as "get time", "post upload/*" or "* admin/**"`);
    }
    const verb = parseVerb(verbText);
    if (verb === undefined) {
      const lower = verbText.toLowerCase();
      const hint = lower !== verbText && parseVerb(lower) !== undefined ? ` (verbs are lower case: ${lower})` : '';
      this.#fail(node, path, `unknown verb ${JSON.stringify(truncate(verbText))}: use ${VERBS.join(', ')} or *${hint}`, 0);
    }
    const glob = compileNounGlob(text.slice(globStart));
    if (isGlobProblem(glob)) this.#fail(node, path, glob.problem, globStart + glob.at);
    const { line, column } = this.json.position(node.offset);
    return { rule, kind, index, text, verb, glob, path, line, column };
  }

  #comment(node: Node | undefined, path: string): string | undefined {
    return node === undefined ? undefined : this.#string(node, path);
  }

  /** The object's properties by key; unknown and duplicate keys are refused. */
  #object(node: Node, path: string, what: string, keys: readonly string[]): Map<string, Node> {
    if (node.type !== 'object') this.#fail(node, path, `${what} must be an object, not ${describeType(node)}`);
    const fields = new Map<string, Node>();
    for (const property of node.children ?? []) {
      const [keyNode, valueNode] = property.children ?? [];
      const key = String(keyNode?.value);
      const keyPath = path === '' ? key : `${path}.${key}`;
      if (keyNode === undefined || valueNode === undefined) this.#fail(property, keyPath, 'a key without a value');
      if (!keys.includes(key)) {
        const near = keys.find((k) => editDistance(k, key.toLowerCase()) <= 2);
        const hint = near === undefined ? `the keys are ${keys.join(', ')}` : `did you mean "${near}"?`;
        this.#fail(keyNode, path, `unknown key ${JSON.stringify(truncate(key))} in ${what}: ${hint}`);
      }
      const earlier = fields.get(key);
      if (earlier !== undefined) {
        const { line } = this.json.position(earlier.offset);
        this.#fail(keyNode, keyPath, `"${key}" appears twice in ${what} (also on line ${line}): JSON would keep only the last one`);
      }
      fields.set(key, valueNode);
    }
    return fields;
  }

  #array(node: Node, path: string): Node[] {
    if (node.type !== 'array') this.#fail(node, path, `expected a list [ … ], not ${describeType(node)}`);
    return node.children ?? [];
  }

  #string(node: Node, path: string): string {
    if (node.type !== 'string') this.#fail(node, path, `expected a string, not ${describeType(node)}`);
    return node.value as string;
  }

  /**
   * Throws the error for `node`. `at` is an index into the node's string value: the column
   * then points at that character, when the string has no escapes before it to throw the
   * count off (else at the string's opening quote).
   */
  #fail(node: Node, path: string, problem: string, at?: number): never {
    let offset = node.offset;
    if (at !== undefined && node.type === 'string') {
      const raw = this.json.text.slice(node.offset + 1, node.offset + node.length - 1);
      if (raw.slice(0, at) === String(node.value).slice(0, at)) offset = node.offset + 1 + at;
    }
    const { line, column } = this.json.position(offset);
    throw new RulesError(this.source, problem, { line, column, ...(path === '' ? {} : { path }) });
  }
}

function parseVerb(text: string): Verb | '*' | undefined {
  return text === '*' || isVerb(text) ? text : undefined;
}

/** `to` left out: every receiving node. */
function anyNode(): Subject {
  const glob = compileCnGlob('*');
  if (isGlobProblem(glob)) throw new Error('unreachable: * is a CN glob');
  return { kind: 'cn', glob, text: '*' };
}

function describeType(node: Node): string {
  switch (node.type) {
    case 'object':
      return 'an object';
    case 'array':
      return 'a list';
    case 'string':
      return `the string ${JSON.stringify(truncate(String(node.value)))}`;
    default:
      return `${node.type} ${JSON.stringify(node.value)}`;
  }
}

/** Levenshtein distance, for "did you mean" on short keys (both at most a few characters long). */
function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2 || b.length > 16) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = row;
  }
  return prev[b.length]!;
}
