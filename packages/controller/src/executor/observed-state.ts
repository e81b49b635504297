import type { ActionResult } from '@entropy/protocol';
import {
  type Configuration,
  type NodeState,
  type PlannedAction,
  stateAfter,
  type VM,
  type VMState,
} from '@entropy/engine';

/** Where the executor believes each VM is, from the source configuration and the results it got. */
export class ObservedState {
  private readonly vms = new Map<string, { state: VMState; host?: string }>();
  private readonly uncertain = new Set<string>();
  /** Nodes a plan booted or shut down: their new state. */
  private readonly nodeStates = new Map<string, NodeState>();

  constructor(private readonly source: Configuration) {
    for (const vm of source.vms)
      this.vms.set(vm.id, { state: vm.state, ...(vm.host !== undefined ? { host: vm.host } : {}) });
  }

  /** Applies a successful action and returns where it left the VM; the agent's report wins over the life cycle table when it has one. */
  applied(
    action: Pick<PlannedAction, 'type' | 'vm' | 'from' | 'to'>,
    result?: ActionResult,
  ): { readonly state: VMState; readonly host?: string } {
    const before = this.vms.get(action.vm);
    const state = (wireState(result?.state) ??
      stateAfter(action.type, before?.state ?? 'running') ??
      before?.state ??
      'running') as VMState;
    const host =
      state === 'terminated' || state === 'waiting'
        ? undefined
        : (result?.host ?? action.to ?? action.from ?? before?.host);
    const place = { state, ...(host !== undefined ? { host } : {}) };
    this.vms.set(action.vm, place);
    this.uncertain.delete(action.vm);
    return place;
  }

  /** A waiting VM whose vjob is cancelled: terminated without any action. */
  cancelled(vm: string): void {
    this.vms.set(vm, { state: 'terminated' });
  }

  /** A node booted (online) or shut down (offline) by the plan. */
  powered(node: string, state: NodeState): void {
    this.nodeStates.set(node, state);
  }

  markUncertain(vm: string): void {
    this.uncertain.add(vm);
  }

  stateOf(vm: string): VMState | undefined {
    return this.vms.get(vm)?.state;
  }

  hostOf(vm: string): string | undefined {
    return this.vms.get(vm)?.host;
  }

  uncertainVms(): string[] {
    return [...this.uncertain].sort();
  }

  /** The source configuration with the observed VM and node states; uncertain VMs are left out. */
  configuration(): Configuration {
    const vms: VM[] = [];
    for (const vm of this.source.vms) {
      if (this.uncertain.has(vm.id)) continue;
      const seen = this.vms.get(vm.id)!;
      const { host: _old, ...rest } = vm;
      vms.push({ ...rest, state: seen.state, ...(seen.host !== undefined ? { host: seen.host } : {}) });
    }
    const kept = new Set(vms.map((v) => v.id));
    const vjobs = this.source.vjobs.map((j) => ({ ...j, vms: j.vms.filter((id) => kept.has(id)) }));
    const nodes =
      this.nodeStates.size === 0
        ? this.source.nodes
        : this.source.nodes.map((n) => (this.nodeStates.has(n.id) ? { ...n, state: this.nodeStates.get(n.id)! } : n));
    return { nodes, vms, vjobs };
  }
}

function wireState(state: ActionResult['state']): VMState | undefined {
  return state === 'crashed' || state === 'unknown' || state === undefined ? undefined : state;
}
