import type { Configuration, Resources } from '@entropy/engine';

/**
 * What the controller knows that agents cannot tell: which vjob a VM belongs to, its declared
 * demand, and, for a VM no node holds, whether it waits or is terminated. The vjob queue keeps it.
 */
export interface KnownVM {
  readonly id: string;
  readonly vjob: string;
  readonly demand: Resources;
  /** Set when no node holds the VM: not started yet, or gone for good. */
  readonly state?: 'waiting' | 'terminated';
}

export interface KnownVJob {
  readonly id: string;
  readonly priority: number;
  readonly submittedAt: number;
}

export interface VMRegistry {
  readonly vms: ReadonlyMap<string, KnownVM>;
  readonly vjobs: ReadonlyMap<string, KnownVJob>;
}

/** A mutable registry the controller updates as vjobs are submitted and plans run. */
export class MemoryRegistry implements VMRegistry {
  readonly vms = new Map<string, KnownVM>();
  readonly vjobs = new Map<string, KnownVJob>();

  /** Registers every VM and vjob of a configuration (an instance file's, say). */
  register(configuration: Configuration): void {
    for (const j of configuration.vjobs)
      this.vjobs.set(j.id, { id: j.id, priority: j.priority, submittedAt: j.submittedAt });
    for (const vm of configuration.vms) {
      const state = vm.state === 'waiting' || vm.state === 'terminated' ? vm.state : undefined;
      this.vms.set(vm.id, { id: vm.id, vjob: vm.vjob, demand: vm.demand, ...(state ? { state } : {}) });
    }
  }

  /** Records the states a plan left (the executor's observed configuration). */
  settle(configuration: Configuration): void {
    for (const vm of configuration.vms) {
      const known = this.vms.get(vm.id);
      if (!known) continue;
      const state = vm.state === 'waiting' || vm.state === 'terminated' ? vm.state : undefined;
      const { state: _old, ...rest } = known;
      this.vms.set(vm.id, { ...rest, ...(state ? { state } : {}) });
    }
  }
}
