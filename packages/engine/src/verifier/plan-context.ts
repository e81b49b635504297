import type { Configuration, Decision, Node, VM } from '../model/configuration.ts';
import type { FeasiblePlan, PlannedAction } from '../model/plan.ts';
import { dimensionsOf, type Resources } from '../model/resources.ts';

/**
 * A feasible plan whose `target` may be missing (plan files written by hand or by older tools).
 * `allocations`: BtrPlace's `allocate` actions, read from its plan JSON: when present, a VM that
 * stays on its node holds its source demand until its allocate raises it (capacity-check.ts).
 */
export type VerifiablePlan = Omit<FeasiblePlan, 'target'> & {
  readonly target?: FeasiblePlan['target'];
  readonly allocations?: readonly PlannedAllocation[];
};

/** A VM's allocation in one resource set to `amount` at instant `at` (ms), on the node where it stays. */
export interface PlannedAllocation {
  readonly id: string;
  readonly vm: string;
  readonly rc: string;
  readonly amount: number;
  readonly node: string;
  readonly at: number;
}

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
  /** 1 for a node that is online at some point of the plan: online in the source, or booted by the plan. */
  readonly online: Uint8Array;
  /** 1 for a node online at the end: its last node action (boot, shutdown) says, else its source state. */
  readonly finalOnline: Uint8Array;
  /** Node actions (boot, shutdown) by id; they share the id space of `actions`. */
  readonly nodeActionIndex: ReadonlyMap<string, number>;
}

export function indexPlan(configuration: Configuration, decision: Decision, plan: VerifiablePlan): PlanContext {
  const { nodes, vms } = configuration;
  // Loops rather than a closure per VM, and no array of every demand: a turn verifies plans on 100,000 VMs.
  const dims = dimensionsOf(resourcesOf(nodes, vms));
  const nodeIndex = new Map<string, number>();
  nodes.forEach((n, i) => nodeIndex.set(n.id, i));
  const vmIndex = new Map<string, number>();
  for (let i = 0; i < vms.length; i++) vmIndex.set(vms[i]!.id, i);
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
  for (let i = 0; i < vms.length; i++) {
    const of = vms[i]!.demand;
    for (let k = 0; k < D; k++) demand[i * D + k] = of[dims[k]!] ?? 0;
  }
  const nodeActionIndex = new Map<string, number>();
  const finalOnline = Uint8Array.from(online);
  const nodeActions = plan.nodeActions ?? [];
  nodeActions.forEach((a, i) => {
    if (!nodeActionIndex.has(a.id)) nodeActionIndex.set(a.id, i);
  });
  [...nodeActions]
    .sort((a, b) => a.start - b.start || a.end - b.end)
    .forEach((a) => {
      const n = nodeIndex.get(a.node);
      if (n === undefined) return;
      if (a.type === 'bootNode') online[n] = finalOnline[n] = 1;
      else if (a.type === 'shutdownNode') finalOnline[n] = 0;
    });
  return {
    configuration,
    decision,
    plan,
    actions: plan.actions,
    dims,
    nodes,
    vms,
    nodeIndex,
    vmIndex,
    actionIndex,
    vmOf,
    capacity,
    demand,
    online,
    finalOnline,
    nodeActionIndex,
  };
}

function* resourcesOf(nodes: readonly Node[], vms: readonly VM[]): Iterable<Resources> {
  for (const n of nodes) yield n.capacity;
  for (const v of vms) yield v.demand;
}
