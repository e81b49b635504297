import {
  type Configuration,
  type Constraint,
  type Decision,
  type FeasiblePlan,
  type NodeAction,
  type PlannedAction,
  verifyPlan,
  type VJobState,
} from '@entropy/engine';

export type SkipResult =
  | { readonly ok: true; readonly plan: FeasiblePlan; readonly decision: Decision }
  | { readonly ok: false; readonly reason: string };

/**
 * A plan without some of its actions, verified again on `configuration`. Only the named actions
 * are left out (nothing is skipped for the operator: an action that needs a skipped one stays, and
 * the verifier refuses the plan when it no longer holds). The plan's dependencies on a skipped
 * action go, its steps are renumbered without the empty ones, and a vjob all of whose actions are
 * skipped drops out of the decision: it keeps its state. A vjob some of whose actions remain keeps
 * its wanted state, so that skipping one VM of a vjob is refused (its VMs would end in different states).
 */
export function withoutSkipped(
  plan: FeasiblePlan,
  decision: Decision,
  configuration: Configuration,
  skip: readonly string[],
  constraints: readonly Constraint[] = [],
): SkipResult {
  const skipped = new Set(skip);
  if (skipped.size === 0) return { ok: true, plan, decision };
  const ids = new Set([...plan.actions.map((a) => a.id), ...(plan.nodeActions ?? []).map((a) => a.id)]);
  const unknown = [...skipped].filter((id) => !ids.has(id));
  if (unknown.length > 0) return { ok: false, reason: `the plan has no action ${unknown.join(', ')}` };

  const kept = plan.actions.filter((a) => !skipped.has(a.id));
  const keptNodes = (plan.nodeActions ?? []).filter((a) => !skipped.has(a.id));
  const steps = [...new Set([...kept, ...keptNodes].map((a) => a.step))].sort((a, b) => a - b);
  const stepOf = new Map(steps.map((s, i) => [s, i]));
  const trim = <A extends PlannedAction | NodeAction>(a: A): A => ({
    ...a,
    step: stepOf.get(a.step)!,
    dependsOn: a.dependsOn.filter((d) => !skipped.has(d)),
  });

  const remaining = new Set(kept.map((a) => a.vjob));
  const dropped = new Set(plan.actions.filter((a) => skipped.has(a.id) && !remaining.has(a.vjob)).map((a) => a.vjob));
  const nextDecision: Record<string, VJobState> = {};
  for (const [vjob, state] of Object.entries(decision)) if (!dropped.has(vjob)) nextDecision[vjob] = state;

  // A VM none of whose actions remain stays as it is.
  const moved = new Set(kept.map((a) => a.vm));
  const stays = new Set(plan.actions.filter((a) => skipped.has(a.id) && !moved.has(a.vm)).map((a) => a.vm));
  const target: Record<string, FeasiblePlan['target'][string]> = { ...plan.target };
  for (const vm of configuration.vms) {
    if (!stays.has(vm.id)) continue;
    const state = targetOfUnmoved(vm.state);
    if (state === undefined) delete target[vm.id];
    else target[vm.id] = { state, ...(vm.host !== undefined && state !== 'waiting' ? { host: vm.host } : {}) };
  }

  const end = Math.max(0, ...kept.map((a) => a.end), ...keptNodes.map((a) => a.end));
  const next: FeasiblePlan = {
    ...plan,
    actions: kept.map(trim),
    ...(plan.nodeActions ? { nodeActions: keptNodes.map(trim) } : {}),
    steps: steps.length,
    makespan: end,
    sumCompletion: kept.reduce((sum, a) => sum + a.end, 0),
    target,
  };
  const verdict = verifyPlan(configuration, nextDecision, next, constraints);
  if (!verdict.ok) return { ok: false, reason: `without ${[...skipped].join(', ')}: ${verdict.violation.message}` };
  return { ok: true, plan: next, decision: nextDecision };
}

/** The target of a VM a plan leaves alone: its own state, or none (terminated) for one that has no vjob state. */
function targetOfUnmoved(state: Configuration['vms'][number]['state']): VJobState | undefined {
  if (state === 'paused') return 'running';
  if (state === 'running' || state === 'sleeping' || state === 'waiting') return state;
  return undefined;
}
