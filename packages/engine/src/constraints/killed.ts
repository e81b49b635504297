import type { ConstraintKind } from './face.ts';

/** BtrPlace Killed: the VM is gone (terminated) at the end; a waiting VM is dropped without an action. */
export const killed: ConstraintKind<'killed'> = {
  type: 'killed',
  prepare: (c, draft) => draft.wantVm(c.vm, 'terminated', c),
  check(c, view) {
    const v = view.vmIndex.get(c.vm)!;
    const state = view.finalState[v];
    const dropped = state === 'waiting' && view.configuration.vms[v]!.state === 'waiting';
    return state === 'terminated' || dropped ? undefined : `VM ${c.vm} ends ${state}`;
  },
};
