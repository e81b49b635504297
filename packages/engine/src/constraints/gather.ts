import type { ConstraintKind } from './face.ts';
import {
  finalRunning,
  NodeCounts,
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
 * BtrPlace Gather: the running VMs share one node. Continuous: the node of the source configuration
 * (or of the first VM to arrive) for the whole plan, so its VMs never migrate.
 */
export const gather: ConstraintKind<'gather'> = {
  type: 'gather',
  compile(c, p) {
    const vms = vmIndexes(p, c.vms);
    let home = -1;
    let infeasible: string | undefined;
    if (c.continuous) {
      for (const v of vms) {
        if (!runsAtSource(p, v)) continue;
        if (home < 0) home = p.host[v]!;
        else if (p.host[v] !== home) infeasible = 'its VMs already run on different nodes in the source configuration';
      }
    }
    return {
      vms,
      ...(infeasible ? { infeasible } : {}),
      placement() {
        const on = new NodeCounts();
        let total = 0;
        return {
          allows: (_vm, node) => (home < 0 || node === home) && (total === 0 || on.get(node) === total),
          assign: (_vm, node) => (on.add(node, 1), total++),
          unassign: (_vm, node) => (on.add(node, -1), total--),
          candidates() {
            if (home >= 0) return [home];
            if (total > 0) for (const [n, k] of on.entries()) if (k === total) return [n];
            return undefined;
          },
          misplaced: (dest) => outsideMajority(p, dest, vms, (n) => n),
        };
      },
      schedule: c.continuous
        ? () => {
            let chosen = home;
            return {
              mayStart: (t) => t.to < 0 || chosen < 0 || t.to === chosen,
              started: (t) => {
                if (t.to >= 0 && chosen < 0) chosen = t.to;
              },
              ended: () => undefined,
            };
          }
        : undefined,
    };
  },
  check(c, view) {
    const vms = viewVms(view, c.vms);
    if (c.continuous) {
      const stays = staysOf(view, vms).sort((a, b) => a.from - b.from);
      const first = stays[0];
      const off = stays.find((s) => s.node !== first?.node);
      return off && first
        ? `VM ${vmId(view, off.vm)} is on node ${nodeId(view, off.node)} ${span(off)}, VM ${vmId(view, first.vm)} on node ${nodeId(view, first.node)}`
        : undefined;
    }
    const running = finalRunning(view, vms);
    const off = running.find((r) => r.node !== running[0]!.node);
    return off
      ? `VMs ${vmId(view, running[0]!.vm)} (node ${nodeId(view, running[0]!.node)}) and ${vmId(view, off.vm)} (node ${nodeId(view, off.node)}) run on different nodes at the end`
      : undefined;
  },
};
