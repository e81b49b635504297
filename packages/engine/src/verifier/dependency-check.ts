import type { PlanContext } from './plan-context.ts';
import { violation, type Violation } from './violation.ts';

/**
 * An action's dependencies must be over before it begins in both views: in a strictly earlier
 * step (barrier view) and ending at or before its start (timed view). Both orders being strict
 * also rules out cycles, so ASAP execution cannot deadlock.
 */
export function checkDependencies(ctx: PlanContext): Violation | undefined {
  for (const a of ctx.actions) {
    for (const depId of a.dependsOn) {
      const d = ctx.actionIndex.has(depId)
        ? ctx.actions[ctx.actionIndex.get(depId)!]!
        : ctx.plan.nodeActions![ctx.nodeActionIndex.get(depId)!]!;
      const subject = { actionId: a.id, vm: a.vm, vjob: a.vjob, at: a.start };
      if (d.step >= a.step)
        return violation(
          'dependency',
          `action '${a.id}' (step ${a.step}) depends on '${d.id}', which is not in an earlier step (step ${d.step})`,
          subject,
        );
      if (d.end > a.start)
        return violation(
          'dependency',
          `action '${a.id}' starts at ${a.start} but depends on '${d.id}', which ends at ${d.end}`,
          subject,
        );
    }
  }
  return undefined;
}
