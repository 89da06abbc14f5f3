import { isValidNodeName, NODE_NAME_RULE } from '../../names.js';
import { isVerb, VERBS } from '../../event.js';
import { callerRole, compileRules, describeDecision, describeRules, formatRulesReport, readRulesFile, subjectMatches, type Callee, type NodeRole } from '../../rules/index.js';
import { settingError } from '../config.js';

/** The flags of `restpipe rules check`. */
export interface RulesCheckFlags {
  as?: string;
  to?: string;
}

/**
 * `restpipe rules check FILE`: validates an access-rules file (SPEC §11) and prints what each
 * identity it names may call on whom. With `--as CN --to ROLE[:CN] VERB NOUN` it answers that
 * one question instead: which rule allows or refuses it.
 *
 * @returns 0 when the file is valid (and the asked call allowed), 1 when the asked call is
 *   refused. A broken file throws a RulesError (one line naming the place; the CLI exits 2).
 */
export async function rulesCheck(file: string, verb: string | undefined, noun: string | undefined, flags: RulesCheckFlags, out: (line: string) => void): Promise<number> {
  const question = flags.as !== undefined || flags.to !== undefined || verb !== undefined;
  // The question's arguments are checked before the file is read: a typo there is the same
  // kind of mistake as a bad flag, whatever the file holds.
  const asked = question ? parseQuestion(flags, verb, noun) : undefined;
  const document = await readRulesFile(file);
  if (asked === undefined) {
    for (const line of formatRulesReport(document, describeRules(document))) out(line);
    return 0;
  }
  const decision = compileRules(document).decide(asked);
  const callee = asked.callee.name === undefined ? `the ${asked.callee.role}` : `${asked.callee.role} ${asked.callee.name}`;
  out(`${asked.caller} → ${callee}: ${asked.verb} ${asked.noun}: ${describeDecision(decision)}`);
  // Rules about a named callee could have applied, had the question named one.
  const callerIs = callerRole(asked.callee.role);
  if (asked.callee.name === undefined && document.rules.some((rule) => rule.to.kind === 'cn' && rule.to.glob.text !== '*' && subjectMatches(rule.from, callerIs, asked.caller))) {
    out(`  (rules whose "to" is a CN were not considered: name the node with --to ${asked.callee.role}:NAME)`);
  }
  return decision.allowed ? 0 : 1;
}

function parseQuestion(flags: RulesCheckFlags, verb: string | undefined, noun: string | undefined) {
  if (flags.as === undefined || flags.to === undefined || verb === undefined || noun === undefined) {
    throw settingError('to ask about one call, give all of --as CN, --to ROLE[:CN], VERB and NOUN (e.g. --as sensor-1 --to server post readings)');
  }
  if (!isValidNodeName(flags.as)) throw settingError(`--as ${JSON.stringify(flags.as)}: not a node name (${NODE_NAME_RULE})`);
  const lowerVerb = verb.toLowerCase();
  if (!isVerb(lowerVerb)) throw settingError(`VERB ${JSON.stringify(verb)}: use one of ${VERBS.join(', ')}`);
  return { caller: flags.as, callee: parseCallee(flags.to), verb: lowerVerb, noun };
}

/** `server`, `client`, `server:NAME` or `client:NAME`. */
function parseCallee(text: string): Callee {
  const colon = text.indexOf(':');
  const role = colon === -1 ? text : text.slice(0, colon);
  if (role !== 'server' && role !== 'client') {
    throw settingError(`--to ${JSON.stringify(text)}: expected server, client, server:NAME or client:NAME (a CN alone does not say which role the node has)`);
  }
  if (colon === -1) return { role: role as NodeRole };
  const name = text.slice(colon + 1);
  if (!isValidNodeName(name)) throw settingError(`--to ${JSON.stringify(text)}: ${JSON.stringify(name)} is not a node name (${NODE_NAME_RULE})`);
  return { role, name };
}
