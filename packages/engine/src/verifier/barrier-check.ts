import type { PlanContext } from './plan-context.ts';
import type { Replay } from './transition-check.ts';
import { addDemand, describeOverflow, overflowOf, sourceUsage } from './usage.ts';
import { violation, type Violation } from './violation.ts';

/**
 * The barrier view: steps run one after another, the actions of a step in parallel. At the start of
 * step k, every action of an earlier step has ended and every action of step k has started but none
 * has ended, so a node holds: source usage - frees of steps < k + consumptions of steps <= k. The
 * overload tolerance is the timed view's (see capacity-check.ts): only nodes something arrives on in
 * step k are checked, strictly. Since the actions of one step overlap, a VM's actions must also be
 * in strictly increasing steps, in their time order.
 */
export function checkBarrier(ctx: PlanContext, replay: Replay): Violation | undefined {
  const { actions } = ctx;
  for (const list of replay.actionsOfVm) {
    for (let k = 1; k < list.length; k++) {
      const prev = actions[list[k - 1]!]!;
      const a = actions[list[k]!]!;
      if (a.step <= prev.step)
        return violation(
          'barrier',
          `VM '${a.vm}': action '${a.id}' (${a.type}, step ${a.step}) follows '${prev.id}' (${prev.type}, step ${prev.step}) in time but not in a later step`,
          {
            actionId: a.id,
            vm: a.vm,
            vjob: a.vjob,
          },
        );
    }
  }

  const order = byStep(ctx);
  const usage = sourceUsage(ctx);
  const arriving = new Int32Array(ctx.nodes.length).fill(-1);
  const touched: number[] = [];
  for (let s = 0; s < order.length; ) {
    const step = actions[order[s]!]!.step;
    let e = s;
    for (; e < order.length && actions[order[e]!]!.step === step; e++) {
      const i = order[e]!;
      const n = replay.consumeOn[i]!;
      if (n < 0) continue;
      addDemand(ctx, usage, n, ctx.vmOf[i]!, 1);
      if (arriving[n] < 0) touched.push(n);
      arriving[n] = i;
    }
    for (const n of touched) {
      const over = overflowOf(ctx, usage, n);
      if (over !== undefined) {
        const a = actions[arriving[n]!]!;
        const node = ctx.nodes[n]!.id;
        return violation(
          'barrier',
          `${describeOverflow(node, over)} at the start of step ${step} (action '${a.id}' brings VM '${a.vm}' there)`,
          {
            actionId: a.id,
            node,
            vm: a.vm,
            vjob: a.vjob,
          },
        );
      }
      arriving[n] = -1;
    }
    touched.length = 0;
    for (; s < e; s++) {
      const i = order[s]!;
      if (replay.freeOn[i]! >= 0) addDemand(ctx, usage, replay.freeOn[i]!, ctx.vmOf[i]!, -1);
    }
  }
  return undefined;
}

/** Action indexes ordered by step (a counting sort: steps are integers below plan.steps). */
function byStep(ctx: PlanContext): Int32Array {
  const first = new Int32Array(ctx.plan.steps + 1);
  for (const a of ctx.actions) first[a.step + 1]++;
  for (let s = 1; s <= ctx.plan.steps; s++) first[s] += first[s - 1]!;
  const order = new Int32Array(ctx.actions.length);
  ctx.actions.forEach((a, i) => (order[first[a.step]!++] = i));
  return order;
}
