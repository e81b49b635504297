import type { ConstraintKind } from './face.ts';
import { nodeId, nodeIndexes, runsAtSource, span } from './support.ts';

/** BtrPlace Fence: the VM runs only on the nodes. Continuous: it never arrives elsewhere either (no pivot). */
export const fence: ConstraintKind<'fence'> = {
  type: 'fence',
  compile(c, p) {
    const vm = p.vmIndex.get(c.vm);
    if (vm === undefined) return undefined;
    const list = nodeIndexes(p, c.nodes);
    const allowed = new Set(list);
    return {
      vms: [vm],
      placement: () => ({
        allows: (_vm, node) => allowed.has(node),
        assign: () => undefined,
        unassign: () => undefined,
        candidates: () => list,
        misplaced: (dest) => (dest[vm]! >= 0 && !allowed.has(dest[vm]!) && runsAtSource(p, vm) ? [vm] : []),
      }),
      schedule: c.continuous
        ? () => ({ mayStart: (t) => t.to < 0 || allowed.has(t.to), started: () => undefined, ended: () => undefined })
        : undefined,
    };
  },
  check(c, view) {
    const v = view.vmIndex.get(c.vm)!;
    const allowed = new Set(c.nodes);
    if (c.continuous) {
      const bad = view.staysOfVm[v]!.find((s) => s.arrival && !allowed.has(nodeId(view, s.node)));
      if (bad) return `VM ${c.vm} is placed on node ${nodeId(view, bad.node)}, outside its fence, ${span(bad)}`;
    }
    const n = view.finalHost[v]!;
    return view.finalState[v] === 'running' && !allowed.has(nodeId(view, n))
      ? `VM ${c.vm} runs on node ${nodeId(view, n)}, outside its fence, at the end`
      : undefined;
  },
};
