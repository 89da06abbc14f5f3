// Access rules (SPEC §11): parse a rules file, compile it, decide per event, describe it.
// Nothing in the event path imports this yet; the seam is one check on the receiving node
// just before the dispatcher chooses a target.
export { compileRules, CalleeRules, RuleSet, type Callee, type Decision, type DecisionQuery } from './rule-set.js';
export { describeDecision, describeRules, formatRulesReport, type CalleeReport, type CallerReport, type ReportSubject } from './describe.js';
export { loadRules, readRulesFile } from './load.js';
export { compileCnGlob, compileNounGlob, matchCnGlob, matchNounGlob, nounSegments, type CnGlob, type GlobProblem, type NounGlob } from './match.js';
export { parseRules } from './parse.js';
export {
  callerRole,
  subjectMatches,
  MAX_PATTERN_LENGTH,
  MAX_PATTERNS,
  MAX_PATTERNS_PER_LIST,
  MAX_RULES,
  MAX_RULES_FILE_BYTES,
  NODE_ROLES,
  type NodeRole,
  type PatternKind,
  type Rule,
  type RulePattern,
  type RulesDocument,
  type Subject,
} from './rule.js';
export { RulesError, type RulesPlace } from './rules-error.js';
