import type { ConstraintKind } from './face.ts';

/** BtrPlace Running: the VM runs at the end (a waiting VM is started, a sleeping one resumed). */
export const running: ConstraintKind<'running'> = {
  type: 'running',
  prepare: (c, draft) => draft.wantVm(c.vm, 'running', c),
  check(c, view) {
    const state = view.finalState[view.vmIndex.get(c.vm)!];
    return state === 'running' ? undefined : `VM ${c.vm} ends ${state}`;
  },
};
