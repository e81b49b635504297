import type { Configuration, Decision, Node, NodeState, VM } from '../model/configuration.ts';
import { canReach, type VJobState } from '../model/lifecycle.ts';
import { describeConstraint, nodesOf, vmsOf, type Constraint } from './constraint.ts';
import type { Draft } from './face.ts';
import { CONSTRAINT_TYPES, kindOf } from './registry.ts';

/** The instance as the constraints make it: what both the engine and the verifier start from. */
export interface PreparedInstance {
  readonly configuration: Configuration;
  readonly decision: Decision;
  /** Wanted node states at the end; nodes it does not name keep theirs. */
  readonly nodeStates: Readonly<Record<string, NodeState>>;
  /** Contradictions (unknown ids, two constraints wanting different states, ...): no plan exists. */
  readonly conflicts: readonly string[];
}

/**
 * Applies what the constraints say about states, demands and capacities, in catalog order. Written
 * once, read by the engine and the verifier, so that both see the same instance. The configuration
 * is copied only where something changes.
 */
export function prepareInstance(
  configuration: Configuration,
  decision: Decision,
  constraints: readonly Constraint[],
): PreparedInstance {
  if (constraints.length === 0) return { configuration, decision, nodeStates: {}, conflicts: [] };
  const vmById = new Map(configuration.vms.map((v) => [v.id, v]));
  const nodeById = new Map(configuration.nodes.map((n) => [n.id, n]));
  const conflicts: string[] = [];
  const wantedVjob = new Map<string, { state: VJobState; by: Constraint }>();
  const wantedNode = new Map<string, { state: NodeState; by: Constraint }>();
  const demands = new Map<string, Record<string, number>>();
  const capacities = new Map<string, Record<string, number>>();
  const loadOn = new Map<string, number>();
  for (const v of configuration.vms)
    if (v.host !== undefined) loadOn.set(v.host, (loadOn.get(v.host) ?? 0) + 1 + (v.demand.mem ?? 0));

  const wantVm = (id: string, state: VJobState, by: Constraint) => {
    const vm = vmById.get(id)!;
    const said = decision[vm.vjob];
    const earlier = wantedVjob.get(vm.vjob);
    if (said !== undefined && said !== state)
      conflicts.push(
        `${describeConstraint(by)} wants VM ${id} ${state} but the decision wants vjob ${vm.vjob} ${said}`,
      );
    else if (earlier && earlier.state !== state)
      conflicts.push(
        `${describeConstraint(by)} and ${describeConstraint(earlier.by)} want vjob ${vm.vjob} in different states`,
      );
    else if (!canReach(vm.state, state))
      conflicts.push(
        `${describeConstraint(by)}: VM ${id} is ${vm.state}, and the life cycle cannot take it to ${state}`,
      );
    else wantedVjob.set(vm.vjob, { state, by });
  };
  const draft: Draft = {
    wantVm,
    wantReady: (id, by) => {
      const state = vmById.get(id)!.state;
      wantVm(id, state === 'waiting' || state === 'terminated' ? state : 'terminated', by);
    },
    wantNode(id, state, by) {
      const earlier = wantedNode.get(id);
      if (earlier && earlier.state !== state)
        conflicts.push(
          `${describeConstraint(by)} and ${describeConstraint(earlier.by)} want node ${id} in different states`,
        );
      else wantedNode.set(id, { state, by });
    },
    nodeState: (id) => wantedNode.get(id)?.state ?? nodeById.get(id)?.state,
    nodeWanted: (id) => wantedNode.has(id),
    loadOn: (id) => loadOn.get(id) ?? 0,
    raiseDemand(id, rc, amount) {
      const own = demands.get(id) ?? { ...vmById.get(id)!.demand };
      own[rc] = Math.max(own[rc] ?? 0, amount);
      demands.set(id, own);
    },
    scaleCapacity(id, rc, ratio) {
      const own = capacities.get(id) ?? { ...nodeById.get(id)!.capacity };
      own[rc] = (own[rc] ?? 0) * ratio;
      capacities.set(id, own);
    },
    conflict: (message) => conflicts.push(message),
  };

  const byType = new Map<string, Constraint[]>();
  // Id lists shared by many constraints (a partition of the nodes) are checked once.
  const known = new WeakSet<readonly string[]>();
  const firstUnknown = (ids: readonly string[], has: (id: string) => boolean) => {
    if (known.has(ids)) return undefined;
    const bad = ids.find((id) => !has(id));
    if (bad === undefined) known.add(ids);
    return bad;
  };
  for (const c of constraints) {
    const unknownVm = firstUnknown(vmsOf(c), (id) => vmById.has(id));
    const unknownNode = firstUnknown(nodesOf(c), (id) => nodeById.has(id));
    if (unknownVm !== undefined) conflicts.push(`${describeConstraint(c)} names unknown VM '${unknownVm}'`);
    else if (unknownNode !== undefined) conflicts.push(`${describeConstraint(c)} names unknown node '${unknownNode}'`);
    else {
      const list = byType.get(c.type);
      if (list) list.push(c);
      else byType.set(c.type, [c]);
    }
  }
  for (const type of CONSTRAINT_TYPES) {
    const kind = kindOf(type);
    for (const c of byType.get(type) ?? []) kind.prepare?.(c as never, draft);
  }

  const vms: VM[] = configuration.vms.map((v) => (demands.has(v.id) ? { ...v, demand: demands.get(v.id)! } : v));
  const nodes: Node[] = configuration.nodes.map((n) =>
    capacities.has(n.id) ? { ...n, capacity: capacities.get(n.id)! } : n,
  );
  const outDecision: Record<string, VJobState> = { ...decision };
  for (const [vjob, w] of wantedVjob) outDecision[vjob] = w.state;
  const nodeStates: Record<string, NodeState> = {};
  for (const [id, w] of wantedNode) if (nodeById.get(id)!.state !== w.state) nodeStates[id] = w.state;
  return {
    configuration: demands.size + capacities.size > 0 ? { ...configuration, vms, nodes } : configuration,
    decision: outDecision,
    nodeStates,
    conflicts,
  };
}
