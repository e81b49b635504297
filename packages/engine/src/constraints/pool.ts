import type { Problem } from '../model/problem.ts';
import type { EngineFace } from './face.ts';
import { runsAtSource } from './support.ts';

/**
 * A budget shared by a set of nodes: what the VMs running on them weigh in all (a resource for
 * resourceCapacity, 1 per VM for runningCapacity) must stay within `amount`. Placement sheds the
 * lightest VMs of an over-budget set and admits a VM while it fits; continuous, the planner admits
 * an arrival from outside the set only while it fits, and a departure wakes the whole set.
 */
export function poolFace(
  p: Problem,
  nodes: readonly number[],
  amount: number,
  weight: (vm: number) => number,
  continuous: boolean,
): EngineFace {
  const inSet = new Uint8Array(p.nodeCount);
  for (const n of nodes) inSet[n] = 1;
  const sourceUse = () => {
    let used = 0;
    for (let v = 0; v < p.vmCount; v++) if (runsAtSource(p, v) && inSet[p.host[v]!]) used += weight(v);
    return used;
  };
  const start = continuous ? sourceUse() : 0;
  const infeasible =
    continuous && start > amount + 1e-9 ? `the source configuration already uses ${start} of ${amount}` : undefined;
  return {
    nodes,
    ...(infeasible ? { infeasible } : {}),
    placement() {
      let used = 0;
      const on: number[][] = [];
      return {
        allows: (vm) => used + weight(vm) <= amount + 1e-9,
        assign(vm, node) {
          used += weight(vm);
          (on[node] ??= []).push(vm);
        },
        unassign(vm, node) {
          used -= weight(vm);
          const list = on[node]!;
          list.splice(list.indexOf(vm), 1);
        },
        misplaced() {
          if (used <= amount + 1e-9) return [];
          // Pinned VMs last: the placement cannot move them, but must learn that the budget still breaks.
          const here = nodes.flatMap((n) => on[n] ?? []).filter((v) => weight(v) > 0);
          here.sort((a, b) => p.pinned[a]! - p.pinned[b]! || p.mem[a]! - p.mem[b]! || weight(b) - weight(a) || a - b);
          const out: number[] = [];
          let excess = used - amount;
          for (const v of here) {
            if (excess <= 1e-9) break;
            out.push(v);
            excess -= weight(v);
          }
          return out;
        },
      };
    },
    schedule: continuous
      ? () => {
          let used = start;
          return {
            mayStart: (t) =>
              t.to < 0 || t.vm < 0 || (t.from >= 0 && inSet[t.from] === 1) || used + weight(t.vm) <= amount + 1e-9,
            started(t) {
              if (t.to >= 0 && t.vm >= 0 && !(t.from >= 0 && inSet[t.from])) used += weight(t.vm);
            },
            ended(t) {
              if (t.from < 0 || t.vm < 0 || !inSet[t.from] || (t.to >= 0 && inSet[t.to])) return undefined;
              used -= weight(t.vm);
              return nodes;
            },
          };
        }
      : undefined,
  };
}
