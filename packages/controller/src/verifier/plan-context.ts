import type { Configuration, Decision, Node, VM } from '../model/configuration.ts';
import type { FeasiblePlan, PlannedAction } from '../model/plan.ts';
import { dimensionsOf } from '../model/resources.ts';

/** A feasible plan whose `target` may be missing (plan files written by hand or by older tools). */
export type VerifiablePlan = Omit<FeasiblePlan, 'target'> & { readonly target?: FeasiblePlan['target'] };

/**
 * Everything the checks look up, indexed once: ids to dense indexes, and capacities and demands as
 * flat arrays (`[node * dims + d]`, `[vm * dims + d]`) so that the timeline walk allocates nothing.
 */
export interface PlanContext {
  readonly configuration: Configuration;
  readonly decision: Decision;
  readonly plan: VerifiablePlan;
  readonly actions: readonly PlannedAction[];
  readonly dims: readonly string[];
  readonly nodes: readonly Node[];
  readonly vms: readonly VM[];
  readonly nodeIndex: ReadonlyMap<string, number>;
  readonly vmIndex: ReadonlyMap<string, number>;
  /** First action carrying each id; a later duplicate is a malformed plan. */
  readonly actionIndex: ReadonlyMap<string, number>;
  /** Per action: the index of its VM, or -1 when the VM is unknown (a malformed plan). */
  readonly vmOf: Int32Array;
  readonly capacity: Float64Array;
  readonly demand: Float64Array;
  readonly online: Uint8Array;
}

export function indexPlan(configuration: Configuration, decision: Decision, plan: VerifiablePlan): PlanContext {
  const { nodes, vms } = configuration;
  const dims = dimensionsOf([...nodes.map((n) => n.capacity), ...vms.map((v) => v.demand)]);
  const nodeIndex = new Map<string, number>();
  nodes.forEach((n, i) => nodeIndex.set(n.id, i));
  const vmIndex = new Map<string, number>();
  vms.forEach((v, i) => vmIndex.set(v.id, i));
  const actionIndex = new Map<string, number>();
  const vmOf = new Int32Array(plan.actions.length);
  plan.actions.forEach((a, i) => {
    if (!actionIndex.has(a.id)) actionIndex.set(a.id, i);
    vmOf[i] = vmIndex.get(a.vm) ?? -1;
  });
  const D = dims.length;
  const capacity = new Float64Array(nodes.length * D);
  const online = new Uint8Array(nodes.length);
  nodes.forEach((n, i) => {
    online[i] = n.state === 'online' ? 1 : 0;
    // A dimension a node does not declare is a dimension it has none of.
    dims.forEach((d, k) => (capacity[i * D + k] = n.capacity[d] ?? 0));
  });
  const demand = new Float64Array(vms.length * D);
  vms.forEach((v, i) => dims.forEach((d, k) => (demand[i * D + k] = v.demand[d] ?? 0)));
  return {
    configuration, decision, plan, actions: plan.actions, dims, nodes, vms,
    nodeIndex, vmIndex, actionIndex, vmOf, capacity, demand, online,
  };
}
