import type { ConstraintKind } from './face.ts';
import { nodeId, nodeIndexes, runsAtSource, span } from './support.ts';

/** BtrPlace Ban: the VM never runs on the nodes. Continuous: it never arrives there either (no pivot). */
export const ban: ConstraintKind<'ban'> = {
  type: 'ban',
  compile(c, p) {
    const vm = p.vmIndex.get(c.vm);
    if (vm === undefined) return undefined;
    const banned = new Set(nodeIndexes(p, c.nodes));
    return {
      vms: [vm],
      placement: () => ({
        allows: (_vm, node) => !banned.has(node),
        assign: () => undefined,
        unassign: () => undefined,
        misplaced: (dest) => (dest[vm]! >= 0 && banned.has(dest[vm]!) && runsAtSource(p, vm) ? [vm] : []),
      }),
      schedule: c.continuous
        ? () => ({ mayStart: (t) => t.to < 0 || !banned.has(t.to), started: () => undefined, ended: () => undefined })
        : undefined,
    };
  },
  check(c, view) {
    const v = view.vmIndex.get(c.vm)!;
    const banned = new Set(c.nodes);
    if (c.continuous) {
      const bad = view.staysOfVm[v]!.find((s) => s.arrival && banned.has(nodeId(view, s.node)));
      if (bad) return `VM ${c.vm} is placed on node ${nodeId(view, bad.node)} ${span(bad)}`;
    }
    const n = view.finalHost[v]!;
    return view.finalState[v] === 'running' && banned.has(nodeId(view, n))
      ? `VM ${c.vm} runs on node ${nodeId(view, n)} at the end`
      : undefined;
  },
};
