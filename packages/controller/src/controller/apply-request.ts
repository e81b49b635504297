import {
  type ApplyReply,
  type ApplyRequest,
  ControlErrorCode,
  type ControlError,
  type InputIssue,
} from '@entropy/protocol';
import * as z from 'zod';
import {
  type ConstraintJson,
  constraintsSchema,
  inputIssues,
  type CostModel,
  type CostModelOverrides,
  costModelWith,
  type Decision,
  InvalidDecisionError,
  validateDecision,
  type VJobState,
} from '@entropy/engine';
import type { MonitorView } from '../monitor/index.ts';
import { TurnOutcome } from '../reconcile/reconcile.ts';
import type { ReconcileLoop } from '../reconcile/reconcile-loop.ts';
import type { VJobQueue } from '../queue/vjob-queue.ts';
import { observedConfigurationOf } from '../review/reviewed-plan.ts';

export interface ApplyDeps {
  readonly loop: ReconcileLoop;
  readonly queue?: VJobQueue;
  /** The monitor's view once every online node has reported since the last plan. */
  freshView(): Promise<MonitorView>;
  readonly now?: () => number;
  /** The controller's cost model: a request's overrides apply to it, and a request without any plans with it. */
  readonly costModel?: CostModel;
}

const refuse = (code: ControlErrorCode, message: string, field?: string): ApplyReply => ({
  ok: false,
  error: { code, message, ...(field ? { field } : {}) } as ControlError,
});

/**
 * `entropy apply`, as one input of the reconcile loop rather than a path of its own. The vjobs and
 * VMs the request names are registered durably, as the operator's; the decision is checked against
 * what the agents report; what it wants of the operator's vjobs is recorded (a restarted
 * controller keeps driving them there), what it wants of the policy's vjobs holds for this turn
 * only. Then the loop runs a turn now with the decision as its overlay, and the reply is that
 * turn's plan: the difference between what is observed and everything wanted, this decision included.
 */
export async function applyRequest(deps: ApplyDeps, request: ApplyRequest): Promise<ApplyReply> {
  const { loop, queue } = deps;
  const now = deps.now ?? Date.now;
  const busy = loop.running();
  if (busy) return refuse(ControlErrorCode.Busy, `plan ${busy} is running`);
  let view = await deps.freshView();
  if (
    queue &&
    ((request.vjobs?.length ?? 0) > 0 || (request.vms?.length ?? 0) > 0 || Object.keys(request.decision).length > 0)
  ) {
    const named = new Set([
      ...(request.vjobs ?? []).map((j) => j.id),
      ...(request.vms ?? []).map((vm) => vm.vjob),
      ...Object.keys(request.decision),
    ]);
    const declared = new Map((request.vjobs ?? []).map((j) => [j.id, j]));
    const observed = new Map(view.configuration.vjobs.map((j) => [j.id, j]));
    const stateOf = new Map(view.configuration.vms.map((vm) => [vm.id, vm.state]));
    const vjobs: { id: string; priority: number; submittedAt: number; state: VJobState }[] = [];
    for (const id of named) {
      if (queue.get(id) !== undefined && queue.get(id)!.state !== 'terminated') continue;
      const seen = observed.get(id);
      if (!declared.has(id) && !seen && !(request.vms ?? []).some((vm) => vm.vjob === id)) continue;
      const states = (seen?.vms ?? []).map((vm) => stateOf.get(vm)!);
      const state: VJobState = states.some((s) => s === 'running' || s === 'paused')
        ? 'running'
        : states.some((s) => s === 'sleeping')
          ? 'sleeping'
          : 'waiting';
      vjobs.push({
        id,
        priority: declared.get(id)?.priority ?? seen?.priority ?? 0,
        submittedAt: declared.get(id)?.submittedAt ?? seen?.submittedAt ?? now(),
        state,
      });
    }
    const vms = [
      ...(request.vms ?? []).map((vm) => ({ id: vm.id, vjob: vm.vjob, demand: vm.demand })),
      ...view.configuration.vms
        .filter((vm) => vjobs.some((j) => j.id === vm.vjob))
        .map((vm) => ({ id: vm.id, vjob: vm.vjob, demand: vm.demand })),
    ];
    await queue.registerOperatorVjobs(vjobs, dedupe(vms));
    view = await deps.freshView();
  }
  const left = new Map(view.excluded.filter((e) => e.vjob !== undefined).map((e) => [e.vjob!, e]));
  for (const vjob of Object.keys(request.decision)) {
    const e = left.get(vjob);
    if (e)
      return refuse(
        ControlErrorCode.InvalidDecision,
        `vjob ${vjob} cannot be planned: VM ${e.vm} is ${e.reason}${e.node ? ` (node ${e.node})` : ''}`,
        `decision.${vjob}`,
      );
  }
  const constraints = requestConstraints(request);
  if ('issue' in constraints)
    return refuse(
      ControlErrorCode.BadRequest,
      `${constraints.issue.path}: ${constraints.issue.reason}`,
      constraints.issue.path,
    );
  let decision: Decision;
  try {
    decision = validateDecision(request.decision, view.configuration);
  } catch (err) {
    if (err instanceof InvalidDecisionError) return refuse(ControlErrorCode.InvalidDecision, err.message, 'decision');
    throw err;
  }
  if (queue && !request.dryRun)
    for (const [vjob, state] of Object.entries(decision)) if (!queue.isPolicyVjob(vjob)) await queue.want(vjob, state);
  const reply = await loop.turnNow({
    planId: request.planId,
    overlay: decision,
    ...(request.costModel ? { costModel: costModelWith(request.costModel as CostModelOverrides, deps.costModel) } : {}),
    ...(request.mode ? { mode: request.mode } : {}),
    ...(request.timeLimitMs !== undefined ? { timeLimitMs: request.timeLimitMs } : {}),
    ...(request.dryRun ? { dryRun: true } : {}),
    ...(constraints.constraints.length > 0 ? { constraints: constraints.constraints } : {}),
  });
  if (!reply.ok)
    return refuse(
      ControlErrorCode.Busy,
      reply.busy === 'fresh-status'
        ? 'the agents have not all reported since the last plan; try again'
        : `plan ${reply.busy} is running`,
    );
  const { result, executing, observed } = reply;
  if (result.outcome === TurnOutcome.WaitingForNodes)
    return refuse(ControlErrorCode.Busy, `${result.reasons.join('; ')}; try again`);
  if (result.outcome === TurnOutcome.Infeasible) return refuse(ControlErrorCode.Infeasible, result.reasons.join('; '));
  const plan = result.plan;
  const heldNamed = result.held.filter((h) => h.vjob in decision);
  return {
    ok: true,
    planId: request.planId,
    actions: (plan?.actions ?? []).map((a) => ({ ...a, dependsOn: [...a.dependsOn] })),
    ...(plan?.nodeActions?.length
      ? { nodeActions: plan.nodeActions.map((a) => ({ ...a, dependsOn: [...a.dependsOn] })) }
      : {}),
    steps: plan?.steps ?? 0,
    makespan: plan?.makespan ?? 0,
    sumCompletion: plan?.sumCompletion ?? 0,
    solveMs: plan?.solveMs ?? 0,
    excluded: view.excluded.map((e) => ({ ...e })),
    target: Object.fromEntries(Object.entries(plan?.target ?? {}).map(([vm, t]) => [vm, { ...t }])),
    executing,
    ...(heldNamed.length > 0 || result.deferred.length > 0 || result.reasons.length > 0
      ? { notes: [...heldNamed.map((h) => `vjob ${h.vjob} waits: ${h.reason}`), ...result.reasons] }
      : {}),
    // A dry run's plan may be saved (`apply --out`) and executed later if the cluster still matches this.
    ...(request.dryRun && observed
      ? { decision: { ...result.decision }, configuration: observedConfigurationOf(observed) }
      : {}),
  };
}

function dedupe<T extends { id: string }>(items: readonly T[]): T[] {
  const seen = new Set<string>();
  return items.filter((i) => !seen.has(i.id) && seen.add(i.id));
}

const requestConstraintsSchema = z.object({ constraints: constraintsSchema.optional() });

/** The request's constraints, shaped (ids are resolved against the cluster in the turn), or the first issue with its path. */
function requestConstraints(
  request: ApplyRequest,
): { readonly constraints: readonly ConstraintJson[] } | { readonly issue: InputIssue } {
  if (request.constraints === undefined) return { constraints: [] };
  const shaped = requestConstraintsSchema.safeParse({ constraints: request.constraints });
  return shaped.success ? { constraints: shaped.data.constraints ?? [] } : { issue: inputIssues(shaped.error)[0]! };
}
