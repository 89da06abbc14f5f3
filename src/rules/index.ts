// Access rules (SPEC §11): parse a rules file, compile it, decide per event, describe it, and
// the gate that enforces it on a receiving node (create.ts puts it in front of the dispatcher).
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
export { DEFAULT_REFUSAL_LOG_WINDOW_MS, RulesGate, type RulesGateOptions } from './gate.js';
export { MAX_CALLERS, MAX_KEYS, MAX_KEYS_PER_CALLER, RefusalLog, type RefusalEntry, type RefusalLogSink } from './refusal-log.js';
