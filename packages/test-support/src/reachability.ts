import type { Configuration, Decision } from '@entropy/engine';
import { viewOf } from './exact-optimum.ts';

const EPS = 1e-9;

export type Reachability =
  | { readonly kind: 'reachable'; readonly moves: readonly string[] }
  | { readonly kind: 'unreachable'; readonly states: number }
  | { readonly kind: 'budget' };

/**
 * Can a viable target be reached one VM at a time? Starts from the source once every stop and
 * suspend is over (the most room a plan can ever have), then moves one VM that must run at a time
 * onto an online node where it fits right now, counting the VM on its old node until it has left:
 * a migration (to any node, as often as needed, so pivots of any length are included), a run or a
 * resume. The goal is every VM that must run placed on an online node and every online node within
 * capacity. Breadth-first over placements; exact unless `budget` states are exhausted.
 */
export function viableTargetIsReachable(
  configuration: Configuration,
  decision: Decision,
  budget = 500_000,
): Reachability {
  const view = viewOf(configuration, decision);
  const D = view.dims.length;
  const N = view.nodeIds.length;
  const movers = view.mustRun;
  const start = new Int32Array(movers.length).fill(-1);
  movers.forEach((vi, i) => {
    const v = view.vms[vi]!;
    if (v.from === 'running' && v.host >= 0) start[i] = v.host;
  });
  const usage = new Float64Array(N * D);
  const usageOf = (pos: Int32Array) => {
    usage.fill(0);
    pos.forEach((n, i) => {
      if (n < 0) return;
      const demand = view.vms[movers[i]!]!.demand;
      for (let d = 0; d < D; d++) usage[n * D + d] += demand[d]!;
    });
  };
  const fits = (n: number, i: number) => {
    const demand = view.vms[movers[i]!]!.demand;
    for (let d = 0; d < D; d++) if (usage[n * D + d]! + demand[d]! > view.capacity[n]![d]! + EPS) return false;
    return true;
  };
  const isGoal = (pos: Int32Array) => {
    for (let i = 0; i < pos.length; i++) if (pos[i]! < 0 || !view.online[pos[i]!]) return false;
    for (let n = 0; n < N; n++) {
      if (!view.online[n]) continue;
      for (let d = 0; d < D; d++) if (usage[n * D + d]! > view.capacity[n]![d]! + EPS) return false;
    }
    return true;
  };
  // Breadth-first, so that the moves reported are a shortest witness.
  const states: Int32Array[] = [start];
  const parent: number[] = [-1];
  const move: string[] = [''];
  const seen = new Set<string>([start.join(',')]);
  for (let head = 0; head < states.length; head++) {
    const pos = states[head]!;
    usageOf(pos);
    if (isGoal(pos)) {
      const moves: string[] = [];
      for (let s = head; s > 0; s = parent[s]!) moves.push(move[s]!);
      return { kind: 'reachable', moves: moves.reverse() };
    }
    for (let i = 0; i < pos.length; i++) {
      const from = pos[i]!;
      for (let n = 0; n < N; n++) {
        if (n === from || !view.online[n] || !fits(n, i)) continue;
        const next = pos.slice();
        next[i] = n;
        const key = next.join(',');
        if (seen.has(key)) continue;
        if (states.length >= budget) return { kind: 'budget' };
        seen.add(key);
        states.push(next);
        parent.push(head);
        move.push(`${view.vms[movers[i]!]!.id}: ${from >= 0 ? view.nodeIds[from] : '-'} -> ${view.nodeIds[n]}`);
      }
    }
  }
  return { kind: 'unreachable', states: states.length };
}
