import type { ConstraintKind } from './face.ts';
import { poolFace } from './pool.ts';
import { firstExcess, mergedStays, nodeIndexes, viewNodes, when } from './support.ts';

/** BtrPlace RunningCapacity: at most `amount` VMs run on the nodes in all. */
export const runningCapacity: ConstraintKind<'runningCapacity'> = {
  type: 'runningCapacity',
  compile: (c, p) => poolFace(p, nodeIndexes(p, c.nodes), c.amount, () => 1, c.continuous),
  check(c, view) {
    const inSet = new Set(viewNodes(view, c.nodes));
    const intervals = view.configuration.vms.flatMap((_, v) =>
      mergedStays(view, v, (n) => inSet.has(n)).map((s) => ({ ...s, weight: 1 })),
    );
    const over = firstExcess(intervals, c.amount, !c.continuous);
    return over ? `${over.total} VMs run on its nodes ${when(over.at)}` : undefined;
  },
};
