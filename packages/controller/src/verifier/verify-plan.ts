import type { Configuration, Decision } from '../model/configuration.ts';
import { checkBarrier } from './barrier-check.ts';
import { checkCapacity } from './capacity-check.ts';
import { checkDependencies } from './dependency-check.ts';
import { checkFinalState } from './final-state-check.ts';
import { checkMalformed } from './malformed-check.ts';
import { indexPlan, type VerifiablePlan } from './plan-context.ts';
import { checkSynchrony } from './synchrony-check.ts';
import { replayTransitions } from './transition-check.ts';
import type { Verdict, Violation } from './violation.ts';

/**
 * Replays a plan against its source configuration and returns the first violation: malformed
 * input first, then each VM's transitions, dependencies, vjob synchrony, capacity in the timed view,
 * capacity in the barrier view, and the final state. Pure; shares nothing with the planner.
 * Every FeasiblePlan is a VerifiablePlan; a plan without `target` skips the comparison with it.
 */
export function verifyPlan(configuration: Configuration, decision: Decision, plan: VerifiablePlan): Verdict {
  const ctx = indexPlan(configuration, decision, plan);
  const malformed = checkMalformed(ctx);
  if (malformed) return failed(malformed);
  const replayed = replayTransitions(ctx);
  if (!replayed.ok) return failed(replayed.violation);
  const { replay } = replayed;
  const found =
    checkDependencies(ctx) ??
    checkSynchrony(ctx) ??
    checkCapacity(ctx, replay) ??
    checkBarrier(ctx, replay) ??
    checkFinalState(ctx, replay);
  return found ? failed(found) : { ok: true };
}

const failed = (violation: Violation): Verdict => ({ ok: false, violation });
