import { type ApplyRequest, ControlErrorCode, type ControlError } from '@entropy/protocol';
import { contextSwitch } from '../engine/context-switch.ts';
import type { Configuration, Decision } from '../model/configuration.ts';
import { type CostModelOverrides, costModelWith } from '../model/cost-model.ts';
import type { FeasiblePlan } from '../model/plan.ts';
import type { MonitorView } from '../monitor/index.ts';
import { InvalidDecisionError, validateDecision } from '../policy/index.ts';

export type PlannedApply =
  | { readonly ok: true; readonly plan: FeasiblePlan; readonly configuration: Configuration; readonly decision: Decision }
  | { readonly ok: false; readonly error: ControlError };

/**
 * The plan of an apply request: the monitor's current configuration, the requested decision,
 * the context switch. A decision naming a vjob the monitor had to leave out (a VM on an offline
 * node) is refused rather than planned on a guess.
 */
export function planApply(view: MonitorView, request: Pick<ApplyRequest, 'decision' | 'costModel' | 'timeLimitMs'>): PlannedApply {
  const { configuration } = view;
  const left = new Map(view.excluded.filter((e) => e.vjob !== undefined).map((e) => [e.vjob!, e]));
  for (const vjob of Object.keys(request.decision)) {
    const e = left.get(vjob);
    if (e) return refuse(ControlErrorCode.InvalidDecision, `vjob ${vjob} cannot be planned: VM ${e.vm} is ${e.reason}${e.node ? ` (node ${e.node})` : ''}`, `decision.${vjob}`);
  }
  let decision: Decision;
  try {
    decision = validateDecision(request.decision, configuration);
  } catch (err) {
    if (err instanceof InvalidDecisionError) return refuse(ControlErrorCode.InvalidDecision, err.message, 'decision');
    throw err;
  }
  const plan = contextSwitch(configuration, decision, costModelWith(request.costModel as CostModelOverrides | undefined), {
    ...(request.timeLimitMs !== undefined ? { timeLimitMs: request.timeLimitMs } : {}),
  });
  if (!plan.feasible) return refuse(ControlErrorCode.Infeasible, plan.reason);
  return { ok: true, plan, configuration, decision };
}

function refuse(code: ControlErrorCode, message: string, field?: string): PlannedApply {
  return { ok: false, error: { code, message, ...(field ? { field } : {}) } };
}
