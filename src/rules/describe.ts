import { truncate } from '../text.js';
import { matchCnGlob } from './match.js';
import { callerRole, NODE_ROLES, type NodeRole, type Rule, type RulePattern, type RulesDocument, type Subject } from './rule.js';
import type { Decision } from './rule-set.js';

/**
 * What each identity a rules file names may call on whom, for `restpipe rules check`: pure,
 * from the parsed file (no certificates, no CA: the identities are the file's own names and
 * globs, and the two roles).
 *
 * A rule is listed under caller S and callee T when it holds for every node S and T stand for:
 * its `from` covers S and its `to` covers T. A glob covers another when it matches it read as a
 * plain name (`*` covers `sensor-*`; `sensor-*` covers `sensor-1`); a role covers a CN whose
 * role the file makes plain (`from: server, to: fileserver` makes `fileserver` a client). Rules
 * for a narrower set of callers than S are listed under that narrower set.
 */

/** A caller or callee of the report: a role, or a CN glob of the file (with its role when the file implies one). */
export interface ReportSubject {
  readonly text: string;
  readonly kind: 'role' | 'cn';
  readonly role: NodeRole | undefined;
}

/** What one caller may call on one callee: the allow and deny patterns that hold for all of them, in file order. */
export interface CalleeReport {
  readonly callee: ReportSubject;
  readonly allow: readonly RulePattern[];
  readonly deny: readonly RulePattern[];
}

/** One caller's section. */
export interface CallerReport {
  readonly caller: ReportSubject;
  readonly callees: readonly CalleeReport[];
}

/** The report of a whole file: one section per CN glob the file names, then the two roles. */
export function describeRules(document: RulesDocument): CallerReport[] {
  const subjects = subjectsOf(document.rules);
  const reports: CallerReport[] = [];
  for (const caller of subjects) {
    const callees: CalleeReport[] = [];
    for (const callee of subjects) {
      if (callee === caller || (caller.role !== undefined && caller.role === callee.role)) continue;
      const rules = document.rules.filter((rule) => coversCaller(rule.from, caller, callee) && coversCallee(rule.to, callee, caller));
      // A role calling a role is always shown; otherwise only where some rule is about one of
      // them in particular, so that a CN's section does not repeat its role's.
      const shown = caller.kind === 'role' && callee.kind === 'role' ? true : rules.some((rule) => isSpecific(rule.from) || (callee.kind === 'cn' && isSpecific(rule.to)));
      if (!shown) continue;
      callees.push({ callee, allow: rules.flatMap((rule) => rule.allow), deny: rules.flatMap((rule) => rule.deny) });
    }
    if (callees.length > 0) reports.push({ caller, callees });
  }
  return reports;
}

/** The report as lines of text, aligned, for a terminal. */
export function formatRulesReport(document: RulesDocument, reports: readonly CallerReport[]): string[] {
  const lines = [`${document.source}: valid, ${plural(document.rules.length, 'rule')}, ${plural(document.patternCount, 'pattern')}.`];
  if (document.rules.length === 0) {
    lines.push('No rules: every call is allowed, as without --rules.');
    return lines;
  }
  lines.push('Deny beats allow; what no rule allows is refused. Each node enforces the rules whose "to" matches it.');
  const patternWidth = Math.max(...document.rules.flatMap((rule) => [...rule.allow, ...rule.deny]).map((p) => p.text.length));
  for (const { caller, callees } of reports) {
    lines.push('', `${label(caller)} may call`);
    for (const { callee, allow, deny } of callees) {
      if (allow.length === 0) {
        lines.push(`  on ${label(callee)}: nothing (no rule allows it)`);
        continue;
      }
      lines.push(`  on ${label(callee)}:`);
      for (const pattern of [...allow, ...deny]) lines.push(`    ${patternLine(pattern, patternWidth)}`);
    }
  }
  return lines;
}

/** One decision as a line: `allowed by rules[0].allow[1] "get time" (line 5)`. */
export function describeDecision(decision: Decision): string {
  switch (decision.reason) {
    case 'no-rules':
      return 'allowed: the file has no rules';
    case 'allowed':
      return `allowed by ${where(decision.matched)}`;
    case 'denied':
      return `refused by ${where(decision.matched)}`;
    case 'not-allowed':
      return 'refused: no rule allows it';
    case 'malformed':
      return "refused: the noun has an empty, '.' or '..' segment or an escape that does not decode, so no pattern can match it safely";
  }
}

function where(pattern: RulePattern): string {
  return `${pattern.path} ${JSON.stringify(pattern.text)} (line ${pattern.line})`;
}

function patternLine(pattern: RulePattern, width: number): string {
  return `${pattern.kind === 'allow' ? 'allow' : 'deny '}  ${pattern.text.padEnd(width)}  ${pattern.path}, line ${pattern.line}`;
}

function label(subject: ReportSubject): string {
  if (subject.kind === 'role') return subject.role === 'server' ? 'the server' : 'any client';
  // A CN that is literally a role name is written as the file must write it.
  const text = subject.text === 'server' || subject.text === 'client' ? `cn:${subject.text}` : truncate(subject.text);
  const role = subject.role === undefined ? '' : ` (${subject.role === 'client' ? 'a client' : 'the server'})`;
  return `${subject.text.includes('*') ? 'nodes matching ' : ''}${text}${role}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The CN globs of the file (but `*`), in order of first appearance, then the two roles. */
function subjectsOf(rules: readonly Rule[]): ReportSubject[] {
  const inferred = new Map<string, NodeRole | 'both'>();
  const infer = (subject: Subject, role: NodeRole): void => {
    if (subject.kind !== 'cn' || subject.glob.text === '*') return;
    const known = inferred.get(subject.glob.text);
    inferred.set(subject.glob.text, known === undefined || known === role ? role : 'both');
  };
  const order: string[] = [];
  for (const rule of rules) {
    for (const subject of [rule.from, rule.to]) {
      if (subject.kind === 'cn' && subject.glob.text !== '*' && !order.includes(subject.glob.text)) order.push(subject.glob.text);
    }
    // A role on one side makes the other side's CN the other role.
    if (rule.from.kind === 'role') infer(rule.to, callerRole(rule.from.role));
    if (rule.to.kind === 'role') infer(rule.from, callerRole(rule.to.role));
  }
  const cns = order.map((text): ReportSubject => {
    const role = inferred.get(text);
    return { text, kind: 'cn', role: role === 'both' ? undefined : role };
  });
  return [...cns, ...NODE_ROLES.map((role): ReportSubject => ({ text: role, kind: 'role', role }))];
}

function isSpecific(subject: Subject): boolean {
  return subject.kind === 'cn' && subject.glob.text !== '*';
}

/** True when `from` holds for every caller `caller` stands for, when calling `callee`. */
function coversCaller(from: Subject, caller: ReportSubject, callee: ReportSubject): boolean {
  if (from.kind === 'cn') return caller.kind === 'cn' ? matchCnGlob(from.glob, caller.text) : from.glob.text === '*';
  const role = caller.role ?? (callee.role === undefined ? undefined : callerRole(callee.role));
  return role === from.role;
}

/** True when `to` holds for every node `callee` stands for, when called by `caller`. */
function coversCallee(to: Subject, callee: ReportSubject, caller: ReportSubject): boolean {
  if (to.kind === 'cn') return callee.kind === 'cn' ? matchCnGlob(to.glob, callee.text) : to.glob.text === '*';
  const role = callee.role ?? (caller.role === undefined ? undefined : callerRole(caller.role));
  return role === to.role;
}
