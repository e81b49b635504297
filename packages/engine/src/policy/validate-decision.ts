import type { Configuration, Decision } from '../model/configuration.ts';
import {
  describeUnreachable,
  unreachableTargets,
  VJOB_STATES,
  type VJobState,
  type VMState,
} from '../model/lifecycle.ts';
import { InvalidDecisionError } from './policy-errors.ts';

/**
 * Checks a value returned by a policy against the configuration it was computed for: a plain
 * object mapping known vjob ids to vjob states, each reachable by every VM of its vjob from the
 * VM's current state (the life-cycle table, model/lifecycle.ts). Returns it typed; throws
 * InvalidDecisionError naming the first offending vjob (and VM) and the reason.
 */
export function validateDecision(decision: unknown, configuration: Configuration, policy = 'decision'): Decision {
  if (decision === null || typeof decision !== 'object' || Array.isArray(decision)) {
    const got = decision === null ? 'null' : Array.isArray(decision) ? 'an array' : typeof decision;
    throw new InvalidDecisionError(policy, `expected an object mapping vjob ids to states, got ${got}`);
  }
  const known = new Set(configuration.vjobs.map((j) => j.id));
  for (const [vjob, wanted] of Object.entries(decision)) {
    if (!known.has(vjob)) throw new InvalidDecisionError(policy, 'unknown vjob', vjob);
    if (!VJOB_STATES.includes(wanted as VJobState))
      throw new InvalidDecisionError(
        policy,
        `unknown state ${JSON.stringify(wanted)} (expected one of ${VJOB_STATES.join(', ')})`,
        vjob,
      );
  }
  const [unreachable] = unreachableTargets(configuration.vms, decision as Decision);
  if (unreachable) throw new InvalidDecisionError(policy, describeUnreachable(unreachable), unreachable.vjob);
  return decision as Decision;
}

/** The current state of every VM of every vjob of a configuration (a VM the configuration lacks counts as terminated). */
export function currentStates(configuration: Configuration): Map<string, VMState[]> {
  const stateOfVm = new Map(configuration.vms.map((v) => [v.id, v.state]));
  return new Map(configuration.vjobs.map((j) => [j.id, j.vms.map((id) => stateOfVm.get(id) ?? 'terminated')]));
}
