import type { ConstraintKind } from './face.ts';

/** BtrPlace Sleeping: the VM is sleeping (suspended) at the end. */
export const sleeping: ConstraintKind<'sleeping'> = {
  type: 'sleeping',
  prepare: (c, draft) => draft.wantVm(c.vm, 'sleeping', c),
  check(c, view) {
    const state = view.finalState[view.vmIndex.get(c.vm)!];
    return state === 'sleeping' ? undefined : `VM ${c.vm} ends ${state}`;
  },
};
