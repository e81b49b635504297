import type { PlanContext, PlannedAllocation } from './plan-context.ts';
import type { Replay } from './transition-check.ts';
import { addDemand, describeOverflow, overflowOf, sourceUsage } from './usage.ts';
import { violation, type Violation } from './violation.ts';

/**
 * The timed view, as BtrPlace's ReconfigurationPlanChecker walks it: from the source configuration,
 * every action's start and end in time order, ENDS FIRST at equal instants (a VM that leaves a node
 * at t makes room for one that arrives at t). A VM's demand counts on its destination from the
 * start of run, resume and migrate, and on its source until the end of stop, suspend and migrate;
 * paused VMs still hold theirs.
 *
 * Overload tolerance: the source configuration may itself be overloaded (that is what the plan
 * repairs). A node may exceed its capacity only while its usage is not above its source usage and
 * no action has yet started consuming on it: an incoming VM must never start on an overloaded node.
 * Usage only grows when a consumption starts, so a node is checked (strictly, every dimension) after
 * each instant at which some consumption starts on it, and those are the only checks needed: a node
 * nobody arrives on only ever sheds load from its source usage.
 *
 * Allocation steps (BtrPlace's `allocate` actions of VMs that stay) lower the source usage by
 * `before` and raise the node's usage by `delta` at their instant, counted like a start: the node
 * is checked then, so that a raise never lands on a node still holding VMs on their way out.
 */
export function checkCapacity(
  ctx: PlanContext,
  replay: Replay,
  allocations: readonly AllocationStep[] = [],
): Violation | undefined {
  const { actions } = ctx;
  const { consumeOn, freeOn } = replay;
  const D = ctx.dims.length;
  // Event e is action (or, past the actions, allocation step) e >> 1; its low bit is 0 for the end, 1 for the start (so ends sort first).
  const events: number[] = [];
  for (let i = 0; i < actions.length; i++) {
    if (freeOn[i]! >= 0) events.push(i * 2);
    if (consumeOn[i]! >= 0) events.push(i * 2 + 1);
  }
  const times = new Float64Array((actions.length + allocations.length) * 2);
  actions.forEach((a, i) => {
    times[i * 2] = a.end;
    times[i * 2 + 1] = a.start;
  });
  const usage = sourceUsage(ctx);
  allocations.forEach((s, k) => {
    const i = actions.length + k;
    times[i * 2 + 1] = s.at;
    events.push(i * 2 + 1);
    usage[s.node * D + s.dim] -= s.before;
  });
  const timeOf = (e: number) => times[e]!;
  events.sort((x, y) => timeOf(x) - timeOf(y) || (x & 1) - (y & 1) || x - y);

  const arriving = new Int32Array(ctx.nodes.length).fill(-1); // node -> last action starting on it at this instant
  const touched: number[] = [];
  for (let e = 0; e < events.length; ) {
    const t = timeOf(events[e]!);
    for (; e < events.length && timeOf(events[e]!) === t; e++) {
      const i = events[e]! >> 1;
      if (i >= actions.length) {
        const s = allocations[i - actions.length]!;
        usage[s.node * D + s.dim] += s.delta;
        if (arriving[s.node]! < 0) touched.push(s.node);
        arriving[s.node] = i;
        continue;
      }
      const a = actions[i]!;
      const v = ctx.vmOf[i]!;
      if (events[e]! & 1) {
        const n = consumeOn[i]!;
        if (!ctx.online[n])
          return violation(
            'capacity',
            `action '${a.id}' (${a.type}) brings VM '${a.vm}' to node '${ctx.nodes[n]!.id}', which is offline`,
            {
              at: t,
              actionId: a.id,
              node: ctx.nodes[n]!.id,
              vm: a.vm,
              vjob: a.vjob,
            },
          );
        addDemand(ctx, usage, n, v, 1);
        if (arriving[n] < 0) touched.push(n);
        arriving[n] = i;
      } else addDemand(ctx, usage, freeOn[i]!, v, -1);
    }
    for (const n of touched) {
      const over = overflowOf(ctx, usage, n);
      if (over !== undefined) {
        const node = ctx.nodes[n]!.id;
        const i = arriving[n]!;
        if (i >= actions.length) {
          const { allocation } = allocations[i - actions.length]!;
          return violation(
            'capacity',
            `${describeOverflow(node, over)} at t=${t} (allocate '${allocation.id}' raises VM '${allocation.vm}' to ${allocation.amount} ${allocation.rc} there)`,
            { at: t, actionId: allocation.id, node, vm: allocation.vm },
          );
        }
        const a = actions[i]!;
        return violation(
          'capacity',
          `${describeOverflow(node, over)} at t=${t} (action '${a.id}' brings VM '${a.vm}' there)`,
          {
            at: t,
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
  }
  return undefined;
}

/** A staying VM's allocate, on indexes: `before` (prepared minus source demand) is not held until `at`, then `delta` is added. */
export interface AllocationStep {
  readonly allocation: PlannedAllocation;
  readonly node: number;
  readonly dim: number;
  readonly at: number;
  readonly before: number;
  readonly delta: number;
}
