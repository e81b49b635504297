import { fixedPlacementCost, placementLowerBound, vmCostAt } from './placement-cost.ts';
import { addDemand, EPSILON, fits, runsAtSource, S, sourceUsage, type Problem } from '../model/problem.ts';
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
/** VMs a neighbourhood frees at most, nodes it spans, and search nodes it may spend: each stays a small exact search. */
const NEIGHBOURHOOD_VMS = 24;
const NEIGHBOURHOOD_NODES = 4;
const NEIGHBOURHOOD_WORK = 5_000;

/**
 * Improves a viable placement's cost (engine/placement-cost.ts) within the budget, never making it
 * worse: the whole placement by branch and bound when the instance is small, else large
 * neighbourhood search (free the VMs of a few nodes where the placement pays, re-place them
 * exactly, keep an improvement, move on). Deterministic for a given work budget.
 */
export function improvePlacement(
  p: Problem,
  first: Int32Array,
  options: ImproveOptions,
): { dest: Int32Array; stats: ImproveStats } {
  const { budget } = options;
  const rules = options.rules && !options.rules.empty ? options.rules : undefined;
  const lowerBound = placementLowerBound(p);
  const firstCost = costOf(p, first);
  const base = { firstCost, lowerBound };
  if (firstCost <= lowerBound + EPSILON) {
    return {
      dest: first,
      stats: {
        ...base,
        finalCost: firstCost,
        optimal: true,
        method: 'none',
        nodes: 0,
        neighbourhoods: 0,
        improvements: 0,
        stoppedBy: StopReason.Finished,
      },
    };
  }
  const state = new PlacementState(p, first.slice(), rules);
  if (state.runs.length <= EXACT_VM_LIMIT) {
    const free = state.runs.filter((v) => !p.pinned[v]);
    // What the free VMs may cost at best: the bound less what the rest costs anyway.
    let rest = fixedPlacementCost(p);
    for (const v of state.runs) if (p.pinned[v]) rest += vmCostAt(p, v, state.dest[v]!);
    const found = searchAssignment(
      state,
      free,
      free.map((v) => state.usableNodes(v)),
      budget,
      undefined,
      lowerBound - rest,
    );
    const finalCost = costOf(p, state.dest);
    const stoppedBy = budget.reason;
    const optimal = finalCost <= lowerBound + EPSILON || (stoppedBy === StopReason.Finished && found.complete);
    return {
      dest: state.dest,
      stats: {
        ...base,
        finalCost,
        optimal,
        method: 'exact',
        nodes: found.nodes,
        neighbourhoods: 0,
        improvements: found.improved ? 1 : 0,
        stoppedBy,
      },
    };
  }
  let nodes = 0;
  let neighbourhoods = 0;
  let improvements = 0;
  let cost = firstCost;
  // Passes over the nodes where the placement pays, until a pass improves nothing.
  for (let improvedInPass = true; improvedInPass && !budget.exhausted && cost > lowerBound + EPSILON; ) {
    improvedInPass = false;
    const roomy = state.roomiestNodes(NEIGHBOURHOOD_NODES);
    for (const seed of state.payingHomes()) {
      if (budget.exhausted || cost <= lowerBound + EPSILON) break;
      const hood = state.neighbourhood(seed, roomy);
      neighbourhoods++;
      if (!budget.spend(hood.free.length + 1)) break;
      const found = searchAssignment(state, hood.free, hood.cands, new SearchBudget(NEIGHBOURHOOD_WORK), budget);
      nodes += found.nodes;
      if (found.improved) {
        improvements++;
        improvedInPass = true;
        cost = costOf(p, state.dest);
      }
    }
  }
  const finalCost = costOf(p, state.dest);
  return {
    dest: state.dest,
    stats: {
      ...base,
      finalCost,
      optimal: finalCost <= lowerBound + EPSILON,
      method: 'neighbourhoods',
      nodes,
      neighbourhoods,
      improvements,
      stoppedBy: budget.reason,
    },
  };
}

function costOf(p: Problem, dest: Int32Array): number {
  let cost = fixedPlacementCost(p);
  for (let v = 0; v < p.vmCount; v++) if (p.target[v] === S.running) cost += vmCostAt(p, v, dest[v]!);
  return cost;
}

/** The VM's cheapest node: its host, or its image's node, when that is usable; -1 for a VM that never ran. */
function homeOf(p: Problem, v: number): number {
  const hostNode = p.host[v]!;
  return hostNode >= 0 && p.usable[hostNode] && p.source[v] !== S.waiting ? hostNode : -1;
}

/** Whether VM `v` placed on `n` arrives there (it does not hold `n` already in the source). */
function arrives(p: Problem, v: number, n: number): boolean {
  return !(runsAtSource(p, v) && p.host[v] === n);
}

/**
 * A placement being improved, with what the searches read kept up to date as VMs move: each node's
 * load in the target, its load right now (source plus arrivals: an arrival that does not fit there
 * waits for departures), the VMs placed on it, and the constraints' placement rules.
 */
class PlacementState {
  readonly dimCount: number;
  readonly runs: number[] = [];
  readonly load: Float64Array;
  readonly now: Float64Array;
  readonly onNode: Set<number>[];
  /** The VMs that call each node home (static). */
  readonly homed: number[][];
  readonly size: Float64Array;
  readonly R: PlacementRules | undefined;

  constructor(
    readonly p: Problem,
    readonly dest: Int32Array,
    rules: Rules | undefined,
  ) {
    const dimCount = (this.dimCount = p.dims.length);
    this.load = new Float64Array(p.nodeCount * dimCount);
    this.now = sourceUsage(p);
    this.onNode = Array.from({ length: p.nodeCount }, () => new Set<number>());
    this.homed = Array.from({ length: p.nodeCount }, () => []);
    this.R = rules?.placement();
    const capMax = new Float64Array(dimCount);
    for (let n = 0; n < p.nodeCount; n++)
      for (let d = 0; d < dimCount; d++) capMax[d] = Math.max(capMax[d]!, p.capacity[n * dimCount + d]!);
    this.size = new Float64Array(p.vmCount);
    for (let v = 0; v < p.vmCount; v++) {
      if (p.target[v] !== S.running) continue;
      this.runs.push(v);
      for (let d = 0; d < dimCount; d++) if (capMax[d]! > 0) this.size[v] += p.demand[v * dimCount + d]! / capMax[d]!;
      const hostNode = homeOf(p, v);
      if (hostNode >= 0) this.homed[hostNode]!.push(v);
      if (dest[v]! >= 0) this.place(v, dest[v]!);
    }
  }

  /** Takes `v` off its node (its load, its arrival, the rules' counts). */
  remove(v: number): void {
    const n = this.dest[v]!;
    addDemand(this.p, this.load, n, v, -1);
    if (arrives(this.p, v, n)) addDemand(this.p, this.now, n, v, -1);
    this.onNode[n]!.delete(v);
    this.R?.unassign(v, n);
  }

  place(v: number, n: number): void {
    this.dest[v] = n;
    addDemand(this.p, this.load, n, v, 1);
    if (arrives(this.p, v, n)) addDemand(this.p, this.now, n, v, 1);
    this.onNode[n]!.add(v);
    this.R?.assign(v, n);
  }

  /** The online nodes a VM fits on when empty; its host alone for a pinned one. */
  usableNodes(v: number): number[] {
    const p = this.p;
    if (p.pinned[v]) return [p.host[v]!];
    const out: number[] = [];
    for (let n = 0; n < p.nodeCount; n++) if (p.usable[n] && this.fitsEmpty(v, n)) out.push(n);
    return out;
  }

  fitsEmpty(v: number, n: number): boolean {
    for (let d = 0; d < this.dimCount; d++)
      if (this.p.demand[v * this.dimCount + d]! > this.p.capacity[n * this.dimCount + d]! + EPSILON) return false;
    return true;
  }

  /** Homes where the placement pays more than the minimum (VMs away from them), most paid first. */
  payingHomes(): number[] {
    const p = this.p;
    const paid = new Map<number, number>();
    for (const v of this.runs) {
      const hostNode = homeOf(p, v);
      if (hostNode < 0 || this.dest[v] === hostNode) continue;
      paid.set(hostNode, (paid.get(hostNode) ?? 0) + vmCostAt(p, v, this.dest[v]!) - vmCostAt(p, v, hostNode));
    }
    return [...paid].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([n]) => n);
  }

  /** The `k` usable nodes with the most free room (normalised, summed over dimensions). */
  roomiestNodes(howMany: number): number[] {
    const p = this.p;
    const dimCount = this.dimCount;
    const roomy: [number, number][] = [];
    for (let n = 0; n < p.nodeCount; n++) {
      if (!p.usable[n]) continue;
      let free = 0;
      for (let d = 0; d < dimCount; d++) {
        const cap = p.capacity[n * dimCount + d]!;
        if (cap > 0) free += (cap - this.load[n * dimCount + d]!) / cap;
      }
      roomy.push([free, n]);
    }
    roomy.sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    return roomy.slice(0, howMany).map(([, n]) => n);
  }

  /**
   * The neighbourhood of a home node: the node, the nodes its VMs went to, the roomiest nodes;
   * freed: the VMs away from these nodes' homes (they may come back), then the ones that cost the
   * same anywhere in it (started, or already away), then the smallest VMs at home (the cheapest to
   * move out of the way), at most NEIGHBOURHOOD_VMS. Each may go to any node of it or stay.
   */
  neighbourhood(seed: number, roomy: readonly number[]): { free: number[]; cands: number[][] } {
    const p = this.p;
    const inHood = new Set<number>([seed]);
    for (const v of this.homed[seed]!) {
      if (inHood.size >= NEIGHBOURHOOD_NODES - 1) break;
      if (this.dest[v] !== seed) inHood.add(this.dest[v]!);
    }
    for (const n of roomy) if (inHood.size < NEIGHBOURHOOD_NODES) inHood.add(n);
    const away: number[] = [];
    const anywhere: number[] = [];
    const atHome: number[] = [];
    const seen = new Set<number>();
    for (const n of inHood) {
      for (const v of this.homed[n]!) {
        if (this.dest[v] === n || p.pinned[v] || seen.has(v)) continue;
        seen.add(v);
        away.push(v);
      }
      for (const v of this.onNode[n]!) {
        if (p.pinned[v] || seen.has(v)) continue;
        seen.add(v);
        (homeOf(p, v) === n ? atHome : anywhere).push(v);
      }
    }
    away.sort((a, b) => a - b);
    anywhere.sort((a, b) => p.mem[b]! - p.mem[a]! || a - b);
    atHome.sort((a, b) => p.mem[a]! - p.mem[b]! || a - b);
    const free = [...away, ...anywhere, ...atHome].slice(0, NEIGHBOURHOOD_VMS);
    const hood = [...inHood].sort((a, b) => a - b);
    const cands = free.map((v) => {
      const c = new Set(hood);
      c.add(this.dest[v]!);
      return [...c].filter((n) => p.usable[n] && this.fitsEmpty(v, n));
    });
    return { free, cands };
  }
}

/**
 * Branch and bound over the hosts of the `free` VMs (each among its candidates), every other VM
 * where it is: places them better when it can, else back where they were. Better is cheaper,
 * then, at equal cost, fewer arrivals on a node without room for them yet (such an arrival waits
 * for departures: a longer plan); the second criterion weighs less than one MiB in all, so it only
 * breaks ties. VMs with the most to lose by a bad choice go first; each tries its cheapest nodes
 * first, its current node first among equals; a branch that cannot beat the best even at each
 * remaining VM's cheapest node is cut. Nodes that no free VM calls home, of equal capacity and
 * equal load, are interchangeable: only the first is tried (without constraints, which may tell
 * them apart).
 */
function searchAssignment(
  state: PlacementState,
  free: readonly number[],
  candidates: readonly (readonly number[])[],
  budget: SearchBudget,
  outer?: SearchBudget,
  /** A proven bound on the free VMs' cost: an assignment that meets it (ties aside) ends the search. */
  bound = -Infinity,
): { nodes: number; improved: boolean; complete: boolean } {
  const { p, dimCount, load, now, R, dest } = state;
  const howMany = free.length;
  if (howMany === 0) return { nodes: 0, improved: false, complete: true };
  const waitWeight = 1 / (howMany + 1);
  // Order: the largest spread between a VM's cheapest and dearest node first, then the largest VMs.
  const items = free.map((v, i) => {
    const cs = candidates[i]!.map((n) => vmCostAt(p, v, n));
    let min = Infinity;
    let max = -Infinity;
    for (const c of cs) {
      if (c < min) min = c;
      if (c > max) max = c;
    }
    return { v, was: dest[v]!, nodes: candidates[i]!, costs: cs, min, spread: max - min };
  });
  items.sort((a, b) => b.spread - a.spread || state.size[b.v]! - state.size[a.v]! || a.v - b.v);
  // Within a VM: cheapest first, its current node first among equals, then by index.
  const order = items.map((it) =>
    it.nodes
      .map((n, j) => ({ n, c: it.costs[j]! }))
      .sort((a, b) => a.c - b.c || (a.n === it.was ? -1 : b.n === it.was ? 1 : a.n - b.n)),
  );
  const suffix = new Float64Array(howMany + 1);
  for (let i = howMany - 1; i >= 0; i--) suffix[i] = suffix[i + 1]! + items[i]!.min;
  const homeNodes = new Set<number>();
  for (const it of items) {
    const hostNode = homeOf(p, it.v);
    if (hostNode >= 0) homeNodes.add(hostNode);
  }
  for (const it of items) state.remove(it.v);
  // The incumbent's score (where the free VMs were), to beat strictly.
  let best = 0;
  for (const it of items) {
    best += vmCostAt(p, it.v, it.was);
    if (arrives(p, it.v, it.was) && !fits(p, now, it.was, it.v)) best += waitWeight;
    if (arrives(p, it.v, it.was)) addDemand(p, now, it.was, it.v, 1);
  }
  for (const it of items) if (arrives(p, it.v, it.was)) addDemand(p, now, it.was, it.v, -1);
  const floor = Math.max(suffix[0]!, bound);
  const current = new Int32Array(howMany);
  let bestAssign: Int32Array | undefined;
  let nodes = 0;
  let stopped = false;
  let reachedFloor = false;

  const sameNode = (a: number, b: number) => {
    for (let d = 0; d < dimCount; d++) {
      if (
        p.capacity[a * dimCount + d] !== p.capacity[b * dimCount + d] ||
        load[a * dimCount + d] !== load[b * dimCount + d] ||
        now[a * dimCount + d] !== now[b * dimCount + d]
      )
        return false;
    }
    return true;
  };
  const dfs = (i: number, score: number, waits: number): void => {
    if (stopped) return;
    nodes++;
    if (!budget.spend() || (outer !== undefined && !outer.spend())) {
      stopped = true;
      return;
    }
    if (i === howMany) {
      best = score;
      bestAssign = current.slice();
      // The cost cannot go below the floor (each VM at its cheapest node, or the proven bound): only waits could still be fewer.
      if (score - waits * waitWeight <= floor + EPSILON) {
        reachedFloor = true;
        stopped = true;
      }
      return;
    }
    const it = items[i]!;
    const tried: number[] = [];
    for (const { n, c } of order[i]!) {
      if (score + c + suffix[i + 1]! >= best - EPSILON) break;
      if (!fits(p, load, n, it.v) || (R && !R.allows(it.v, n))) continue;
      if (!R && !homeNodes.has(n)) {
        if (tried.some((triedNode) => sameNode(triedNode, n))) continue;
        tried.push(n);
      }
      const arriving = arrives(p, it.v, n);
      const wait = arriving && !fits(p, now, n, it.v) ? waitWeight : 0;
      if (score + c + wait + suffix[i + 1]! >= best - EPSILON) continue;
      current[i] = n;
      addDemand(p, load, n, it.v, 1);
      if (arriving) addDemand(p, now, n, it.v, 1);
      R?.assign(it.v, n);
      dfs(i + 1, score + c + wait, wait > 0 ? waits + 1 : waits);
      addDemand(p, load, n, it.v, -1);
      if (arriving) addDemand(p, now, n, it.v, -1);
      R?.unassign(it.v, n);
      if (stopped) return;
    }
  };
  dfs(0, 0, 0);
  items.forEach((it, i) => state.place(it.v, bestAssign ? bestAssign[i]! : it.was));
  // Complete: the search ran to its end (or met the floor), so nothing better exists.
  const complete = !stopped || (bestAssign !== undefined && reachedFloor);
  return { nodes, improved: bestAssign !== undefined, complete };
}
