import type { ConstraintKind } from './face.ts';
import { firstExcess, when } from './support.ts';

/**
 * BtrPlace Overbook: the node offers `ratio` times its capacity in `rc`. The prepared capacity is the
 * overbooked one, so placement and planner need nothing more; the check replays the node's usage.
 */
export const overbook: ConstraintKind<'overbook'> = {
  type: 'overbook',
  prepare: (c, draft) => draft.scaleCapacity(c.node, c.rc, c.ratio),
  check(c, view) {
    const n = view.nodeIndex.get(c.node)!;
    const cap = view.capacity(n, c.rc);
    const stays = view.staysOnNode(n).map((s) => ({ ...s, weight: view.demand(s.vm, c.rc), source: !s.arrival }));
    // As for capacity, an overloaded source is what the plan repairs: only arrivals must fit.
    const over = firstExcess(stays, cap, !c.continuous, true);
    return over
      ? `node ${c.node} uses ${over.total} ${c.rc} ${when(over.at)}, more than ${cap} (its capacity x ${c.ratio})`
      : undefined;
  },
};
