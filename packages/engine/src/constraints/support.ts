import type { Problem } from '../model/problem.ts';
import { overlap, type PlanView, type Stay } from './plan-view.ts';

/** Engine indexes of ids (ids the configuration lacks are dropped: `prepare` reports them). */
function indexesIn(index: ReadonlyMap<string, number>, ids: readonly string[]): number[] {
  const out: number[] = [];
  for (const id of ids) {
    const i = index.get(id);
    if (i !== undefined) out.push(i);
  }
  return out;
}

export const vmIndexes = (p: Problem, ids: readonly string[]): number[] => indexesIn(p.vmIndex, ids);
export const nodeIndexes = (p: Problem, ids: readonly string[]): number[] => indexesIn(p.nodeIndex, ids);

export interface GroupIndex {
  readonly groupOf: ReadonlyMap<number, number>;
  readonly nodes: readonly (readonly number[])[];
  /** Every node of every group. */
  readonly all: readonly number[];
}

const groupCache = new WeakMap<object, WeakMap<readonly (readonly string[])[], GroupIndex>>();

/**
 * Node index -> group index for disjoint groups of node ids, computed once per problem (or plan
 * view) and parts array: hundreds of among constraints often share one partition of thousands of nodes.
 */
export function groupIndex(
  owner: object,
  index: ReadonlyMap<string, number>,
  parts: readonly (readonly string[])[],
): GroupIndex {
  let byParts = groupCache.get(owner);
  if (!byParts) groupCache.set(owner, (byParts = new WeakMap()));
  let out = byParts.get(parts);
  if (!out) {
    const groupOf = new Map<number, number>();
    const nodes = parts.map((part, g) => {
      const list: number[] = [];
      for (const id of part) {
        const n = index.get(id);
        if (n === undefined) continue;
        list.push(n);
        if (!groupOf.has(n)) groupOf.set(n, g);
      }
      return list;
    });
    byParts.set(parts, (out = { groupOf, nodes, all: nodes.flat() }));
  }
  return out;
}

const demandCache = new WeakMap<Problem, Map<string, Float64Array>>();

/** Every VM's demand in one resource, computed once per problem and resource. */
export function rcDemand(p: Problem, rc: string): Float64Array {
  let byRc = demandCache.get(p);
  if (!byRc) demandCache.set(p, (byRc = new Map()));
  let out = byRc.get(rc);
  if (!out) {
    out = new Float64Array(p.vmCount);
    const d = p.dims.indexOf(rc);
    const D = p.dims.length;
    if (d >= 0) for (let v = 0; v < p.vmCount; v++) out[v] = p.demand[v * D + d]!;
    else p.configuration.vms.forEach((vm, v) => (out![v] = vm.demand[rc] ?? 0));
    byRc.set(rc, out);
  }
  return out;
}

export { runsAtSource } from '../model/problem.ts';

/** A count per node, sparse (most constraints involve a few nodes of thousands). */
export class NodeCounts {
  private readonly m = new Map<number, number>();
  get(n: number): number {
    return this.m.get(n) ?? 0;
  }
  add(n: number, k: number): void {
    const x = (this.m.get(n) ?? 0) + k;
    if (x === 0) this.m.delete(n);
    else this.m.set(n, x);
  }
  entries(): IterableIterator<[number, number]> {
    return this.m.entries();
  }
  get size(): number {
    return this.m.size;
  }
}

/** VMs to move so that each node keeps VMs of one kind only: on every node, the kind with the most memory stays. */
export function keepHeaviest(
  p: Problem,
  dest: Int32Array,
  vms: readonly number[],
  kindOf: (v: number) => number,
): number[] {
  const byNode = new Map<number, number[]>();
  for (const v of vms) {
    const n = dest[v]!;
    if (n < 0) continue;
    const list = byNode.get(n);
    if (list) list.push(v);
    else byNode.set(n, [v]);
  }
  const out: number[] = [];
  for (const list of byNode.values()) {
    if (list.length < 2) continue;
    const weight = new Map<number, number>();
    for (const v of list) weight.set(kindOf(v), (weight.get(kindOf(v)) ?? 0) + p.mem[v]! + 1);
    if (weight.size < 2) continue;
    let keep = -1;
    let best = -1;
    for (const [k, w] of weight) if (w > best || (w === best && k < keep)) [keep, best] = [k, w];
    for (const v of list) if (kindOf(v) !== keep) out.push(v);
  }
  return out.sort((a, b) => p.mem[a]! - p.mem[b]! || a - b);
}

/** VMs not in the group most of them use, or in no group at all, smallest first. */
export function outsideMajority(
  p: Problem,
  dest: Int32Array,
  vms: readonly number[],
  groupOf: (node: number) => number | undefined,
): number[] {
  const count = new Map<number, number>();
  for (const v of vms) {
    const g = dest[v]! >= 0 ? groupOf(dest[v]!) : undefined;
    if (g !== undefined) count.set(g, (count.get(g) ?? 0) + 1);
  }
  let major = -1;
  let best = 0;
  for (const [g, k] of count) if (k > best || (k === best && g < major)) [major, best] = [g, k];
  const out: number[] = [];
  for (const v of vms) {
    if (dest[v]! < 0) continue;
    if (groupOf(dest[v]!) !== major) out.push(v);
  }
  return out.sort((a, b) => p.mem[a]! - p.mem[b]! || a - b);
}

// ---- verifier helpers ----

export const vmId = (view: PlanView, v: number) => view.configuration.vms[v]!.id;
export const nodeId = (view: PlanView, n: number) => view.configuration.nodes[n]!.id;

/** The indexes of ids in the view; throws nothing, unknown ids are reported by `unknownIds`. */
export function viewVms(view: PlanView, ids: readonly string[]): number[] {
  return ids.map((id) => view.vmIndex.get(id)).filter((v): v is number => v !== undefined);
}

export function viewNodes(view: PlanView, ids: readonly string[]): number[] {
  return ids.map((id) => view.nodeIndex.get(id)).filter((n): n is number => n !== undefined);
}

/** VMs running at the end, with their host. */
export function finalRunning(view: PlanView, vms: readonly number[]): { vm: number; node: number }[] {
  const out: { vm: number; node: number }[] = [];
  for (const v of vms)
    if (view.finalState[v] === 'running' && view.finalHost[v]! >= 0) out.push({ vm: v, node: view.finalHost[v]! });
  return out;
}

/**
 * The first pair of stays on one node, of VMs of different kinds, that overlap in time. With
 * `arrivalsOnly`, a clash already in the source configuration (neither stay brought by an action) is
 * not one: BtrPlace's continuous spread only forbids placing a VM beside another.
 */
export function firstClash(
  stays: readonly Stay[],
  kindOf: (v: number) => number,
  arrivalsOnly = false,
): [Stay, Stay] | undefined {
  const byNode = new Map<number, Stay[]>();
  for (const s of stays) {
    const list = byNode.get(s.node);
    if (list) list.push(s);
    else byNode.set(s.node, [s]);
  }
  let found: [Stay, Stay] | undefined;
  for (const list of byNode.values()) {
    list.sort((a, b) => a.from - b.from);
    for (let i = 0; i < list.length; i++) {
      for (let j = i + 1; j < list.length && list[j]!.from < list[i]!.to; j++) {
        const [a, b] = [list[i]!, list[j]!];
        if (a.vm === b.vm || kindOf(a.vm) === kindOf(b.vm) || !overlap(a, b)) continue;
        if (arrivalsOnly && !a.arrival && !b.arrival) continue;
        if (!found || b.from < found[1].from) found = [a, b];
      }
    }
  }
  return found;
}

export function staysOf(view: PlanView, vms: readonly number[]): Stay[] {
  return vms.flatMap((v) => view.staysOfVm[v]!);
}

export const span = (s: Stay) => `from t=${s.from}${s.to === Infinity ? ' on' : ` to t=${s.to}`}`;

export interface Weighted {
  readonly from: number;
  readonly to: number;
  readonly weight: number;
  /** An interval of the source configuration: with `sourceTolerated`, its start triggers no check. */
  readonly source?: boolean;
}

/**
 * Sweeps weighted intervals in time order, ends before starts at equal instants, and returns the
 * first instant at which their total exceeds `limit`. With `finalOnly`, only the end of the plan
 * (the intervals that never end) is checked: the discrete form of the same rule.
 */
export function firstExcess(
  intervals: readonly Weighted[],
  limit: number,
  finalOnly = false,
  sourceTolerated = false,
): { at: number; total: number } | undefined {
  if (finalOnly) {
    let total = 0;
    for (const i of intervals) if (i.to === Infinity) total += i.weight;
    return total > limit + 1e-9 ? { at: Infinity, total } : undefined;
  }
  // [time, weight change, whether it is an arrival the check applies to]
  const events: [number, number, boolean][] = [];
  for (const i of intervals) {
    events.push([i.from, i.weight, !(sourceTolerated && i.source)]);
    if (i.to !== Infinity) events.push([i.to, -i.weight, false]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let total = 0;
  for (let e = 0; e < events.length; ) {
    const t = events[e]![0];
    let grew = false;
    for (; e < events.length && events[e]![0] === t; e++) {
      total += events[e]![1];
      if (events[e]![1] > 0 && events[e]![2]) grew = true;
    }
    if (grew && total > limit + 1e-9) return { at: t, total: Math.round(total * 1e6) / 1e6 };
  }
  return undefined;
}

/** One VM's stays on a set of nodes, merged where they touch (a migration within the set counts once). */
export function mergedStays(
  view: PlanView,
  v: number,
  inSet: (node: number) => boolean,
): { from: number; to: number }[] {
  const out: { from: number; to: number }[] = [];
  for (const s of view.staysOfVm[v]!) {
    if (!inSet(s.node)) continue;
    const last = out[out.length - 1];
    if (last && s.from <= last.to) last.to = Math.max(last.to, s.to);
    else out.push({ from: s.from, to: s.to });
  }
  return out;
}

export const when = (at: number) => (at === Infinity ? 'at the end' : `at t=${at}`);
