import type { Verb } from '../event.js';
import { matchCnGlob, type CnGlob, type NounGlob } from './match.js';

/**
 * The model of an access-rules file (SPEC §11) once parsed: plain data, every part carrying
 * its place in the file so that a decision can say which line made it.
 */

/** Largest rules file read (bytes). A hand-written file of thousands of rules is far smaller. */
export const MAX_RULES_FILE_BYTES = 1024 * 1024;
/** Most rules in a file. */
export const MAX_RULES = 1_000;
/** Most patterns in one rule's allow or deny list. */
export const MAX_PATTERNS_PER_LIST = 1_000;
/** Most patterns in the whole file (each costs a few trie nodes per verb it names). */
export const MAX_PATTERNS = 10_000;
/** Longest pattern (`verb noun-glob`), in characters. */
export const MAX_PATTERN_LENGTH = 256;

/** The two kinds of node; the caller of an event always has the other one. */
export type NodeRole = 'server' | 'client';
export const NODE_ROLES: readonly NodeRole[] = ['server', 'client'];

/**
 * Who a rule is about, as `from` or `to`: a role (`server`, `client`: whoever has it) or a CN
 * glob (`sensor-*`, `hub`, `*`).
 */
export type Subject =
  | { readonly kind: 'role'; readonly role: NodeRole; readonly text: string }
  | { readonly kind: 'cn'; readonly glob: CnGlob; readonly text: string };

/** Whether a pattern allows or denies. */
export type PatternKind = 'allow' | 'deny';

/** One `verb noun-glob` of a rule, compiled, with its place. */
export interface RulePattern {
  /** The index of its rule in `rules`. */
  readonly rule: number;
  readonly kind: PatternKind;
  /** Its index in the rule's allow or deny list. */
  readonly index: number;
  /** As written in the file: `post upload/*`. */
  readonly text: string;
  /** A verb, or `*` for all five. */
  readonly verb: Verb | '*';
  readonly glob: NounGlob;
  /** JSON path: `rules[2].deny[0]`. */
  readonly path: string;
  readonly line: number;
  readonly column: number;
}

/** One rule of the file. */
export interface Rule {
  /** Its index in `rules`. */
  readonly index: number;
  /** JSON path: `rules[2]`. */
  readonly path: string;
  readonly line: number;
  readonly column: number;
  /** The caller: its CN, or its role. */
  readonly from: Subject;
  /** The receiving node: its role or its CN. `*` when the file leaves it out. */
  readonly to: Subject;
  readonly allow: readonly RulePattern[];
  readonly deny: readonly RulePattern[];
  /** The rule's `"comment"`, if any (JSON has no comments of its own). */
  readonly comment?: string;
}

/** A whole rules file, parsed and checked. */
export interface RulesDocument {
  /** The file name it came from (or `<rules>`). */
  readonly source: string;
  readonly rules: readonly Rule[];
  /** How many patterns all the rules have together. */
  readonly patternCount: number;
}

/**
 * True when `subject` names a node of `role` whose CN is `name`. A CN glob never matches a node
 * whose name is not known (`name` undefined), except `*`, which matches every node.
 */
export function subjectMatches(subject: Subject, role: NodeRole, name: string | undefined): boolean {
  if (subject.kind === 'role') return subject.role === role;
  if (name === undefined) return subject.glob.text === '*';
  return matchCnGlob(subject.glob, name);
}

/** The other role: who calls a node of `role`. */
export function callerRole(role: NodeRole): NodeRole {
  return role === 'server' ? 'client' : 'server';
}
