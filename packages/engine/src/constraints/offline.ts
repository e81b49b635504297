import type { ConstraintKind } from './face.ts';

/** BtrPlace Offline: the node is offline at the end; an online node is evacuated, then shut down. */
export const offline: ConstraintKind<'offline'> = {
  type: 'offline',
  prepare: (c, draft) => draft.wantNode(c.node, 'offline', c),
  check(c, view) {
    const n = view.nodeIndex.get(c.node)!;
    return view.finalOnline[n] ? `node ${c.node} ends online` : undefined;
  },
};
