import type { ConstraintKind } from './face.ts';

/** BtrPlace Killed: the VM is gone (terminated) at the end. */
export const killed: ConstraintKind<'killed'> = {
  type: 'killed',
  prepare: (c, draft) => draft.wantVm(c.vm, 'terminated', c),
  check(c, view) {
    const state = view.finalState[view.vmIndex.get(c.vm)!];
    return state === 'terminated' ? undefined : `VM ${c.vm} ends ${state}`;
  },
};
