import type { ConstraintKind } from './face.ts';
import {
  finalRunning,
  groupIndex,
  nodeId,
  outsideMajority,
  runsAtSource,
  span,
  staysOf,
  viewVms,
  vmId,
  vmIndexes,
} from './support.ts';

/**
 * BtrPlace Among: the running VMs sit in one group of nodes. The first VM placed picks the group;
 * continuous: the group of the source configuration holds for the whole plan (a pivot stays in it).
 */
export const among: ConstraintKind<'among'> = {
  type: 'among',
  compile(c, p) {
    const vms = vmIndexes(p, c.vms);
    const { groupOf, nodes, all } = groupIndex(p, p.nodeIndex, c.parts);
    let sourceGroup = -1;
    let infeasible: string | undefined;
    if (c.continuous) {
      for (const v of vms) {
        if (!runsAtSource(p, v)) continue;
        const g = groupOf.get(p.host[v]!) ?? -2;
        if (sourceGroup === -1) sourceGroup = g;
        else if (g !== sourceGroup) sourceGroup = -2;
      }
      if (sourceGroup === -2) infeasible = 'its VMs already run outside one group in the source configuration';
    }
    return {
      vms,
      ...(infeasible ? { infeasible } : {}),
      placement() {
        const count = new Int32Array(nodes.length);
        let total = 0;
        return {
          allows(_vm, node) {
            const g = groupOf.get(node);
            return g !== undefined && (total === 0 || count[g] === total) && (sourceGroup < 0 || g === sourceGroup);
          },
          assign(_vm, node) {
            const g = groupOf.get(node);
            if (g !== undefined) count[g]++;
            total++;
          },
          unassign(_vm, node) {
            const g = groupOf.get(node);
            if (g !== undefined) count[g]--;
            total--;
          },
          candidates() {
            if (sourceGroup >= 0) return nodes[sourceGroup];
            if (total > 0) for (let g = 0; g < nodes.length; g++) if (count[g] === total) return nodes[g];
            return all;
          },
          misplaced: (dest) => outsideMajority(p, dest, vms, (n) => groupOf.get(n)),
        };
      },
      schedule: c.continuous
        ? () => {
            let chosen = sourceGroup;
            return {
              mayStart: (t) => t.to < 0 || (groupOf.has(t.to) && (chosen < 0 || groupOf.get(t.to) === chosen)),
              started: (t) => {
                if (t.to >= 0 && chosen < 0) chosen = groupOf.get(t.to)!;
              },
              ended: () => undefined,
            };
          }
        : undefined,
    };
  },
  check(c, view) {
    const vms = viewVms(view, c.vms);
    const { groupOf } = groupIndex(view, view.nodeIndex, c.parts);
    const describeGroup = (n: number) => (groupOf.has(n) ? `group ${groupOf.get(n)! + 1}` : 'no group');
    if (c.continuous) {
      let first: { vm: number; node: number; g: number | undefined } | undefined;
      for (const s of staysOf(view, vms).sort((a, b) => a.from - b.from)) {
        const g = groupOf.get(s.node);
        if (g === undefined)
          return `VM ${vmId(view, s.vm)} is on node ${nodeId(view, s.node)}, in no group, ${span(s)}`;
        if (!first) first = { vm: s.vm, node: s.node, g };
        else if (g !== first.g)
          return `VM ${vmId(view, s.vm)} is on node ${nodeId(view, s.node)} (${describeGroup(s.node)}) ${span(s)} while VM ${vmId(view, first.vm)} uses ${describeGroup(first.node)}`;
      }
      return undefined;
    }
    let first: { vm: number; node: number } | undefined;
    for (const r of finalRunning(view, vms)) {
      if (!groupOf.has(r.node))
        return `VM ${vmId(view, r.vm)} runs on node ${nodeId(view, r.node)}, in no group, at the end`;
      if (!first) first = r;
      else if (groupOf.get(r.node) !== groupOf.get(first.node))
        return `VMs ${vmId(view, first.vm)} (node ${nodeId(view, first.node)}, ${describeGroup(first.node)}) and ${vmId(view, r.vm)} (node ${nodeId(view, r.node)}, ${describeGroup(r.node)}) run in different groups at the end`;
    }
    return undefined;
  },
};
