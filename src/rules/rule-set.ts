import { VERBS, type Verb } from '../event.js';
import { ANY_SEGMENT, nounSegments } from './match.js';
import { callerRole, subjectMatches, type NodeRole, type Rule, type RulePattern, type RulesDocument } from './rule.js';

/**
 * A compiled rules file and its one question: may this caller send this event to this node?
 * (SPEC §11). Deny beats allow; once any rule exists, what no rule allows is refused.
 *
 * It sits on the hot path of every event once rules exist, so the work is done ahead:
 * - per receiving node ({@link RuleSet.forCallee}, once: a node is always the same callee), the
 *   rules whose `to` matches it, and for each verb a trie of their deny patterns and one of
 *   their allow patterns. A trie node sits at one depth, so a noun visits each node at most
 *   once: the cost is bounded by the noun's depth and the patterns' size, never exponential.
 * - per caller CN (cached), which of those rules' `from` match it.
 * A decision then splits the noun and walks two tries, and allocates nothing else: the
 * decisions are made once, at compile time.
 *
 * Whether a refusal is enforced or only logged (`--rules-audit`) is the caller's business.
 */

/** The answer to "may this caller send this event here?". */
export type Decision =
  /** The file has no rules: everything is allowed, as without `--rules`. */
  | { readonly allowed: true; readonly reason: 'no-rules'; readonly matched?: undefined }
  /** An allow pattern matched and no deny pattern did. */
  | { readonly allowed: true; readonly reason: 'allowed'; readonly matched: RulePattern }
  /** A deny pattern matched (the first in file order). */
  | { readonly allowed: false; readonly reason: 'denied'; readonly matched: RulePattern }
  /** Rules exist and none allows it (default deny). */
  | { readonly allowed: false; readonly reason: 'not-allowed'; readonly matched?: undefined }
  /** The noun cannot be matched safely (see `nounSegments`), or the verb is unknown. */
  | { readonly allowed: false; readonly reason: 'malformed'; readonly matched?: undefined };

/** The receiving node: its role, and its CN when known. */
export interface Callee {
  readonly role: NodeRole;
  readonly name?: string;
}

/** What {@link RuleSet.decide} is asked. The caller's role is the other one (a pipe joins a client and the server). */
export interface DecisionQuery {
  /** The caller's CN (from its verified certificate). */
  readonly caller: string;
  readonly callee: Callee;
  readonly verb: Verb;
  /** The event's noun as received: `//` parameters and a `?` query are ignored. */
  readonly noun: string;
}

const NO_RULES: Decision = Object.freeze({ allowed: true, reason: 'no-rules' });
const NOT_ALLOWED: Decision = Object.freeze({ allowed: false, reason: 'not-allowed' });
const MALFORMED: Decision = Object.freeze({ allowed: false, reason: 'malformed' });

/** Distinct callers whose matching rules are remembered; past it the cache starts over. */
const CALLER_CACHE_SIZE = 1_024;
/** Distinct callees remembered (a node asks for itself; `rules check` for a few). */
const CALLEE_CACHE_SIZE = 64;

/** A compiled rules file. Immutable; a reload makes a new one. */
export class RuleSet {
  readonly #callees = new Map<string, CalleeRules>();
  #last: CalleeRules | undefined;

  constructor(readonly document: RulesDocument) {}

  /** True when the file has no rules at all: then everything is allowed. */
  get isEmpty(): boolean {
    return this.document.rules.length === 0;
  }

  /** The rules as they apply to one receiving node, compiled (and cached). */
  forCallee(callee: Callee): CalleeRules {
    // A node always asks for itself: answer that without building a key.
    const last = this.#last;
    if (last !== undefined && last.role === callee.role && last.name === callee.name) return last;
    const key = `${callee.role}\0${callee.name ?? ''}`;
    let compiled = this.#callees.get(key);
    if (compiled === undefined) {
      if (this.#callees.size >= CALLEE_CACHE_SIZE) this.#callees.clear();
      compiled = new CalleeRules(this.document.rules, callee);
      this.#callees.set(key, compiled);
    }
    this.#last = compiled;
    return compiled;
  }

  /** Decides one event; see {@link Decision}. */
  decide(query: DecisionQuery): Decision {
    if (this.isEmpty) return NO_RULES;
    return this.forCallee(query.callee).decide(query.caller, query.verb, query.noun);
  }
}

/** Compiles a parsed rules file. */
export function compileRules(document: RulesDocument): RuleSet {
  return new RuleSet(document);
}

/** One pattern in a trie: its place in file order, its rule's slot among the callee's rules, the decision it makes. */
interface Entry {
  readonly order: number;
  readonly slot: number;
  readonly decision: Decision;
}

/** A trie node at one depth: children by literal segment and for `*`, entries ending here or with `**` here. */
interface TrieNode {
  literal: Map<string, TrieNode> | undefined;
  any: TrieNode | undefined;
  /** Patterns that end exactly at this depth, in file order. */
  end: Entry[] | undefined;
  /** Patterns whose `**` starts at this depth (it matches zero or more segments), in file order. */
  rest: Entry[] | undefined;
}

const VERB_INDEX: ReadonlyMap<string, number> = new Map(VERBS.map((verb, i) => [verb, i]));

/** The rules that apply to one receiving node, compiled for its decisions. */
export class CalleeRules {
  readonly #rules: readonly Rule[];
  readonly #callerRole: NodeRole;
  readonly #hasRules: boolean;
  /** Per verb (VERBS order): the deny trie and the allow trie; undefined when empty. */
  readonly #deny: Array<TrieNode | undefined>;
  readonly #allow: Array<TrieNode | undefined>;
  readonly #applies = new Map<string, Uint8Array>();

  /** The node these rules are compiled for. */
  readonly role: NodeRole;
  readonly name: string | undefined;

  constructor(allRules: readonly Rule[], callee: Callee) {
    this.role = callee.role;
    this.name = callee.name;
    this.#hasRules = allRules.length > 0;
    this.#rules = allRules.filter((rule) => subjectMatches(rule.to, callee.role, callee.name));
    this.#callerRole = callerRole(callee.role);
    this.#deny = VERBS.map(() => undefined);
    this.#allow = VERBS.map(() => undefined);
    let order = 0;
    this.#rules.forEach((rule, slot) => {
      for (const pattern of [...rule.deny, ...rule.allow]) {
        const entry: Entry = { order: order++, slot, decision: decisionFor(pattern) };
        const tries = pattern.kind === 'deny' ? this.#deny : this.#allow;
        for (let v = 0; v < VERBS.length; v++) {
          // HEAD is GET without the body: a rule of `get` is one of `head` too.
          if (pattern.verb === '*' || pattern.verb === VERBS[v] || (pattern.verb === 'get' && VERBS[v] === 'head')) tries[v] = insert(tries[v], pattern.glob.parts, pattern.glob.rest, entry);
        }
      }
    });
  }

  /** The rules whose `to` matches this node, in file order. */
  get rules(): readonly Rule[] {
    return this.#rules;
  }

  /** Decides one event from `caller` (a CN) to this node. */
  decide(caller: string, verb: Verb, noun: string): Decision {
    if (!this.#hasRules) return NO_RULES;
    const v = VERB_INDEX.get(verb);
    const segments = nounSegments(noun);
    if (v === undefined || segments === undefined) return MALFORMED;
    const applies = this.#appliesTo(caller);
    const deny = this.#deny[v];
    const denied = deny === undefined ? undefined : firstMatch(deny, segments, 0, applies, undefined);
    if (denied !== undefined) return denied.decision;
    const allow = this.#allow[v];
    const allowed = allow === undefined ? undefined : firstMatch(allow, segments, 0, applies, undefined);
    return allowed === undefined ? NOT_ALLOWED : allowed.decision;
  }

  /** Which of this node's rules have a `from` that matches the caller: 1 at the rule's slot. */
  #appliesTo(caller: string): Uint8Array {
    let applies = this.#applies.get(caller);
    if (applies === undefined) {
      applies = new Uint8Array(this.#rules.length);
      for (let i = 0; i < this.#rules.length; i++) applies[i] = subjectMatches(this.#rules[i]!.from, this.#callerRole, caller) ? 1 : 0;
      // The callers are certificate holders, so few; the bound is for a CA that issued many.
      if (this.#applies.size >= CALLER_CACHE_SIZE) this.#applies.clear();
      this.#applies.set(caller, applies);
    }
    return applies;
  }
}

function decisionFor(pattern: RulePattern): Decision {
  return Object.freeze(pattern.kind === 'deny' ? { allowed: false, reason: 'denied', matched: pattern } : { allowed: true, reason: 'allowed', matched: pattern });
}

function newNode(): TrieNode {
  return { literal: undefined, any: undefined, end: undefined, rest: undefined };
}

function insert(root: TrieNode | undefined, parts: readonly string[], rest: boolean, entry: Entry): TrieNode {
  const top = root ?? newNode();
  let node = top;
  for (const part of parts) {
    if (part === ANY_SEGMENT) {
      node = node.any ??= newNode();
    } else {
      // A Map, not an object: a segment such as `__proto__` or `constructor` is just a key.
      node.literal ??= new Map();
      let next = node.literal.get(part);
      if (next === undefined) node.literal.set(part, (next = newNode()));
      node = next;
    }
  }
  if (rest) (node.rest ??= []).push(entry);
  else (node.end ??= []).push(entry);
  return top;
}

/**
 * The earliest entry (file order) that matches `segments` from depth `i` and whose rule applies
 * to the caller, or `best` if none is earlier. Recursion depth is the trie's (at most
 * MAX_GLOB_SEGMENTS + 1), whatever the noun's length.
 */
function firstMatch(node: TrieNode, segments: readonly string[], i: number, applies: Uint8Array, best: Entry | undefined): Entry | undefined {
  if (node.rest !== undefined) best = firstApplicable(node.rest, applies, best);
  if (i === segments.length) return node.end === undefined ? best : firstApplicable(node.end, applies, best);
  const literal = node.literal?.get(segments[i]!);
  if (literal !== undefined) best = firstMatch(literal, segments, i + 1, applies, best);
  if (node.any !== undefined) best = firstMatch(node.any, segments, i + 1, applies, best);
  return best;
}

function firstApplicable(entries: readonly Entry[], applies: Uint8Array, best: Entry | undefined): Entry | undefined {
  for (const entry of entries) {
    if (best !== undefined && entry.order >= best.order) return best;
    if (applies[entry.slot] === 1) return entry;
  }
  return best;
}
