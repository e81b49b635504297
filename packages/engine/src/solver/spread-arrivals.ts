import { addDemand, fits, migrationDuration, runsAtSource, S, type Problem } from '../model/problem.ts';
import type { Rules } from './rules.ts';

/** Above this many (migration, node) pairs the spreading is skipped: it is a refinement, not a phase of its own. */
const MAX_PAIRS = 2_000_000;

/**
 * With a network, where the migrations go decides how they queue on links: the placement, which
 * only weighs what moves, may send every migration to one node, and that node's inbound link then
 * runs them one after another (issue-100: 13 migrations to node 24). Any other node where the VM
 * fits in the final placement and the placement rules allow it costs the same (a migration costs
 * its memory wherever it goes). Greedy, longest migration first: each goes to the node whose
 * inbound link is free soonest once its migration is added, ties to the node the placement chose.
 * Returns the new target, or undefined when there is no network or nothing to spread.
 */
export function spreadArrivals(p: Problem, dest: Int32Array, rules: Rules): Int32Array | undefined {
  if (!p.network) return undefined;
  const movers: number[] = [];
  for (let v = 0; v < p.vmCount; v++)
    if (p.target[v] === S.running && runsAtSource(p, v) && dest[v]! >= 0 && dest[v] !== p.host[v] && !p.pinned[v])
      movers.push(v);
  if (movers.length < 2 || movers.length * p.nodeCount > MAX_PAIRS) return undefined;
  const out = dest.slice();
  const load = new Float64Array(p.nodeCount * p.dims.length);
  const R = rules.placement();
  for (let v = 0; v < p.vmCount; v++) {
    if (p.target[v] !== S.running || out[v]! < 0) continue;
    addDemand(p, load, out[v]!, v, 1);
    R.assign(v, out[v]!);
  }
  const duration = (v: number, n: number) => migrationDuration(p, v, p.host[v]!, n);
  movers.sort((a, b) => duration(b, dest[b]!) - duration(a, dest[a]!) || a - b);
  // When each node's inbound link is free again, as migrations are added one after another.
  const inbound = new Float64Array(p.nodeCount);
  for (const v of movers) {
    const chosen = out[v]!;
    addDemand(p, load, chosen, v, -1);
    R.unassign(v, chosen);
    let best = chosen;
    let bestEnd = inbound[chosen]! + duration(v, chosen);
    for (let n = 0; n < p.nodeCount; n++) {
      if (n === chosen || n === p.host[v] || !p.usable[n] || !fits(p, load, n, v) || !R.allows(v, n)) continue;
      const end = inbound[n]! + duration(v, n);
      if (end < bestEnd) {
        best = n;
        bestEnd = end;
      }
    }
    out[v] = best;
    inbound[best] = bestEnd;
    addDemand(p, load, best, v, 1);
    R.assign(v, best);
  }
  return out;
}
