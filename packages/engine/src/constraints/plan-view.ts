import type { Configuration } from '../model/configuration.ts';
import { holdsResources, stateAfter, type ActionType, type VMState } from '../model/lifecycle.ts';

/** An action of a plan as the checks read it: a VM action names its VM, a node action its node. */
export interface ViewAction {
  readonly id: string;
  readonly type: string;
  readonly vm?: string;
  readonly node?: string;
  readonly from?: string;
  readonly to?: string;
  readonly start: number;
  readonly end: number;
  readonly step: number;
}

/** A VM occupying a node: from the start of the action that brings it to the end of the one that takes it away. */
export interface Stay {
  readonly vm: number;
  readonly node: number;
  readonly from: number;
  /** Infinity when the VM is still there at the end of the plan. */
  readonly to: number;
  /** The action that brought the VM there; undefined when it was there in the source configuration. */
  readonly arrival?: ViewAction;
}

/**
 * What the constraint checks read: the plan replayed from its source, per VM (its stays on nodes,
 * its final state and host) and per node (when it is online). Built once per verification; it
 * trusts the plan's structure, which the verifier's own checks establish first.
 */
export interface PlanView {
  /** The configuration the plan starts from, as prepared by the constraints (demands, capacities). */
  readonly configuration: Configuration;
  readonly actions: readonly ViewAction[];
  readonly vmIndex: ReadonlyMap<string, number>;
  readonly nodeIndex: ReadonlyMap<string, number>;
  readonly staysOfVm: readonly (readonly Stay[])[];
  readonly finalState: readonly VMState[];
  /** Node index, or -1 (a sleeping VM's host is its image's node). */
  readonly finalHost: Int32Array;
  /** Per node, when it is online: [from, to) intervals; a boot counts from its start, a shutdown until its end. */
  readonly onlineOf: readonly (readonly { readonly from: number; readonly to: number }[])[];
  readonly finalOnline: Uint8Array;
  /** Migrations and other actions of each VM, in time order. */
  readonly actionsOfVm: readonly (readonly ViewAction[])[];
  /** VMs running on a node at the end. */
  runningAtEnd(node: number): readonly number[];
  /** Every stay on one node, any VM. */
  staysOnNode(node: number): readonly Stay[];
  demand(vm: number, rc: string): number;
  capacity(node: number, rc: string): number;
}

const ARRIVES = new Set(['run', 'resume', 'migrate']);

export function buildPlanView(configuration: Configuration, actions: readonly ViewAction[]): PlanView {
  const { nodes, vms } = configuration;
  const vmIndex = new Map<string, number>();
  vms.forEach((v, i) => vmIndex.set(v.id, i));
  const nodeIndex = new Map<string, number>();
  nodes.forEach((n, i) => nodeIndex.set(n.id, i));
  const actionsOfVm: ViewAction[][] = vms.map(() => []);
  const nodeActions: ViewAction[][] = nodes.map(() => []);
  for (const a of actions) {
    if (a.vm !== undefined) {
      const v = vmIndex.get(a.vm);
      if (v !== undefined) actionsOfVm[v]!.push(a);
    } else if (a.node !== undefined) {
      const n = nodeIndex.get(a.node);
      if (n !== undefined) nodeActions[n]!.push(a);
    }
  }
  const byTime = (x: ViewAction, y: ViewAction) => x.start - y.start || x.step - y.step || x.end - y.end;
  const staysOfVm: Stay[][] = [];
  const finalState: VMState[] = [];
  const finalHost = new Int32Array(vms.length).fill(-1);
  vms.forEach((vm, v) => {
    const list = actionsOfVm[v]!.sort(byTime);
    const stays: Stay[] = [];
    let state: VMState = vm.state;
    let host = vm.host === undefined ? -1 : (nodeIndex.get(vm.host) ?? -1);
    let open: { node: number; from: number; arrival?: ViewAction } | undefined =
      holdsResources(state) && host >= 0 ? { node: host, from: 0 } : undefined;
    for (const a of list) {
      const next = stateAfter(a.type as ActionType, state) ?? state;
      const dest = a.to !== undefined ? (nodeIndex.get(a.to) ?? -1) : -1;
      const moves = ARRIVES.has(a.type);
      const newHost = next === 'waiting' || next === 'terminated' ? -1 : moves ? dest : host;
      const holds = holdsResources(state);
      const willHold = holdsResources(next);
      if (holds && open && (!willHold || newHost !== open.node)) {
        stays.push({
          vm: v,
          node: open.node,
          from: open.from,
          to: a.end,
          ...(open.arrival ? { arrival: open.arrival } : {}),
        });
        open = undefined;
      }
      if (willHold && (!holds || newHost !== host)) {
        if (open)
          stays.push({
            vm: v,
            node: open.node,
            from: open.from,
            to: a.start,
            ...(open.arrival ? { arrival: open.arrival } : {}),
          });
        open = { node: newHost, from: a.start, arrival: a };
      }
      state = next;
      host = newHost;
    }
    if (open)
      stays.push({
        vm: v,
        node: open.node,
        from: open.from,
        to: Infinity,
        ...(open.arrival ? { arrival: open.arrival } : {}),
      });
    // A migration's source stay ends after the destination stay starts: keep each VM's stays by start.
    stays.sort((x, y) => x.from - y.from);
    staysOfVm.push(stays);
    finalState.push(state);
    finalHost[v] = host;
  });
  const onlineOf: { from: number; to: number }[][] = [];
  const finalOnline = new Uint8Array(nodes.length);
  nodes.forEach((node, n) => {
    const intervals: { from: number; to: number }[] = [];
    let since: number | undefined = node.state === 'online' ? 0 : undefined;
    for (const a of nodeActions[n]!.sort(byTime)) {
      if (a.type === 'bootNode' && since === undefined) since = a.start;
      else if (a.type === 'shutdownNode' && since !== undefined) {
        intervals.push({ from: since, to: a.end });
        since = undefined;
      }
    }
    if (since !== undefined) intervals.push({ from: since, to: Infinity });
    finalOnline[n] = since !== undefined ? 1 : 0;
    onlineOf.push(intervals);
  });
  let byNode: Stay[][] | undefined;
  const staysOnNode = (node: number): readonly Stay[] => {
    if (!byNode) {
      byNode = nodes.map(() => []);
      for (const list of staysOfVm) for (const s of list) byNode[s.node]!.push(s);
    }
    return byNode[node]!;
  };
  let atEnd: number[][] | undefined;
  const runningAtEnd = (node: number): readonly number[] => {
    if (!atEnd) {
      atEnd = nodes.map(() => []);
      finalState.forEach((st, v) => {
        if (st === 'running' && finalHost[v]! >= 0) atEnd![finalHost[v]!]!.push(v);
      });
    }
    return atEnd[node]!;
  };
  return {
    runningAtEnd,
    configuration,
    actions,
    vmIndex,
    nodeIndex,
    staysOfVm,
    finalState,
    finalHost,
    onlineOf,
    finalOnline,
    actionsOfVm,
    staysOnNode,
    demand: (vm, rc) => vms[vm]!.demand[rc] ?? 0,
    capacity: (node, rc) => nodes[node]!.capacity[rc] ?? 0,
  };
}

/** Whether two stays overlap in time; a stay that ends at t and one that starts at t do not (ends come first). */
export function overlap(a: { from: number; to: number }, b: { from: number; to: number }): boolean {
  return a.from < b.to && b.from < a.to;
}

export const fmtTime = (t: number) => (t === Infinity ? 'the end' : `t=${t}`);
