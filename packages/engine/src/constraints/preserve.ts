import type { ConstraintKind } from './face.ts';

/**
 * BtrPlace Preserve: the VM is granted at least `amount` of `rc`. Its demand is raised to that
 * amount for the whole plan (a load increase has already happened: the plan repairs it), so the
 * capacity of its host at every instant counts the new amount.
 */
export const preserve: ConstraintKind<'preserve'> = {
  type: 'preserve',
  prepare: (c, draft) => draft.raiseDemand(c.vm, c.rc, c.amount),
  check(c, view) {
    const v = view.vmIndex.get(c.vm)!;
    const n = view.finalHost[v]!;
    if (view.finalState[v] !== 'running' || n < 0) return undefined;
    if (view.demand(v, c.rc) < c.amount) return `VM ${c.vm} is granted ${view.demand(v, c.rc)} ${c.rc}`;
    let used = 0;
    for (const w of view.runningAtEnd(n)) used += view.demand(w, c.rc);
    const cap = view.capacity(n, c.rc);
    return used > cap + 1e-9
      ? `node ${view.configuration.nodes[n]!.id} cannot grant it: its VMs need ${used} ${c.rc}, it has ${cap}`
      : undefined;
  },
};
