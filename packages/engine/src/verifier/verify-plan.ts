import { buildPlanView } from '../constraints/plan-view.ts';
import { checkConstraints } from '../constraints/check-constraints.ts';
import type { Constraint } from '../constraints/constraint.ts';
import { prepareInstance } from '../constraints/prepare.ts';
import type { Configuration, Decision } from '../model/configuration.ts';
import type { NetworkModel } from '../model/network.ts';
import { allocationSteps } from './allocation-check.ts';
import { checkAsap } from './asap-check.ts';
import { checkBarrier } from './barrier-check.ts';
import { checkCapacity } from './capacity-check.ts';
import { checkDependencies } from './dependency-check.ts';
import { checkFinalState } from './final-state-check.ts';
import { checkMalformed } from './malformed-check.ts';
import { checkNetwork } from './network-check.ts';
import { checkNodePower } from './node-power-check.ts';
import { indexPlan, type VerifiablePlan } from './plan-context.ts';
import { checkSynchrony } from './synchrony-check.ts';
import { replayTransitions } from './transition-check.ts';
import type { Verdict, Violation } from './violation.ts';

/**
 * Replays a plan against its source configuration and returns the first violation: malformed
 * input first, then each VM's transitions, dependencies, vjob synchrony, capacity in the timed view,
 * capacity in the barrier view, capacity under ASAP execution with any durations, and the final state. Pure; shares nothing with the planner.
 * Every FeasiblePlan is a VerifiablePlan; a plan without `target` skips the comparison with it.
 *
 * With constraints, the plan is replayed against the instance they prepare (a `running` constraint
 * is a decision, `preserve` a raised demand, `overbook` a larger capacity: src/constraints), node
 * power actions are checked, and then every constraint by its own check: discrete ones on the final
 * configuration, continuous ones over the plan's timeline.
 *
 * A plan with `allocations` (BtrPlace's allocate actions) is checked with BtrPlace's semantics of
 * raised demands: a VM that stays holds its source demand until its allocate, and the node must
 * have room for the raise at that instant.
 *
 * With a network (`options.network`, BtrPlace's network view), concurrent migrations may not carry
 * more than a link direction's or a switch's capacity at any instant (network-check.ts).
 */
export function verifyPlan(
  configuration: Configuration,
  decision: Decision,
  plan: VerifiablePlan,
  constraints: readonly Constraint[] = [],
  options: VerifyOptions = {},
): Verdict {
  const prepared = prepareInstance(configuration, decision, constraints);
  if (prepared.conflicts.length > 0)
    return failed({ kind: 'constraint', message: `the constraints contradict each other: ${prepared.conflicts[0]}` });
  const ctx = indexPlan(prepared.configuration, prepared.decision, plan);
  const malformed = checkMalformed(ctx);
  if (malformed) return failed(malformed);
  const replayed = replayTransitions(ctx);
  if (!replayed.ok) return failed(replayed.violation);
  const { replay } = replayed;
  const steps = plan.allocations ? allocationSteps(ctx, configuration) : [];
  if (!Array.isArray(steps)) return failed(steps);
  const found =
    checkDependencies(ctx) ??
    checkSynchrony(ctx, replay) ??
    checkCapacity(ctx, replay, steps) ??
    checkBarrier(ctx, replay) ??
    checkAsap(ctx, replay) ??
    checkFinalState(ctx, replay) ??
    checkNodePower(ctx, replay) ??
    (options.network ? checkNetwork(ctx, options.network) : undefined);
  if (found) return failed(found);
  if (constraints.length === 0) return { ok: true };
  const broken = checkConstraints(
    buildPlanView(prepared.configuration, [...plan.actions, ...(plan.nodeActions ?? [])]),
    constraints,
  );
  return broken ? failed({ kind: 'constraint', message: broken.message }) : { ok: true };
}

export interface VerifyOptions {
  /** Links and switches the plan's migrations share. */
  readonly network?: NetworkModel;
}

const failed = (violation: Violation): Verdict => ({ ok: false, violation });
