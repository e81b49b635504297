import type { ConstraintKind } from './face.ts';
import {
  finalRunning,
  firstClash,
  keepHeaviest,
  NodeCounts,
  nodeId,
  runsAtSource,
  span,
  staysOf,
  viewVms,
  vmId,
  vmIndexes,
} from './support.ts';

/**
 * BtrPlace Spread: no two of the VMs on one node. Continuous: at no instant either, so a VM may
 * start arriving on a node only once every other VM of the set has left it (a migration leaves
 * its source at its end).
 */
export const spread: ConstraintKind<'spread'> = {
  type: 'spread',
  compile(c, p) {
    const vms = vmIndexes(p, c.vms);
    return {
      vms,
      placement() {
        const on = new NodeCounts();
        return {
          allows: (_vm, node) => on.get(node) === 0,
          assign: (_vm, node) => on.add(node, 1),
          unassign: (_vm, node) => on.add(node, -1),
          misplaced: (dest) => keepHeaviest(p, dest, vms, (v) => v),
        };
      },
      schedule: c.continuous
        ? () => {
            const present = new NodeCounts();
            for (const v of vms) if (runsAtSource(p, v)) present.add(p.host[v]!, 1);
            return {
              mayStart: (t) => t.to < 0 || present.get(t.to) === 0,
              started: (t) => (t.to >= 0 ? present.add(t.to, 1) : undefined),
              ended: (t) => (t.from >= 0 ? present.add(t.from, -1) : undefined),
            };
          }
        : undefined,
    };
  },
  check(c, view) {
    const vms = viewVms(view, c.vms);
    if (c.continuous) {
      const clash = firstClash(staysOf(view, vms), (v) => v, true);
      if (clash) {
        const [a, b] = clash;
        return `VMs ${vmId(view, a.vm)} (${span(a)}) and ${vmId(view, b.vm)} (${span(b)}) are both on node ${nodeId(view, a.node)}`;
      }
      return undefined;
    }
    const seen = new Map<number, number>();
    for (const { vm, node } of finalRunning(view, vms)) {
      const other = seen.get(node);
      if (other !== undefined)
        return `VMs ${vmId(view, other)} and ${vmId(view, vm)} both run on node ${nodeId(view, node)} at the end`;
      seen.set(node, vm);
    }
    return undefined;
  },
};
