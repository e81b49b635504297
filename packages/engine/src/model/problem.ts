import type { Configuration, Decision, NodeState } from './configuration.ts';
import { costKindOf, durationOf, type CostKind, type CostModel } from './cost-model.ts';
import {
  blockingVm,
  defaultTarget,
  vmTarget,
  type ActionType,
  type UnreachableTarget,
  type VJobState,
  type VMState,
} from './lifecycle.ts';
import type { NetworkModel } from './network.ts';
import { dimensionsOf } from './resources.ts';

/** VM states as small integers, for the typed arrays of the engine; paused is a source state only, never a target. */
export const S = { waiting: 0, running: 1, sleeping: 2, terminated: 3, paused: 4 } as const;
/** Names of the target states, by code. */
export const STATE_NAMES: readonly VJobState[] = ['waiting', 'running', 'sleeping', 'terminated'];

/**
 * The engine's indexed view of a configuration and a decision: ids become array indexes and
 * resources flat Float64Arrays (`vm * dims + d`), so placement and planning scale to 10^4-10^5 VMs.
 */
export interface Problem {
  readonly configuration: Configuration;
  readonly costModel: CostModel;
  readonly dims: readonly string[];
  readonly nodeCount: number;
  readonly capacity: Float64Array;
  readonly online: Uint8Array;
  readonly vmCount: number;
  readonly demand: Float64Array;
  readonly mem: Float64Array;
  /** State code (S) of each VM in the source configuration. */
  readonly source: Uint8Array;
  /** Node index of a running or paused VM, or of a sleeping VM's image; -1 otherwise. */
  readonly host: Int32Array;
  /** State code of each VM at the end: one state per vjob (model/lifecycle.ts wantedStates). */
  readonly target: Uint8Array;
  readonly vjobOf: Int32Array;
  readonly vjobVms: readonly (readonly number[])[];
  readonly vmIndex: ReadonlyMap<string, number>;
  readonly nodeIndex: ReadonlyMap<string, number>;
  /** 1 for a node that is online at the end of the plan: the nodes the placement may use. */
  readonly usable: Uint8Array;
  /** 1 for a VM that must stay on its node (root, quarantine). */
  readonly pinned: Uint8Array;
  readonly durations?: ActionDurations;
  /** Links and switches that concurrent migrations share (BtrPlace's network view); none bounds them when absent. */
  readonly network?: NetworkModel;
  /** The first vjob of the decision that one of its VMs cannot follow: no plan reaches the decision. */
  readonly unreachable?: UnreachableTarget;
}

/** Per-element action durations that override the cost model (BtrPlace's attribute-based durations). */
export interface ActionDurations {
  /** Duration in ms of an action on a VM, or undefined for the cost model's. */
  vm?(vm: string, kind: CostKind): number | undefined;
  /**
   * Duration in ms of migrating a VM from one node to another (a network view: the route's
   * bandwidth), or undefined for `vm(vm, 'migrate')`'s.
   */
  migration?(vm: string, from: string, to: string): number | undefined;
  /** Duration in ms of booting or shutting down a node, or undefined for the cost model's. */
  node?(node: string, kind: 'bootNode' | 'shutdownNode'): number | undefined;
}

export interface ProblemOptions {
  /** Wanted state of nodes at the end of the plan; nodes it does not name keep theirs. */
  readonly nodeStates?: Readonly<Record<string, NodeState>>;
  readonly durations?: ActionDurations;
  readonly network?: NetworkModel;
}

export function compileProblem(
  configuration: Configuration,
  decision: Decision,
  costModel: CostModel,
  options: ProblemOptions = {},
): Problem {
  const { nodes, vms, vjobs } = configuration;
  // A dimension in which no VM demands anything can never overflow: leave it out of every loop.
  const dims = dimensionsOf([...nodes.map((n) => n.capacity), ...vms.map((v) => v.demand)]).filter((d) =>
    vms.some((v) => (v.demand[d] ?? 0) > 0),
  );
  const D = dims.length;
  const nodeIndex = new Map<string, number>();
  const capacity = new Float64Array(nodes.length * D);
  const online = new Uint8Array(nodes.length);
  const usable = new Uint8Array(nodes.length);
  nodes.forEach((n, i) => {
    nodeIndex.set(n.id, i);
    online[i] = n.state === 'online' ? 1 : 0;
    usable[i] = (options.nodeStates?.[n.id] ?? n.state) === 'online' ? 1 : 0;
    for (let d = 0; d < D; d++) capacity[i * D + d] = n.capacity[dims[d]!] ?? 0;
  });
  const vmIndex = new Map<string, number>();
  const vjobIndex = new Map<string, number>();
  vjobs.forEach((j, i) => vjobIndex.set(j.id, i));
  const vjobVms: number[][] = vjobs.map(() => []);
  const demand = new Float64Array(vms.length * D);
  const mem = new Float64Array(vms.length);
  const source = new Uint8Array(vms.length);
  const host = new Int32Array(vms.length).fill(-1);
  const target = new Uint8Array(vms.length);
  const vjobOf = new Int32Array(vms.length);
  vms.forEach((v, i) => {
    vmIndex.set(v.id, i);
    for (let d = 0; d < D; d++) demand[i * D + d] = v.demand[dims[d]!] ?? 0;
    mem[i] = v.demand.mem ?? 0;
    source[i] = S[v.state];
    host[i] = v.host === undefined ? -1 : (nodeIndex.get(v.host) ?? -1);
    const j = vjobIndex.get(v.vjob) ?? -1;
    vjobOf[i] = j;
    if (j >= 0) vjobVms[j]!.push(i);
    // A VM of no listed vjob is a vjob of its own.
    else target[i] = S[vmTarget(v.state, decision[v.vjob] ?? defaultTarget([v.state]))];
  });
  const unreachable = compileTargets(configuration, decision, vjobVms, target);
  return {
    configuration,
    costModel,
    dims,
    nodeCount: nodes.length,
    capacity,
    online,
    vmCount: vms.length,
    demand,
    mem,
    source,
    host,
    target,
    vjobOf,
    vjobVms,
    vmIndex,
    nodeIndex,
    usable,
    pinned: new Uint8Array(vms.length),
    ...(options.durations ? { durations: options.durations } : {}),
    ...(options.network ? { network: options.network } : {}),
    ...(unreachable ? { unreachable } : {}),
  };
}

/**
 * Fills `target` with one state per vjob (the decision's, or defaultTarget), reading the life-cycle
 * helpers per vjob over one reused array; returns the first vjob of the decision that one of its
 * VMs cannot follow.
 */
function compileTargets(
  configuration: Configuration,
  decision: Decision,
  vjobVms: readonly (readonly number[])[],
  target: Uint8Array,
): UnreachableTarget | undefined {
  const { vms, vjobs } = configuration;
  const states: VMState[] = [];
  let unreachable: UnreachableTarget | undefined;
  for (let j = 0; j < vjobs.length; j++) {
    const members = vjobVms[j]!;
    states.length = 0;
    for (const i of members) states.push(vms[i]!.state);
    const named = decision[vjobs[j]!.id];
    const wanted = named ?? defaultTarget(states);
    if (named !== undefined && unreachable === undefined) {
      const blocking = blockingVm(states, named);
      if (blocking >= 0)
        unreachable = { vjob: vjobs[j]!.id, vm: vms[members[blocking]!]!.id, from: states[blocking]!, to: named };
    }
    for (const i of members) target[i] = S[vmTarget(vms[i]!.state, wanted)];
  }
  return unreachable;
}

/**
 * Duration of an action on VM `vm` executed on node `node` (an index, the VM's host unless told:
 * the agent that runs the action, the source of a migration, the destination of a run or resume):
 * its own duration when one is given, else the cost model's, by the node's own line when the model
 * has one.
 */
export function actionDuration(p: Problem, type: ActionType, vm: number, remote = false, node = p.host[vm]!): number {
  const kind = costKindOf(type, remote);
  const own = p.durations?.vm?.(p.configuration.vms[vm]!.id, kind);
  return (
    own ?? durationOf(p.costModel, kind, p.mem[vm]!, p.costModel.nodes ? p.configuration.nodes[node]?.id : undefined)
  );
}

/** Duration of migrating `vm` from node `from` to node `to` (indexes). */
export function migrationDuration(p: Problem, vm: number, from: number, to: number): number {
  const { vms, nodes } = p.configuration;
  const own = p.durations?.migration?.(vms[vm]!.id, nodes[from]!.id, nodes[to]!.id);
  return own ?? actionDuration(p, 'migrate', vm, false, from);
}

/** Duration of booting or shutting down node `node`. */
export function nodeActionDuration(p: Problem, kind: 'bootNode' | 'shutdownNode', node: number): number {
  const own = p.durations?.node?.(p.configuration.nodes[node]!.id, kind);
  return own ?? durationOf(p.costModel, kind, 0, p.costModel.nodes ? p.configuration.nodes[node]!.id : undefined);
}

/** Whether `vm` fits on `node` given the node's current usage array (same layout as capacity). */
export function fits(p: Problem, usage: Float64Array, node: number, vm: number): boolean {
  const D = p.dims.length;
  const o = node * D;
  const v = vm * D;
  for (let d = 0; d < D; d++) if (usage[o + d]! + p.demand[v + d]! > p.capacity[o + d]! + EPSILON) return false;
  return true;
}

export const EPSILON = 1e-9;

export function addDemand(p: Problem, usage: Float64Array, node: number, vm: number, sign: 1 | -1): void {
  const D = p.dims.length;
  for (let d = 0; d < D; d++) usage[node * D + d] += sign * p.demand[vm * D + d]!;
}

/** Whether VM `v` holds resources on its host in the source configuration: running, or paused. */
export function runsAtSource(p: Problem, v: number): boolean {
  const s = p.source[v];
  return (s === S.running || s === S.paused) && p.host[v]! >= 0;
}

/** Usage per node of the VMs holding resources in the source configuration. */
export function sourceUsage(p: Problem): Float64Array {
  const usage = new Float64Array(p.nodeCount * p.dims.length);
  for (let v = 0; v < p.vmCount; v++) if (runsAtSource(p, v)) addDemand(p, usage, p.host[v]!, v, 1);
  return usage;
}
