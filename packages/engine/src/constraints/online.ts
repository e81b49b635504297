import type { ConstraintKind } from './face.ts';

/** BtrPlace Online: the node is online at the end; an offline node boots. */
export const online: ConstraintKind<'online'> = {
  type: 'online',
  prepare: (c, draft) => draft.wantNode(c.node, 'online', c),
  check(c, view) {
    const n = view.nodeIndex.get(c.node)!;
    return view.finalOnline[n] ? undefined : `node ${c.node} ends offline`;
  },
};
