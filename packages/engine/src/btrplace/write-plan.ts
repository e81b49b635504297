import type { Constraint } from '../constraints/constraint.ts';
import { prepareInstance } from '../constraints/prepare.ts';
import type { Configuration, Decision } from '../model/configuration.ts';
import type { NetworkModel } from '../model/network.ts';
import type { FeasiblePlan, NodeAction, PlannedAction } from '../model/plan.ts';
import { allocationTime, allocationTimes, type AllocationRoom, type RaisedAllocation } from './allocation-times.ts';
import { nodeNumber, UNIT_MS, vmNumber } from './ids.ts';
import type { BtrPlaceInstance } from './read-instance.ts';

/** What the export needs beside the plan: the origin model, and BtrPlace's integer id of each Entropy id. */
export interface PlanExportContext {
  /** The plan's origin in BtrPlace's model JSON. */
  readonly model: unknown;
  readonly vmId: (id: string) => number;
  readonly nodeId: (id: string) => number;
  /** Milliseconds per BtrPlace time unit (BtrPlace times are integers). */
  readonly unitMs: number;
  /** VMs whose stop is a killVM (a killed constraint); other stops are shutdownVM. */
  readonly killed: ReadonlySet<string>;
  /** Raised allocations (preserve) to announce: BtrPlace applies them with allocate actions and events. */
  readonly allocations: readonly RaisedAllocation[];
  /**
   * The configurations before and after the constraints: with them, an allocate action starts once
   * its node has room (allocation-times.ts); without, at 0.
   */
  readonly room?: () => AllocationRoom;
  /** The network view: a migration carries the bandwidth it holds (`bw`), as BtrPlace writes it. */
  readonly network?: NetworkModel;
}

type Json = Record<string, unknown>;

/**
 * The plan as BtrPlace's plan JSON (json/.../plan/ReconfigurationPlanConverter.java): `origin`, the
 * source model, and `actions`, each with BtrPlace's id (`migrateVM`, `bootVM`, `shutdownVM`,
 * `suspendVM`, `resumeVM`, `killVM`, `bootNode`, `shutdownNode`, `allocate`), `start`, `end` and
 * `hooks`. Entropy's pause and unpause are parts of BtrPlace's suspend and resume: they are left out.
 */
export function writeBtrPlacePlan(plan: FeasiblePlan, ctx: PlanExportContext): Json {
  const time = (ms: number) => Math.round(ms / ctx.unitMs);
  const hooks = () => ({ pre: [] as Json[], post: [] as Json[] });
  const out: { json: Json; hooks: ReturnType<typeof hooks>; vm?: string; type: string }[] = [];
  const vmAction = (a: PlannedAction): Json | undefined => {
    const vm = ctx.vmId(a.vm);
    const from = a.from !== undefined ? ctx.nodeId(a.from) : undefined;
    const to = a.to !== undefined ? ctx.nodeId(a.to) : undefined;
    const t = { start: time(a.start), end: time(a.end) };
    switch (a.type) {
      case 'migrate': {
        const bw = a.from !== undefined && a.to !== undefined ? ctx.network?.route(a.from, a.to)?.bandwidth : undefined;
        return { id: 'migrateVM', ...t, vm, from, to, ...(bw !== undefined ? { bw } : {}) };
      }
      case 'run':
        return { id: 'bootVM', ...t, vm, on: to };
      case 'stop':
        return { id: ctx.killed.has(a.vm) ? 'killVM' : 'shutdownVM', ...t, vm, on: from };
      case 'suspend':
        return { id: 'suspendVM', ...t, vm, from, to: from };
      case 'resume':
        return { id: 'resumeVM', ...t, vm, from, to };
      default:
        return undefined;
    }
  };
  const nodeAction = (a: NodeAction): Json => ({
    id: a.type,
    start: time(a.start),
    end: time(a.end),
    node: ctx.nodeId(a.node),
  });
  const all: (PlannedAction | NodeAction)[] = [...plan.actions, ...(plan.nodeActions ?? [])];
  all.sort((x, y) => x.start - y.start || x.end - y.end);
  for (const a of all) {
    const json = 'node' in a ? nodeAction(a as NodeAction) : vmAction(a as PlannedAction);
    if (json) out.push({ json, hooks: hooks(), type: a.type, ...('vm' in a ? { vm: a.vm } : {}) });
  }
  // A raised allocation comes with the action that places the VM, or as an allocate action where it
  // stays, once the VMs leaving its node have freed the room it needs.
  const times =
    ctx.room && ctx.allocations.length > 0
      ? allocationTimes(plan, ctx.room(), ctx.allocations)
      : new Map<string, number>();
  const extra: Json[] = [];
  for (const { vm, rc, amount } of ctx.allocations) {
    const target = plan.target[vm];
    if (target?.state !== 'running' || target.host === undefined) continue;
    const event = { id: 'allocate', vm: ctx.vmId(vm), rc, amount };
    const placing = out
      .filter((o) => o.vm === vm && (o.type === 'migrate' || o.type === 'run' || o.type === 'resume'))
      .pop();
    if (placing?.type === 'migrate') placing.hooks.post.push(event);
    else if (placing) placing.hooks.pre.push(event);
    else {
      const at = time(allocationTime(times, vm, rc) ?? 0);
      extra.push({
        id: 'allocate',
        start: at,
        end: at,
        vm: ctx.vmId(vm),
        rc,
        amount,
        on: ctx.nodeId(target.host),
        hooks: hooks(),
      });
    }
  }
  return { origin: ctx.model, actions: [...extra, ...out.map((o) => ({ ...o.json, hooks: o.hooks }))] };
}

/** Export context of an instance read from BtrPlace's JSON: its own model and ids. */
export function exportContextOf(instance: BtrPlaceInstance): PlanExportContext {
  return {
    model: instance.model,
    vmId: vmNumber,
    nodeId: nodeNumber,
    unitMs: UNIT_MS,
    killed: instance.killed,
    allocations: raisedAllocations(instance.configuration, instance.constraints),
    room: () => roomOf(instance.configuration, instance.decision, instance.constraints),
    ...(instance.network ? { network: instance.network } : {}),
  };
}

function roomOf(configuration: Configuration, decision: Decision, constraints: readonly Constraint[]): AllocationRoom {
  return { source: configuration, prepared: prepareInstance(configuration, decision, constraints).configuration };
}

function raisedAllocations(
  configuration: Configuration,
  constraints: readonly Constraint[],
): PlanExportContext['allocations'] {
  const demandOf = new Map(configuration.vms.map((v) => [v.id, v.demand]));
  const out: { vm: string; rc: string; amount: number }[] = [];
  for (const c of constraints)
    if (c.type === 'preserve' && (demandOf.get(c.vm)?.[c.rc] ?? 0) < c.amount)
      out.push({ vm: c.vm, rc: c.rc, amount: c.amount });
  return out;
}

/**
 * Export context of an Entropy instance: BtrPlace ids are positions, the names travel in naming
 * service views ("ns"), every dimension is a shareable resource (rounded up to an integer, as
 * BtrPlace's resources are), and times stay in milliseconds.
 */
export function entropyExportContext(
  configuration: Configuration,
  constraints: readonly Constraint[] = [],
): PlanExportContext {
  const { nodes, vms } = configuration;
  const nodeIds = new Map(nodes.map((n, i) => [n.id, i]));
  const vmIds = new Map(vms.map((v, i) => [v.id, i]));
  const dims = [
    ...new Set([...nodes.flatMap((n) => Object.keys(n.capacity)), ...vms.flatMap((v) => Object.keys(v.demand))]),
  ];
  const onlineNodes: Record<string, { runningVMs: number[]; sleepingVMs: number[] }> = {};
  for (const n of nodes)
    if (n.state === 'online') onlineNodes[String(nodeIds.get(n.id))] = { runningVMs: [], sleepingVMs: [] };
  const readyVMs: number[] = [];
  for (const v of vms) {
    const id = vmIds.get(v.id)!;
    const on = v.host !== undefined ? onlineNodes[String(nodeIds.get(v.host))] : undefined;
    if ((v.state === 'running' || v.state === 'paused') && on) on.runningVMs.push(id);
    else if (v.state === 'sleeping' && on) on.sleepingVMs.push(id);
    else if (v.state === 'waiting') readyVMs.push(id);
  }
  const views: Json[] = dims.map((rc) => ({
    id: 'shareableResource',
    rcId: rc,
    defCapacity: 0,
    defConsumption: 0,
    nodes: Object.fromEntries(nodes.map((n) => [String(nodeIds.get(n.id)), Math.ceil(n.capacity[rc] ?? 0)])),
    vms: Object.fromEntries(vms.map((v) => [String(vmIds.get(v.id)), Math.ceil(v.demand[rc] ?? 0)])),
  }));
  views.push({ id: 'ns', type: 'node', map: Object.fromEntries(nodeIds) });
  views.push({ id: 'ns', type: 'vm', map: Object.fromEntries(vmIds) });
  const model = {
    mapping: {
      onlineNodes,
      offlineNodes: nodes.filter((n) => n.state !== 'online').map((n) => nodeIds.get(n.id)!),
      readyVMs,
    },
    attributes: { nodes: {}, vms: {} },
    views,
  };
  return {
    model,
    vmId: (id) => vmIds.get(id)!,
    nodeId: (id) => nodeIds.get(id)!,
    unitMs: 1,
    killed: new Set(constraints.flatMap((c) => (c.type === 'killed' ? [c.vm] : []))),
    allocations: raisedAllocations(configuration, constraints),
    room: () => roomOf(configuration, {}, constraints),
  };
}
