import { holdsResources } from '../model/lifecycle.ts';
import type { PlanContext } from './plan-context.ts';

/** Sums of float demands drift by a few ulps; a node is over capacity only beyond this (relative) margin. */
export const EPSILON = 1e-9;

// Four checks start from the source usage: one walk over the VMs per plan context, a copy for each.
const sourceUsages = new WeakMap<PlanContext, Float64Array>();

/** Per node and dimension, what the VMs holding resources (running or paused) use in the source configuration: a fresh copy. */
export function sourceUsage(ctx: PlanContext): Float64Array {
  let usage = sourceUsages.get(ctx);
  if (usage === undefined) {
    usage = new Float64Array(ctx.nodes.length * ctx.dims.length);
    for (let v = 0; v < ctx.vms.length; v++) {
      const vm = ctx.vms[v]!;
      if (vm.host === undefined || !holdsResources(vm.state)) continue;
      const n = ctx.nodeIndex.get(vm.host);
      if (n !== undefined) addDemand(ctx, usage, n, v, 1);
    }
    sourceUsages.set(ctx, usage);
  }
  return usage.slice();
}

/** Adds (sign 1) or removes (sign -1) a VM's demand on a node. */
export function addDemand(ctx: PlanContext, usage: Float64Array, node: number, vm: number, sign: 1 | -1): void {
  const D = ctx.dims.length;
  for (let k = 0; k < D; k++) usage[node * D + k] += sign * ctx.demand[vm * D + k]!;
}

export interface Overflow {
  readonly dim: string;
  readonly usage: number;
  readonly capacity: number;
}

/** The first dimension in which a node's usage exceeds its capacity, if any. */
export function overflowOf(ctx: PlanContext, usage: Float64Array, node: number): Overflow | undefined {
  const D = ctx.dims.length;
  for (let k = 0; k < D; k++) {
    const used = usage[node * D + k]!;
    const cap = ctx.capacity[node * D + k]!;
    if (used > cap + EPSILON * Math.max(1, Math.abs(cap)))
      return { dim: ctx.dims[k]!, usage: round(used), capacity: cap };
  }
  return undefined;
}

/** For messages: hide the float noise of a sum without hiding a real fraction. */
function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

export function describeOverflow(node: string, o: Overflow): string {
  return `node '${node}' is over capacity in ${o.dim}: usage ${o.usage} > capacity ${o.capacity}`;
}
