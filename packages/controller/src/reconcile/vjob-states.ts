import { type Configuration, defaultTarget, reachableTargets, type VJobState, type VMState } from '@entropy/engine';

/** A vjob as observed: one uniform state, or `mixed` (VMs in different states, or any of them paused). */
export type ObservedVjobState = VJobState | 'mixed';

export interface ObservedVjob {
  readonly id: string;
  readonly state: ObservedVjobState;
  readonly vmStates: readonly VMState[];
  /** The uniform state the engine takes it to when no decision names it. */
  readonly settlesTo: VJobState;
  /** The wanted states every one of its VMs can reach. */
  readonly reachable: readonly VJobState[];
}

/** Every vjob of a configuration, in one pass over its VMs. */
export function observeVjobs(configuration: Configuration): Map<string, ObservedVjob> {
  const states = new Map<string, VMState[]>();
  for (const j of configuration.vjobs) states.set(j.id, []);
  for (const vm of configuration.vms) {
    const list = states.get(vm.vjob);
    if (list) list.push(vm.state);
    else states.set(vm.vjob, [vm.state]);
  }
  const out = new Map<string, ObservedVjob>();
  for (const [id, vmStates] of states) {
    if (vmStates.length === 0) continue;
    const first = vmStates[0]!;
    const uniform = first !== 'paused' && vmStates.every((s) => s === first);
    out.set(id, {
      id,
      state: uniform ? (first as VJobState) : 'mixed',
      vmStates,
      settlesTo: defaultTarget(vmStates),
      reachable: reachableTargets(vmStates),
    });
  }
  return out;
}
