import type { ConstraintKind } from './face.ts';
import { poolFace } from './pool.ts';
import { firstExcess, mergedStays, nodeIndexes, rcDemand, viewNodes, when } from './support.ts';

/** BtrPlace ResourceCapacity: the VMs running on the nodes use at most `amount` of `rc` in all. */
export const resourceCapacity: ConstraintKind<'resourceCapacity'> = {
  type: 'resourceCapacity',
  compile(c, p) {
    const demand = rcDemand(p, c.rc);
    return poolFace(p, nodeIndexes(p, c.nodes), c.amount, (v) => demand[v]!, c.continuous);
  },
  check(c, view) {
    const inSet = new Set(viewNodes(view, c.nodes));
    const intervals = view.configuration.vms.flatMap((_, v) =>
      mergedStays(view, v, (n) => inSet.has(n)).map((s) => ({ ...s, weight: view.demand(v, c.rc) })),
    );
    const over = firstExcess(intervals, c.amount, !c.continuous);
    return over ? `the VMs on its nodes use ${over.total} ${c.rc} ${when(over.at)}` : undefined;
  },
};
