import type { Configuration, Decision } from '../model/configuration.ts';
import { isAllowedTransition, VJOB_STATES, VJOB_TRANSITIONS, type VJobState } from '../model/lifecycle.ts';
import { vmsOfVjobs } from '../model/vjob-vms.ts';
import { InvalidDecisionError } from './policy-errors.ts';
import { vjobStateOf } from './policy.ts';

/**
 * Checks a value returned by a policy against the configuration it was computed for: a plain
 * object mapping known vjob ids to vjob states, each allowed from the vjob's current state by
 * the life-cycle table (model/lifecycle.ts). Returns it typed; throws InvalidDecisionError
 * naming the first offending vjob and the reason.
 */
export function validateDecision(decision: unknown, configuration: Configuration, policy = 'decision'): Decision {
  if (decision === null || typeof decision !== 'object' || Array.isArray(decision)) {
    const got = decision === null ? 'null' : Array.isArray(decision) ? 'an array' : typeof decision;
    throw new InvalidDecisionError(policy, `expected an object mapping vjob ids to states, got ${got}`);
  }
  const current = currentStates(configuration);
  for (const [vjob, wanted] of Object.entries(decision)) {
    const from = current.get(vjob);
    if (from === undefined) throw new InvalidDecisionError(policy, 'unknown vjob', vjob);
    if (!VJOB_STATES.includes(wanted as VJobState))
      throw new InvalidDecisionError(policy, `unknown state ${JSON.stringify(wanted)} (expected one of ${VJOB_STATES.join(', ')})`, vjob);
    if (!isAllowedTransition(from, wanted as VJobState))
      throw new InvalidDecisionError(
        policy,
        `cannot go from ${from} to ${wanted as string} (from ${from} the life cycle allows ${VJOB_TRANSITIONS[from].join(', ')})`,
        vjob,
      );
  }
  return decision as Decision;
}

/** The current state of every vjob of a configuration. */
export function currentStates(configuration: Configuration): Map<string, VJobState> {
  const vmsOf = vmsOfVjobs(configuration);
  const states = new Map<string, VJobState>();
  configuration.vjobs.forEach((j, k) => states.set(j.id, vjobStateOf(vmsOf[k]!.map((v) => v?.state ?? 'terminated'))));
  return states;
}
