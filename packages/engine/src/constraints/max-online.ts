import type { ConstraintKind } from './face.ts';
import { firstExcess, nodeIndexes, viewNodes, when } from './support.ts';

/**
 * BtrPlace MaxOnline: at most `amount` of the nodes are online. When more are online, the emptiest
 * nodes no other constraint holds are shut down. Continuous: a boot waits until the count allows it
 * (a node counts as online from the start of its boot to the end of its shutdown).
 */
export const maxOnline: ConstraintKind<'maxOnline'> = {
  type: 'maxOnline',
  prepare(c, draft) {
    const online = c.nodes.filter((n) => draft.nodeState(n) === 'online');
    if (online.length <= c.amount) return;
    const spare = online
      .filter((n) => !draft.nodeWanted(n))
      .sort((a, b) => draft.loadOn(a) - draft.loadOn(b) || a.localeCompare(b));
    let excess = online.length - c.amount;
    for (const n of spare) {
      if (excess === 0) break;
      draft.wantNode(n, 'offline', c);
      excess--;
    }
    if (excess > 0)
      draft.conflict(
        `other constraints keep ${online.length - spare.length} of its nodes online, more than ${c.amount}`,
      );
  },
  compile(c, p) {
    if (!c.continuous) return undefined;
    const nodes = nodeIndexes(p, c.nodes);
    const inSet = new Set(nodes);
    const start = nodes.filter((n) => p.online[n]).length;
    return {
      nodes,
      ...(start > c.amount ? { infeasible: `${start} of its nodes are already online` } : {}),
      schedule() {
        let on = start;
        return {
          mayStart: (t) => t.type !== 'bootNode' || !inSet.has(t.to) || on < c.amount,
          started: (t) => void (t.type === 'bootNode' && inSet.has(t.to) && on++),
          ended: (t) => void (t.type === 'shutdownNode' && inSet.has(t.from) && on--),
        };
      },
    };
  },
  check(c, view) {
    const intervals = viewNodes(view, c.nodes).flatMap((n) => view.onlineOf[n]!.map((i) => ({ ...i, weight: 1 })));
    const over = firstExcess(intervals, c.amount, !c.continuous);
    return over ? `${over.total} of its nodes are online ${when(over.at)}` : undefined;
  },
};
