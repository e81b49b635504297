import { EPSILON, runsAtSource, S, type Problem } from '../model/problem.ts';

/**
 * The placement cost of a target configuration, the paper's: what reaching it costs the vjobs, in
 * MiB moved. A migration costs the VM's memory, a suspend its memory, a resume its memory on the
 * node of its image and twice its memory on another node; a run and a stop cost nothing. The
 * engine minimizes it first, then the plan's duration.
 */

/** What placing VM `v` (which must run) on node `n` costs. */
export function vmCostAt(p: Problem, v: number, n: number): number {
  const mem = p.mem[v]!;
  if (runsAtSource(p, v)) return n === p.host[v] ? 0 : mem;
  if (p.source[v] === S.sleeping) return n === p.host[v] ? mem : 2 * mem;
  return 0;
}

/** What the decision costs whatever the placement: the suspends. */
export function fixedPlacementCost(p: Problem): number {
  let cost = 0;
  for (let v = 0; v < p.vmCount; v++) if (p.target[v] === S.sleeping && runsAtSource(p, v)) cost += p.mem[v]!;
  return cost;
}

/** The placement cost of `dest` (a node per VM that must run, -1 for the others). */
export function placementCost(p: Problem, dest: Int32Array): number {
  let cost = fixedPlacementCost(p);
  for (let v = 0; v < p.vmCount; v++) if (p.target[v] === S.running) cost += vmCostAt(p, v, dest[v]!);
  return cost;
}

/**
 * A lower bound on the placement cost of any viable target. Each VM that must run has a cheapest
 * node, its home (its host, or its image's node): staying there costs nothing (a resume, its memory),
 * anywhere else its memory more. On a node whose home VMs exceed its capacity, some must leave: the
 * cheapest fractional choice, per dimension (a fractional knapsack, the best of the dimensions),
 * is a bound on what leaving costs there; nodes do not share home VMs, so the bounds add up.
 * Exact when no node is overloaded by its home VMs and the others fit somewhere.
 */
export function placementLowerBound(p: Problem): number {
  const dimCount = p.dims.length;
  let bound = fixedPlacementCost(p);
  const homeOf = new Map<number, number[]>();
  for (let v = 0; v < p.vmCount; v++) {
    if (p.target[v] !== S.running) continue;
    const hostNode = p.host[v]!;
    const homed = hostNode >= 0 && p.usable[hostNode] === 1 && (runsAtSource(p, v) || p.source[v] === S.sleeping);
    // A VM whose home is gone (an offline node) pays its cheapest move anyway.
    if (!homed) bound += hostNode >= 0 ? vmCostAt(p, v, -1) : 0;
    else {
      bound += vmCostAt(p, v, hostNode);
      const list = homeOf.get(hostNode);
      if (list) list.push(v);
      else homeOf.set(hostNode, [v]);
    }
  }
  for (const [n, vms] of homeOf) {
    let best = 0;
    for (let d = 0; d < dimCount; d++) {
      let excess = -p.capacity[n * dimCount + d]!;
      for (const v of vms) excess += p.demand[v * dimCount + d]!;
      if (excess <= EPSILON) continue;
      // Cheapest memory per unit of this dimension first.
      const order = vms
        .filter((v) => p.demand[v * dimCount + d]! > 0)
        .sort((a, b) => p.mem[a]! / p.demand[a * dimCount + d]! - p.mem[b]! / p.demand[b * dimCount + d]!);
      let cost = 0;
      for (const v of order) {
        const need = p.demand[v * dimCount + d]!;
        const take = Math.min(need, excess);
        cost += (p.mem[v]! * take) / need;
        excess -= take;
        if (excess <= EPSILON) break;
      }
      if (cost > best) best = cost;
    }
    bound += best;
  }
  return bound;
}
