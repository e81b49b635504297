import type { Decision } from '../model/configuration.ts';
import { blockingVm } from '../model/lifecycle.ts';
import { PolicyError, PolicyErrorCode } from './policy-errors.ts';
import type { Policy, PolicyView } from './policy.ts';
import { currentStates, validateDecision } from './validate-decision.ts';

export interface SafeDecision {
  readonly decision: Decision;
  /** Why the policy's answer was not used; the decision is then the last good one. */
  readonly error?: PolicyError;
}

/**
 * Asks a policy for a decision without letting it break the control loop. When `decide` throws,
 * returns a promise, or returns an invalid decision, the error is reported and the last good
 * decision is kept, minus the entries that the life cycle no longer allows (a vjob that has
 * terminated since, for instance).
 */
export function decideSafely(policy: Policy, view: PolicyView, lastGood: Decision = {}): SafeDecision {
  let answer: unknown;
  try {
    answer = policy.decide(view);
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause);
    return fallback(new PolicyError(PolicyErrorCode.PolicyFailed, `policy '${policy.name}' threw: ${why}`, { cause }));
  }
  if (answer !== null && typeof answer === 'object' && typeof (answer as { then?: unknown }).then === 'function')
    return fallback(
      new PolicyError(
        PolicyErrorCode.PolicyFailed,
        `policy '${policy.name}' returned a promise; decide must be synchronous`,
      ),
    );
  try {
    return { decision: validateDecision(answer, view.configuration, policy.name) };
  } catch (error) {
    if (error instanceof PolicyError) return fallback(error);
    throw error;
  }

  function fallback(error: PolicyError): SafeDecision {
    const states = currentStates(view.configuration);
    const kept: Record<string, Decision[string]> = {};
    for (const [vjob, wanted] of Object.entries(lastGood)) {
      const vms = states.get(vjob);
      if (vms !== undefined && blockingVm(vms, wanted) < 0) kept[vjob] = wanted;
    }
    return { decision: kept, error };
  }
}
