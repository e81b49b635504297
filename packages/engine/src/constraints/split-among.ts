import type { ConstraintKind } from './face.ts';
import { partIndex } from './split.ts';
import { finalRunning, groupIndex, nodeId, runsAtSource, span, staysOf, viewVms, vmId } from './support.ts';

/**
 * BtrPlace SplitAmong: each part of VMs runs within one group of nodes, and no two parts share a
 * group. Continuous: each part keeps its group for the whole plan.
 */
export const splitAmong: ConstraintKind<'splitAmong'> = {
  type: 'splitAmong',
  compile(c, p) {
    const { partOf, vms } = partIndex(p, c.vParts);
    const { groupOf, nodes } = groupIndex(p, p.nodeIndex, c.pParts);
    const P = c.vParts.length;
    const G = nodes.length;
    const sourceGroup = new Int32Array(P).fill(-1);
    let infeasible: string | undefined;
    if (c.continuous) {
      for (const v of vms) {
        if (!runsAtSource(p, v)) continue;
        const k = partOf.get(v)!;
        const g = groupOf.get(p.host[v]!);
        if (g === undefined || (sourceGroup[k]! >= 0 && sourceGroup[k] !== g))
          infeasible = 'a part already runs outside one group in the source configuration';
        else sourceGroup[k] = g;
      }
      if (new Set([...sourceGroup].filter((g) => g >= 0)).size !== [...sourceGroup].filter((g) => g >= 0).length)
        infeasible = 'two parts already share a group in the source configuration';
    }
    return {
      vms,
      ...(infeasible ? { infeasible } : {}),
      placement() {
        const count = new Int32Array(P * G);
        const total = new Int32Array(P);
        const usedBy = new Int32Array(G); // VMs of any part per group
        return {
          allows(vm, node) {
            const g = groupOf.get(node);
            if (g === undefined) return false;
            const k = partOf.get(vm)!;
            if (sourceGroup[k]! >= 0 && g !== sourceGroup[k]) return false;
            if (total[k]! > 0) return count[k * G + g] === total[k];
            // A part that has no VM placed yet takes a group no other part uses (nor holds from the source).
            return usedBy[g] === 0 && !sourceGroup.some((sg, q) => q !== k && sg === g);
          },
          assign(vm, node) {
            const g = groupOf.get(node);
            const k = partOf.get(vm)!;
            total[k]++;
            if (g !== undefined) {
              count[k * G + g]++;
              usedBy[g]++;
            }
          },
          unassign(vm, node) {
            const g = groupOf.get(node);
            const k = partOf.get(vm)!;
            total[k]--;
            if (g !== undefined) {
              count[k * G + g]--;
              usedBy[g]--;
            }
          },
          candidates(vm) {
            const k = partOf.get(vm)!;
            if (sourceGroup[k]! >= 0) return nodes[sourceGroup[k]!];
            if (total[k]! > 0) for (let g = 0; g < G; g++) if (count[k * G + g] === total[k]) return nodes[g];
            return undefined;
          },
          misplaced(dest) {
            // Each part keeps the group most of its VMs use, unless a larger part holds it: then the whole part moves.
            const major = new Int32Array(P).fill(-1);
            const size = new Int32Array(P);
            for (let k = 0; k < P; k++) {
              const per = new Map<number, number>();
              for (const v of vms) {
                if (partOf.get(v) !== k || dest[v]! < 0) continue;
                size[k]++;
                const g = groupOf.get(dest[v]!);
                if (g !== undefined) per.set(g, (per.get(g) ?? 0) + 1);
              }
              let best = 0;
              for (const [g, n] of per) if (n > best) [major[k], best] = [g, n];
            }
            const owner = new Map<number, number>();
            for (let k = 0; k < P; k++) {
              const g = major[k]!;
              if (g < 0) continue;
              const o = owner.get(g);
              if (o === undefined || size[k]! > size[o]!) owner.set(g, k);
            }
            const out: number[] = [];
            for (const v of vms) {
              if (dest[v]! < 0) continue;
              const k = partOf.get(v)!;
              const g = groupOf.get(dest[v]!);
              if (g === undefined || g !== major[k] || owner.get(g) !== k) out.push(v);
            }
            return out.sort((a, b) => p.mem[a]! - p.mem[b]! || a - b);
          },
        };
      },
      schedule: c.continuous
        ? () => {
            const chosen = Int32Array.from(sourceGroup);
            return {
              mayStart(t) {
                if (t.to < 0) return true;
                const g = groupOf.get(t.to);
                if (g === undefined) return false;
                const k = partOf.get(t.vm)!;
                return chosen[k]! >= 0 ? chosen[k] === g : !chosen.includes(g);
              },
              started(t) {
                const k = partOf.get(t.vm)!;
                if (t.to >= 0 && chosen[k]! < 0) chosen[k] = groupOf.get(t.to)!;
              },
              ended: () => undefined,
            };
          }
        : undefined,
    };
  },
  check(c, view) {
    const partOf = new Map<number, number>();
    c.vParts.forEach((part, k) => viewVms(view, part).forEach((v) => partOf.set(v, k)));
    const { groupOf } = groupIndex(view, view.nodeIndex, c.pParts);
    const groupOfPart = new Map<number, { g: number; vm: number }>();
    const partOfGroup = new Map<number, number>();
    const placements = c.continuous
      ? staysOf(view, [...partOf.keys()])
          .sort((a, b) => a.from - b.from)
          .map((s) => ({ vm: s.vm, node: s.node, where: span(s) }))
      : finalRunning(view, [...partOf.keys()]).map((r) => ({ ...r, where: 'at the end' }));
    for (const { vm, node, where } of placements) {
      const k = partOf.get(vm)!;
      const g = groupOf.get(node);
      if (g === undefined) return `VM ${vmId(view, vm)} is on node ${nodeId(view, node)}, in no group, ${where}`;
      const mine = groupOfPart.get(k);
      if (mine && mine.g !== g)
        return `VMs ${vmId(view, mine.vm)} and ${vmId(view, vm)} (part ${k + 1}) use groups ${mine.g + 1} and ${g + 1} (${where})`;
      const owner = partOfGroup.get(g);
      if (owner !== undefined && owner !== k)
        return `parts ${owner + 1} and ${k + 1} both use group ${g + 1} (VM ${vmId(view, vm)} on node ${nodeId(view, node)} ${where})`;
      groupOfPart.set(k, { g, vm });
      partOfGroup.set(g, k);
    }
    return undefined;
  },
};
