import { fixedPlacementCost, placementLowerBound, vmCostAt } from './placement-cost.ts';
import { addDemand, EPSILON, fits, runsAtSource, S, sourceUsage, type Problem } from './problem.ts';
import type { PlacementRules, Rules } from './rules.ts';
import { SearchBudget, StopReason } from './search-budget.ts';

/** What the improvement phase did, for the plan's statistics. */
export interface ImproveStats {
  /** The placement cost of the first (repair) solution and of the one kept. */
  readonly firstCost: number;
  readonly finalCost: number;
  /** A proven lower bound on the placement cost of any viable target. */
  readonly lowerBound: number;
  /** True when the final cost is proven minimal (it meets the bound, or the exact search finished). */
  readonly optimal: boolean;
  readonly method: 'none' | 'exact' | 'neighbourhoods';
  /** Search nodes explored, neighbourhoods tried, and improvements found. */
  readonly nodes: number;
  readonly neighbourhoods: number;
  readonly improvements: number;
  readonly stoppedBy: StopReason;
}

export interface ImproveOptions {
  readonly budget: SearchBudget;
  readonly rules?: Rules;
}

/** Up to this many VMs that must run, the whole placement is searched exactly (branch and bound). */
export const EXACT_VM_LIMIT = 40;
/** VMs a neighbourhood frees at most, and search nodes it may spend: each stays a small exact search. */
const NEIGHBOURHOOD_VMS = 24;
const NEIGHBOURHOOD_NODES = 4;
const NEIGHBOURHOOD_WORK = 20_000;

/**
 * Improves a viable placement's cost (engine/placement-cost.ts) within the budget, never making it
 * worse: the whole placement by branch and bound when the instance is small, else large
 * neighbourhood search (free the VMs of a few nodes where the placement pays, re-place them
 * exactly, keep an improvement, move on). Deterministic for a given work budget.
 */
export function improvePlacement(p: Problem, first: Int32Array, options: ImproveOptions): { dest: Int32Array; stats: ImproveStats } {
  const { budget } = options;
  const rules = options.rules && !options.rules.empty ? options.rules : undefined;
  const lowerBound = placementLowerBound(p);
  const firstCost = costOf(p, first);
  const base = { firstCost, lowerBound };
  if (firstCost <= lowerBound + EPSILON) {
    return { dest: first, stats: { ...base, finalCost: firstCost, optimal: true, method: 'none', nodes: 0, neighbourhoods: 0, improvements: 0, stoppedBy: StopReason.Finished } };
  }
  const runs: number[] = [];
  for (let v = 0; v < p.vmCount; v++) if (p.target[v] === S.running) runs.push(v);
  const dest = first.slice();
  if (runs.length <= EXACT_VM_LIMIT) {
    const free = runs.filter((v) => !p.pinned[v]);
    const cands = free.map((v) => usableNodes(p, v));
    const found = searchAssignment(p, dest, free, cands, budget, rules);
    const finalCost = costOf(p, dest);
    const stoppedBy = budget.reason;
    const optimal = finalCost <= lowerBound + EPSILON || (stoppedBy === StopReason.Finished && found.complete);
    return { dest, stats: { ...base, finalCost, optimal, method: 'exact', nodes: found.nodes, neighbourhoods: 0, improvements: found.improved ? 1 : 0, stoppedBy } };
  }
  let nodes = 0;
  let neighbourhoods = 0;
  let improvements = 0;
  let cost = firstCost;
  // Passes over the nodes where the placement pays, until a pass improves nothing.
  for (let improvedInPass = true; improvedInPass && !budget.exhausted && cost > lowerBound + EPSILON; ) {
    improvedInPass = false;
    for (const seed of payingHomes(p, dest)) {
      if (budget.exhausted || cost <= lowerBound + EPSILON) break;
      const hood = neighbourhood(p, dest, seed);
      neighbourhoods++;
      const local = new SearchBudget(NEIGHBOURHOOD_WORK);
      const found = searchAssignment(p, dest, hood.free, hood.cands, local, rules, budget);
      nodes += found.nodes;
      if (found.improved) {
        improvements++;
        improvedInPass = true;
        cost = costOf(p, dest);
      }
    }
  }
  const finalCost = costOf(p, dest);
  return {
    dest,
    stats: { ...base, finalCost, optimal: finalCost <= lowerBound + EPSILON, method: 'neighbourhoods', nodes, neighbourhoods, improvements, stoppedBy: budget.reason },
  };
}

function costOf(p: Problem, dest: Int32Array): number {
  let cost = fixedPlacementCost(p);
  for (let v = 0; v < p.vmCount; v++) if (p.target[v] === S.running) cost += vmCostAt(p, v, dest[v]!);
  return cost;
}

/** The online nodes a VM fits on when empty; its host alone for a pinned one. */
function usableNodes(p: Problem, v: number): number[] {
  if (p.pinned[v]) return [p.host[v]!];
  const D = p.dims.length;
  const out: number[] = [];
  for (let n = 0; n < p.nodeCount; n++) {
    if (!p.usable[n]) continue;
    let ok = true;
    for (let d = 0; d < D && ok; d++) if (p.demand[v * D + d]! > p.capacity[n * D + d]! + EPSILON) ok = false;
    if (ok) out.push(n);
  }
  return out;
}

/** The VM's cheapest node: its host or its image's node when that is usable. */
function homeOf(p: Problem, v: number): number {
  const h = p.host[v]!;
  return h >= 0 && p.usable[h] && p.source[v] !== S.waiting ? h : -1;
}

/** Homes where the placement pays more than the minimum (VMs away from them), most paid first. */
function payingHomes(p: Problem, dest: Int32Array): number[] {
  const paid = new Map<number, number>();
  for (let v = 0; v < p.vmCount; v++) {
    if (p.target[v] !== S.running) continue;
    const h = homeOf(p, v);
    if (h < 0 || dest[v] === h) continue;
    paid.set(h, (paid.get(h) ?? 0) + vmCostAt(p, v, dest[v]!) - vmCostAt(p, v, h));
  }
  return [...paid].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([n]) => n);
}

/**
 * The neighbourhood of a home node: the node, the nodes its VMs went to, the nodes with most room;
 * freed: the VMs away from these nodes' homes (they may come back), then the ones that cost the
 * same anywhere in it (started, or already away), then the smallest VMs at home (the cheapest to
 * move out of the way), at most NEIGHBOURHOOD_VMS. Each may go to any node of the neighbourhood or stay.
 */
function neighbourhood(p: Problem, dest: Int32Array, seed: number): { free: number[]; cands: number[][] } {
  const D = p.dims.length;
  const inHood = new Set<number>([seed]);
  for (let v = 0; v < p.vmCount && inHood.size < NEIGHBOURHOOD_NODES - 1; v++) {
    if (p.target[v] === S.running && homeOf(p, v) === seed && dest[v]! >= 0) inHood.add(dest[v]!);
  }
  if (inHood.size < NEIGHBOURHOOD_NODES) {
    const load = new Float64Array(p.nodeCount * D);
    for (let v = 0; v < p.vmCount; v++) if (p.target[v] === S.running && dest[v]! >= 0) addDemand(p, load, dest[v]!, v, 1);
    const roomy: [number, number][] = [];
    for (let n = 0; n < p.nodeCount; n++) {
      if (!p.usable[n] || inHood.has(n)) continue;
      let free = 0;
      for (let d = 0; d < D; d++) {
        const cap = p.capacity[n * D + d]!;
        if (cap > 0) free += (cap - load[n * D + d]!) / cap;
      }
      roomy.push([free, n]);
    }
    roomy.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (const [, n] of roomy.slice(0, NEIGHBOURHOOD_NODES - inHood.size)) inHood.add(n);
  }
  const away: number[] = [];
  const anywhere: number[] = [];
  const atHome: number[] = [];
  for (let v = 0; v < p.vmCount; v++) {
    if (p.target[v] !== S.running || p.pinned[v]) continue;
    const h = homeOf(p, v);
    const here = inHood.has(dest[v]!);
    if (h >= 0 && inHood.has(h) && dest[v] !== h) away.push(v);
    else if (here && (h < 0 || dest[v] !== h)) anywhere.push(v);
    else if (here) atHome.push(v);
  }
  anywhere.sort((a, b) => p.mem[b]! - p.mem[a]! || a - b);
  atHome.sort((a, b) => p.mem[a]! - p.mem[b]! || a - b);
  const free = [...away, ...anywhere, ...atHome].slice(0, NEIGHBOURHOOD_VMS);
  const hood = [...inHood].sort((a, b) => a - b);
  const cands = free.map((v) => {
    const c = new Set(hood);
    c.add(dest[v]!);
    return [...c].filter((n) => p.usable[n] && fitsEmpty(p, v, n));
  });
  return { free, cands };
}

function fitsEmpty(p: Problem, v: number, n: number): boolean {
  const D = p.dims.length;
  for (let d = 0; d < D; d++) if (p.demand[v * D + d]! > p.capacity[n * D + d]! + EPSILON) return false;
  return true;
}

/**
 * Branch and bound over the hosts of the `free` VMs (each among its candidates), every other VM of
 * `dest` where it is: writes a better assignment into `dest` when it finds one. Better is cheaper,
 * then, at equal cost, fewer arrivals on a node without room for them yet (such an arrival waits
 * for departures: a longer plan); the second criterion weighs less than one MiB in all, so it only
 * breaks ties. VMs with the most to lose by a bad choice go first; each tries its cheapest nodes
 * first, its current node first among equals; a branch that cannot beat the best even at each
 * remaining VM's cheapest node is cut. Nodes that no free VM calls home, of equal capacity and
 * equal load, are interchangeable: only the first is tried (without constraints, which may tell
 * them apart).
 */
function searchAssignment(
  p: Problem,
  dest: Int32Array,
  free: readonly number[],
  candidates: readonly (readonly number[])[],
  budget: SearchBudget,
  rules?: Rules,
  outer?: SearchBudget,
): { nodes: number; improved: boolean; complete: boolean } {
  const D = p.dims.length;
  const k = free.length;
  if (k === 0) return { nodes: 0, improved: false, complete: true };
  const freeSet = new Set(free);
  const load = new Float64Array(p.nodeCount * D);
  // What each node holds right now, and what arrives on it: an arrival that does not fit waits.
  const now = sourceUsage(p);
  for (let v = 0; v < p.vmCount; v++) {
    if (p.target[v] !== S.running || dest[v]! < 0 || freeSet.has(v)) continue;
    addDemand(p, load, dest[v]!, v, 1);
    if (arrives(p, v, dest[v]!)) addDemand(p, now, dest[v]!, v, 1);
  }
  const R: PlacementRules | undefined = rules?.placement();
  if (R) for (let v = 0; v < p.vmCount; v++) if (p.target[v] === S.running && dest[v]! >= 0 && !freeSet.has(v)) R.assign(v, dest[v]!);
  const waitWeight = 1 / (k + 1);

  // Order: the largest spread between a VM's cheapest and dearest node first, then the largest VMs.
  const items = free.map((v, i) => {
    const cs = candidates[i]!.map((n) => vmCostAt(p, v, n));
    return { v, nodes: candidates[i]!, costs: cs, min: Math.min(...cs), spread: Math.max(...cs) - Math.min(...cs), size: sizeOf(p, v) };
  });
  items.sort((a, b) => b.spread - a.spread || b.size - a.size || a.v - b.v);
  // Within a VM: cheapest first, its current node first among equals, then by index.
  const order = items.map((it) =>
    it.nodes.map((n, j) => ({ n, c: it.costs[j]! })).sort((a, b) => a.c - b.c || (a.n === dest[it.v] ? -1 : b.n === dest[it.v] ? 1 : a.n - b.n)),
  );
  const suffix = new Float64Array(k + 1);
  for (let i = k - 1; i >= 0; i--) suffix[i] = suffix[i + 1]! + items[i]!.min;
  const isHome = new Uint8Array(p.nodeCount);
  for (const it of items) {
    const h = homeOf(p, it.v);
    if (h >= 0) isHome[h] = 1;
  }
  // The incumbent's score, to beat strictly.
  let best = 0;
  {
    const trial = now.slice();
    for (const it of items) {
      const n = dest[it.v]!;
      best += vmCostAt(p, it.v, n);
      if (arrives(p, it.v, n)) {
        if (!fits(p, trial, n, it.v)) best += waitWeight;
        addDemand(p, trial, n, it.v, 1);
      }
    }
  }
  const floor = suffix[0]!;
  const current = new Int32Array(k);
  let bestAssign: Int32Array | undefined;
  let nodes = 0;
  let stopped = false;

  const sameNode = (a: number, b: number) => {
    for (let d = 0; d < D; d++) {
      if (p.capacity[a * D + d] !== p.capacity[b * D + d] || load[a * D + d] !== load[b * D + d] || now[a * D + d] !== now[b * D + d]) return false;
    }
    return true;
  };
  const dfs = (i: number, score: number): void => {
    if (stopped) return;
    nodes++;
    if (!budget.spend() || (outer !== undefined && !outer.spend())) {
      stopped = true;
      return;
    }
    if (i === k) {
      best = score;
      bestAssign = current.slice();
      // Nothing can beat each VM at its cheapest node with no wait.
      if (best <= floor + EPSILON) stopped = true;
      return;
    }
    const it = items[i]!;
    const tried: number[] = [];
    for (const { n, c } of order[i]!) {
      if (score + c + suffix[i + 1]! >= best - EPSILON) break;
      if (!fits(p, load, n, it.v) || (R && !R.allows(it.v, n))) continue;
      if (!R && !isHome[n]) {
        if (tried.some((m) => sameNode(m, n))) continue;
        tried.push(n);
      }
      const arriving = arrives(p, it.v, n);
      const wait = arriving && !fits(p, now, n, it.v) ? waitWeight : 0;
      if (score + c + wait + suffix[i + 1]! >= best - EPSILON) continue;
      current[i] = n;
      addDemand(p, load, n, it.v, 1);
      if (arriving) addDemand(p, now, n, it.v, 1);
      R?.assign(it.v, n);
      dfs(i + 1, score + c + wait);
      addDemand(p, load, n, it.v, -1);
      if (arriving) addDemand(p, now, n, it.v, -1);
      R?.unassign(it.v, n);
      if (stopped) return;
    }
  };
  dfs(0, 0);
  if (bestAssign) items.forEach((it, i) => (dest[it.v] = bestAssign![i]!));
  // Complete: the search ran to its end (or met the floor), so nothing better exists.
  const complete = !stopped || (bestAssign !== undefined && best <= floor + EPSILON);
  return { nodes, improved: bestAssign !== undefined, complete };
}

/** Whether VM `v` placed on `n` arrives there (it does not hold `n` already in the source). */
function arrives(p: Problem, v: number, n: number): boolean {
  return !(runsAtSource(p, v) && p.host[v] === n);
}

/** A VM's demand relative to the largest capacity in each dimension, summed. */
function sizeOf(p: Problem, v: number): number {
  const D = p.dims.length;
  let s = 0;
  for (let d = 0; d < D; d++) {
    let cap = 0;
    for (let n = 0; n < p.nodeCount; n++) cap = Math.max(cap, p.capacity[n * D + d]!);
    if (cap > 0) s += p.demand[v * D + d]! / cap;
  }
  return s;
}
