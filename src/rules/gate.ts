import { channels } from '../diagnostics.js';
import { ErrorCode } from '../errors.js';
import { ReturnCode, type EventHead, type Reply } from '../event.js';
import { silentLogger, type Logger } from '../log.js';
import { errorReply } from '../replies.js';
import { peerText } from '../text.js';
import { describeDecision } from './describe.js';
import { RefusalLog } from './refusal-log.js';
import type { Callee, Decision, RuleSet } from './rule-set.js';

/** Options of {@link RulesGate}. */
export interface RulesGateOptions {
  /** The compiled rules file. */
  rules: RuleSet;
  /** The receiving node: its role and CN (rules' `to`). */
  callee: Callee;
  /** Refuse nothing; log what would be refused. @default false */
  audit?: boolean;
  /** Refusals are logged at warn (audit: info), bounded (refusal-log.ts). @default silent */
  logger?: Logger;
  /** The window of the refusal log: a key is logged once per window, then counted. @default 60000 */
  logWindowMs?: number;
}

/** Default window of the refusal log. */
export const DEFAULT_REFUSAL_LOG_WINDOW_MS = 60_000;

/**
 * Access rules in force on a receiving node (SPEC §11): one check of each event a peer sends,
 * before the dispatcher chooses its target (a handler, or a forward), so nothing the rules
 * refuse runs. The caller is the CN of the peer's verified certificate; the callee is this node.
 * A refused event is answered at once with return code 254 and error code `forbidden` (the
 * caller's gateway answers 403); it is logged (bounded: refusal-log.ts) and published on
 * `channels.rulesRefused` for the metrics. With `audit`, nothing is refused and what would have
 * been is logged and published the same way.
 *
 * The rules can be replaced while the node runs (a reload); events already dispatched are not
 * judged again. A node without rules has no gate at all: the check costs nothing then.
 */
export class RulesGate {
  #rules: RuleSet;
  readonly #callee: Callee;
  readonly #audit: boolean;
  readonly #log: Logger;
  readonly #refusalLog: RefusalLog<Decision>;

  constructor(options: RulesGateOptions) {
    this.#rules = options.rules;
    this.#callee = options.callee;
    this.#audit = options.audit ?? false;
    this.#log = (options.logger ?? silentLogger).child({ component: 'rules' });
    const windowMs = options.logWindowMs ?? DEFAULT_REFUSAL_LOG_WINDOW_MS;
    const windowS = windowMs / 1000;
    const verbed = this.#audit ? 'would refuse' : 'refused';
    const level = this.#audit ? 'info' : 'warn';
    this.#refusalLog = new RefusalLog(windowMs, {
      first: (e, decision) => {
        const rule = decision.matched;
        this.#log[level](
          { caller: e.caller, verb: e.verb, noun: e.noun, reason: decision.reason, rule: rule?.path, line: rule?.line, audit: this.#audit },
          `access rules ${verbed} ${e.verb} '${e.noun}' from '${e.caller}': ${describeDecision(decision)}${this.#audit ? ' (audit: let through)' : ''}`,
        );
      },
      repeated: (e, count) =>
        this.#log[level](
          { caller: e.caller, verb: e.verb, noun: e.noun, repeated: count, windowS, audit: this.#audit },
          `access rules ${verbed} ${e.verb} '${e.noun}' from '${e.caller}' ${count} more time${count === 1 ? '' : 's'} in the last ${windowS} s`,
        ),
      overflow: (caller, count) =>
        this.#log[level](
          { caller: caller ?? null, unlogged: count, windowS, audit: this.#audit },
          `access rules ${verbed} ${count} more event${count === 1 ? '' : 's'} ${caller === undefined ? 'from other callers' : `from '${caller}'`} in the last ${windowS} s (too many distinct calls to log each)`,
        ),
    });
  }

  /** Whether refusals are only logged. */
  get audit(): boolean {
    return this.#audit;
  }

  /** The rules in force. */
  get rules(): RuleSet {
    return this.#rules;
  }

  /** Puts new rules in force (a reload); the next event is judged by them. */
  replace(rules: RuleSet): void {
    this.#rules = rules;
  }

  /**
   * Judges one event from `caller` (a CN): undefined when it may go on (always, in audit mode),
   * else the refusal to answer it with.
   */
  check(event: EventHead, caller: string): Reply | undefined {
    const decision = this.#rules.decide({ caller, callee: this.#callee, verb: event.verb, noun: event.path });
    if (decision.allowed) return undefined;
    this.#refused(decision, caller, event);
    if (this.#audit) return undefined;
    return errorReply(
      ReturnCode.FORBIDDEN,
      ErrorCode.FORBIDDEN,
      `the access rules of ${this.#callee.role} '${this.#callee.name ?? ''}' do not let '${safe(caller)}' ${event.verb} '${safe(event.path)}'`,
    );
  }

  /** Reports the refusals counted and not yet logged; leaves no timer. */
  close(): void {
    this.#refusalLog.close();
  }

  #refused(decision: Decision, caller: string, event: EventHead): void {
    if (channels.rulesRefused.hasSubscribers) {
      channels.rulesRefused.publish({ role: this.#callee.role, caller, verb: event.verb, noun: event.path, audit: this.#audit });
    }
    this.#refusalLog.refused(safe(caller), event.verb, safe(event.path), decision);
  }
}

/** A caller's CN comes from a certificate the CA signed, and a noun from the peer: both bounded and escaped for logs. */
function safe(text: string): string {
  return peerText(text, 128);
}
