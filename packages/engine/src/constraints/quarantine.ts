import type { ConstraintKind } from './face.ts';
import { runsAtSource, span, vmId } from './support.ts';

/**
 * BtrPlace Quarantine: nothing arrives on the node and its running VMs stay (always continuous).
 * The engine pins those VMs and refuses the node to every other VM, pivots included.
 */
export const quarantine: ConstraintKind<'quarantine'> = {
  type: 'quarantine',
  compile(c, p) {
    const node = p.nodeIndex.get(c.node);
    if (node === undefined) return undefined;
    const pinned: number[] = [];
    for (let v = 0; v < p.vmCount; v++) if (runsAtSource(p, v) && p.host[v] === node) pinned.push(v);
    const stays = new Set(pinned);
    return {
      nodes: [node],
      pinned,
      placement: () => ({ allows: (vm) => stays.has(vm), assign: () => undefined, unassign: () => undefined }),
      schedule: () => ({ mayStart: (t) => t.to < 0, started: () => undefined, ended: () => undefined }),
    };
  },
  check(c, view) {
    const n = view.nodeIndex.get(c.node)!;
    const arrival = view.staysOnNode(n).find((s) => s.arrival);
    if (arrival) return `VM ${vmId(view, arrival.vm)} is placed on it ${span(arrival)}`;
    for (const s of view.staysOnNode(n)) {
      if (s.arrival) continue;
      const m = view.actionsOfVm[s.vm]!.find((a) => a.type === 'migrate');
      if (m) return `VM ${vmId(view, s.vm)} leaves it by action ${m.id}`;
    }
    return undefined;
  },
};
