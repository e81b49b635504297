import type { Configuration } from '../model/configuration.ts';
import type { FeasiblePlan } from '../model/plan.ts';

/** A raised allocation (preserve) of a VM in one resource. */
export interface RaisedAllocation {
  readonly vm: string;
  readonly rc: string;
  readonly amount: number;
}

/** The configuration before and after the constraints raised demands and scaled capacities (prepareInstance). */
export interface AllocationRoom {
  readonly source: Configuration;
  readonly prepared: Configuration;
}

const key = (vm: string, rc: string) => `${vm}\u0000${rc}`;
const EPSILON = 1e-9;

/**
 * When each VM that stays on its node may switch to its raised allocation, in the plan's time
 * (BtrPlace's `allocate` action, CShareableResource's semantics): the earliest instant from which
 * its node has room for it until the end of the plan. A VM leaving the node holds its demand there
 * until its action ends (its raised demand, as Entropy's planner and verifier count it: stricter
 * than BtrPlace's c-slice, which holds the source allocation); a VM arriving holds its raised one
 * from its action's start (d-slice); a staying VM holds its source allocation until its own
 * allocate. Raises are placed one by one, smallest first, each counting the ones placed before it.
 *
 * Entropy's planner counts every raise from t=0, so its usage is never below this one, and once a
 * node's load has dropped under its capacity nothing makes it exceed it again: such an instant
 * always exists (at the latest when the last departure from the node ends).
 */
export function allocationTimes(
  plan: FeasiblePlan,
  room: AllocationRoom,
  allocations: readonly RaisedAllocation[],
): Map<string, number> {
  const sourceOf = new Map(room.source.vms.map((v) => [v.id, v]));
  const preparedOf = new Map(room.prepared.vms.map((v) => [v.id, v]));
  const capacityOf = new Map(room.prepared.nodes.map((n) => [n.id, n.capacity]));
  const moved = new Set(plan.actions.map((a) => a.vm));
  // Staying VMs with a raise, per node and resource.
  const groups = new Map<string, { node: string; rc: string; raises: { vm: string; delta: number }[] }>();
  for (const { vm, rc, amount } of allocations) {
    const v = sourceOf.get(vm);
    if (!v || v.host === undefined || moved.has(vm) || v.state !== 'running') continue;
    const delta = amount - (v.demand[rc] ?? 0);
    if (delta <= 0) continue;
    const k = key(v.host, rc);
    const g = groups.get(k) ?? { node: v.host, rc, raises: [] };
    g.raises.push({ vm, delta });
    groups.set(k, g);
  }
  const out = new Map<string, number>();
  if (groups.size === 0) return out;
  // Per node, the changes of its load over time: departures at their end, arrivals at their start.
  const changes = new Map<string, { t: number; vm: string; sign: 1 | -1 }[]>();
  const push = (node: string, t: number, vm: string, sign: 1 | -1) => {
    const list = changes.get(node);
    if (list) list.push({ t, vm, sign });
    else changes.set(node, [{ t, vm, sign }]);
  };
  for (const a of plan.actions) {
    const holds = sourceOf.get(a.vm)?.state === 'running' || sourceOf.get(a.vm)?.state === 'paused';
    if (a.from !== undefined && (a.type === 'migrate' || a.type === 'suspend' || (a.type === 'stop' && holds)))
      push(a.from, a.end, a.vm, -1);
    if (a.to !== undefined && (a.type === 'migrate' || a.type === 'run' || a.type === 'resume'))
      push(a.to, a.start, a.vm, 1);
  }
  const hostedAtSource = new Map<string, string[]>();
  for (const v of room.source.vms)
    if (v.host !== undefined && (v.state === 'running' || v.state === 'paused')) {
      const list = hostedAtSource.get(v.host);
      if (list) list.push(v.id);
      else hostedAtSource.set(v.host, [v.id]);
    }
  for (const { node, rc, raises } of groups.values()) {
    const cap = capacityOf.get(node)?.[rc] ?? 0;
    const events = (changes.get(node) ?? []).slice().sort((x, y) => x.t - y.t);
    // Instants where the load may change, and the load from each one on (source allocations at first).
    const times = [0, ...new Set(events.map((e) => e.t).filter((t) => t > 0))];
    const load = new Float64Array(times.length);
    let current = 0;
    // At first: staying VMs with their source allocation, leaving ones with their raised demand.
    for (const vm of hostedAtSource.get(node) ?? [])
      current += (moved.has(vm) ? preparedOf.get(vm) : sourceOf.get(vm))!.demand[rc] ?? 0;
    let e = 0;
    for (let i = 0; i < times.length; i++) {
      for (; e < events.length && events[e]!.t <= times[i]!; e++) {
        const { vm, sign } = events[e]!;
        current += sign * (preparedOf.get(vm)?.demand[rc] ?? 0);
      }
      load[i] = current;
    }
    raises.sort((x, y) => x.delta - y.delta || (x.vm < y.vm ? -1 : 1));
    for (const { vm, delta } of raises) {
      // The earliest instant from which load + delta stays within the capacity.
      let from = times.length;
      while (from > 0 && load[from - 1]! + delta <= cap + EPSILON * Math.max(1, cap)) from--;
      if (from === times.length) from = times.length - 1; // no room even at the end: the plan's own overload
      for (let i = from; i < times.length; i++) load[i] += delta;
      out.set(key(vm, rc), times[from]!);
    }
  }
  return out;
}

/** The time allocationTimes found for a VM's raise in a resource. */
export function allocationTime(times: ReadonlyMap<string, number>, vm: string, rc: string): number | undefined {
  return times.get(key(vm, rc));
}
