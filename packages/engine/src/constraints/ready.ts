import type { ConstraintKind } from './face.ts';

/**
 * BtrPlace Ready: the VM is ready at the end. BtrPlace's shutdown leaves a VM ready; Entropy's
 * stop leaves it terminated, so a running or sleeping VM is stopped, and a waiting one stays so.
 */
export const ready: ConstraintKind<'ready'> = {
  type: 'ready',
  prepare: (c, draft) => draft.wantReady(c.vm, c),
  check(c, view) {
    const state = view.finalState[view.vmIndex.get(c.vm)!];
    return state === 'waiting' || state === 'terminated' ? undefined : `VM ${c.vm} ends ${state}`;
  },
};
