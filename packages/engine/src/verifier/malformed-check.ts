import { ACTION_TYPES, type ActionType } from '../model/lifecycle.ts';
import type { PlannedAction } from '../model/plan.ts';
import type { PlanContext } from './plan-context.ts';
import { violation, type Violation } from './violation.ts';

/** Action types that bring a VM (or its image) to a node, so the action must name that node in `to`. */
export const ACTIONS_WITH_DESTINATION: ReadonlySet<ActionType> = new Set(['run', 'resume', 'migrate']);

const isTime = (t: number) => Number.isFinite(t) && t >= 0;

/** Ids, references and numbers that must hold before any replay makes sense. */
export function checkMalformed(ctx: PlanContext): Violation | undefined {
  const { plan } = ctx;
  if (!Number.isInteger(plan.steps) || plan.steps < 0)
    return violation('malformed', `the plan's step count must be a non-negative integer, got ${plan.steps}`);
  for (let i = 0; i < ctx.actions.length; i++) {
    const found = checkAction(ctx, ctx.actions[i]!, i);
    if (found) return found;
  }
  return undefined;
}

function checkAction(ctx: PlanContext, a: PlannedAction, i: number): Violation | undefined {
  if (typeof a.id !== 'string' || a.id === '') return violation('malformed', `actions[${i}] has no id`);
  const first = ctx.actionIndex.get(a.id)!;
  if (first !== i) return malformedAction(a, i, `reuses the id of actions[${first}]`);
  if (!ACTION_TYPES.includes(a.type)) return malformedAction(a, i, `has an unknown type '${String(a.type)}'`);
  const v = ctx.vmOf[i]!;
  if (v < 0) return malformedAction(a, i, `names an unknown VM '${a.vm}'`);
  const vm = ctx.vms[v]!;
  if (a.vjob !== vm.vjob)
    return malformedAction(a, i, `names vjob '${a.vjob}' but VM '${a.vm}' belongs to vjob '${vm.vjob}'`);
  if (a.from !== undefined && !ctx.nodeIndex.has(a.from))
    return malformedAction(a, i, `comes from an unknown node '${a.from}'`, a.from);
  if (a.to !== undefined && !ctx.nodeIndex.has(a.to))
    return malformedAction(a, i, `goes to an unknown node '${a.to}'`, a.to);
  if (ACTIONS_WITH_DESTINATION.has(a.type) && a.to === undefined)
    return malformedAction(a, i, `is a ${a.type} without a destination ('to')`);
  if (!isTime(a.start)) return malformedAction(a, i, `starts at ${a.start}, not a time (ms >= 0)`);
  if (!isTime(a.end)) return malformedAction(a, i, `ends at ${a.end}, not a time (ms >= 0)`);
  if (a.end < a.start) return malformedAction(a, i, `ends (${a.end}) before it starts (${a.start})`);
  if (!Number.isInteger(a.step) || a.step < 0)
    return malformedAction(a, i, `has step ${a.step}; steps are integers from 0`);
  if (a.step >= ctx.plan.steps)
    return malformedAction(a, i, `has step ${a.step} but the plan has ${ctx.plan.steps} steps`);
  for (const dep of a.dependsOn) {
    if (!ctx.actionIndex.has(dep) && !ctx.nodeActionIndex.has(dep))
      return malformedAction(a, i, `depends on an unknown action '${dep}'`);
    if (dep === a.id) return malformedAction(a, i, 'depends on itself');
  }
  return undefined;
}

// A plain function, not a closure per action: tsx (keepNames) pays for every closure it names.
function malformedAction(a: PlannedAction, i: number, reason: string, node?: string): Violation {
  return violation('malformed', `action '${a.id}' (actions[${i}]) ${reason}`, {
    actionId: a.id,
    vm: a.vm,
    vjob: a.vjob,
    node,
  });
}
