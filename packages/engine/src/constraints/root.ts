import type { ConstraintKind } from './face.ts';
import { runsAtSource } from './support.ts';

/** BtrPlace Root: the VM is never migrated (always continuous). The engine pins it to its node. */
export const root: ConstraintKind<'root'> = {
  type: 'root',
  compile(c, p) {
    const vm = p.vmIndex.get(c.vm);
    return vm === undefined || !runsAtSource(p, vm) ? undefined : { vms: [vm], pinned: [vm] };
  },
  check(c, view) {
    const v = view.vmIndex.get(c.vm)!;
    const m = view.actionsOfVm[v]!.find((a) => a.type === 'migrate');
    return m ? `VM ${c.vm} is migrated by action ${m.id} (${m.from} -> ${m.to})` : undefined;
  },
};
