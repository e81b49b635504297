import { ControlErrorCode, type ObservedConfigurationMessage, type ReviewedPlanMessage } from '@entropy/protocol';
import {
  type Configuration,
  type Constraint,
  type Decision,
  type FeasiblePlan,
  verifyPlan,
  type VMState,
} from '@entropy/engine';
import { firstDifference } from './plan-match.ts';
import { withoutSkipped } from './skip-actions.ts';

/** A plan computed earlier (saved by `apply --out`, proposed in `--approve` mode), with what it was computed from. */
export interface ReviewedPlan {
  readonly id: string;
  readonly plan: FeasiblePlan;
  readonly decision: Decision;
  /** The observed configuration the plan was computed from. */
  readonly configuration: Configuration;
  /** The placement constraints the engine was given: the plan is verified against them again before it runs. */
  readonly constraints?: readonly Constraint[];
}

export type ReviewCheck =
  | { readonly ok: true; readonly plan: FeasiblePlan; readonly decision: Decision }
  | {
      readonly ok: false;
      readonly code: typeof ControlErrorCode.PlanStale | typeof ControlErrorCode.SkipRefused;
      readonly message: string;
    };

/**
 * Whether a reviewed plan may run on the live configuration, and what runs: the cluster must
 * still match it for everything the plan touches (plan-match.ts), the whole plan must still pass
 * the verifier there (a VM the plan does not touch may have taken room on a node it uses), and the
 * plan without the skipped actions must pass it too (skip-actions.ts).
 */
export function checkReviewed(reviewed: ReviewedPlan, live: Configuration, skip: readonly string[] = []): ReviewCheck {
  const diff = firstDifference(reviewed.configuration, live, reviewed.plan);
  if (diff !== undefined)
    return {
      ok: false,
      code: ControlErrorCode.PlanStale,
      message: `plan ${reviewed.id} no longer matches the cluster: ${diff}`,
    };
  const constraints = reviewed.constraints ?? [];
  const verdict = verifyPlan(live, reviewed.decision, reviewed.plan, constraints);
  if (!verdict.ok)
    return {
      ok: false,
      code: ControlErrorCode.PlanStale,
      message: `plan ${reviewed.id} no longer fits the cluster: ${verdict.violation.message}`,
    };
  const skipped = withoutSkipped(reviewed.plan, reviewed.decision, live, skip, constraints);
  if (!skipped.ok)
    return { ok: false, code: ControlErrorCode.SkipRefused, message: `plan ${reviewed.id} ${skipped.reason}` };
  return skipped;
}

const ENGINE_STATES: ReadonlySet<string> = new Set<VMState>(['waiting', 'running', 'paused', 'sleeping', 'terminated']);

/** The wire's observed configuration as the engine's (VMs in a state the engine does not plan, crashed or unknown, left out). */
export function configurationOf(m: ObservedConfigurationMessage): Configuration {
  const vms = m.vms.flatMap((v) =>
    ENGINE_STATES.has(v.state)
      ? [{ id: v.id, vjob: v.vjob, demand: v.demand, state: v.state as VMState, ...(v.host ? { host: v.host } : {}) }]
      : [],
  );
  return {
    nodes: m.nodes.map((n) => ({ id: n.id, state: n.state, capacity: n.capacity })),
    vms,
    vjobs: m.vjobs.map((j) => ({
      id: j.id,
      priority: j.priority,
      submittedAt: j.submittedAt,
      vms: vms.filter((v) => v.vjob === j.id).map((v) => v.id),
    })),
  };
}

export function observedConfigurationOf(c: Configuration): ObservedConfigurationMessage {
  return {
    nodes: c.nodes.map((n) => ({ id: n.id, state: n.state, capacity: { ...n.capacity } })),
    vms: c.vms.map((v) => ({
      id: v.id,
      vjob: v.vjob,
      state: v.state,
      ...(v.host !== undefined ? { host: v.host } : {}),
      demand: { ...v.demand },
    })),
    vjobs: c.vjobs.map((j) => ({ id: j.id, priority: j.priority, submittedAt: j.submittedAt })),
  };
}

export function reviewedPlanOf(m: ReviewedPlanMessage): ReviewedPlan {
  return {
    id: m.id,
    decision: m.decision,
    configuration: configurationOf(m.configuration),
    plan: {
      feasible: true,
      actions: m.actions,
      ...(m.nodeActions ? { nodeActions: m.nodeActions } : {}),
      steps: m.steps,
      makespan: m.makespan,
      sumCompletion: m.sumCompletion,
      solveMs: 0,
      target: m.target,
    },
  };
}

export function reviewedPlanMessage(r: ReviewedPlan): ReviewedPlanMessage {
  return {
    id: r.id,
    decision: { ...r.decision },
    configuration: observedConfigurationOf(r.configuration),
    ...planFields(r.plan),
  };
}

/** A plan's actions, steps, durations and target as the wire and the saved files carry them (copies). */
export function planFields(
  plan: Pick<FeasiblePlan, 'actions' | 'nodeActions' | 'steps' | 'makespan' | 'sumCompletion' | 'target'>,
) {
  return {
    actions: plan.actions.map((a) => ({ ...a, dependsOn: [...a.dependsOn] })),
    ...(plan.nodeActions?.length
      ? { nodeActions: plan.nodeActions.map((a) => ({ ...a, dependsOn: [...a.dependsOn] })) }
      : {}),
    steps: plan.steps,
    makespan: plan.makespan,
    sumCompletion: plan.sumCompletion,
    target: Object.fromEntries(Object.entries(plan.target).map(([vm, t]) => [vm, { ...t }])),
  };
}
