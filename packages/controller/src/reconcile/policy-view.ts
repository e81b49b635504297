import {
  buildPolicyView,
  type Configuration,
  type Constraint,
  holdsResources,
  type PolicyView,
  type Resources,
  TakenRoom,
  type VM,
} from '@entropy/engine';
import type { MonitorView } from '../monitor/index.ts';

/** The queued vjobs' part of the monitor's view, on nodes with the room the other VMs leave. */
export function policyViewOf(
  view: MonitorView,
  vjobs: ReadonlySet<string>,
  now: number,
  constraints: readonly Constraint[] = [],
): PolicyView {
  const { configuration } = view;
  const taken = new TakenRoom();
  const vms: VM[] = [];
  for (const vm of configuration.vms) {
    if (vjobs.has(vm.vjob)) vms.push(vm);
    else if (holdsResources(vm.state) && vm.host !== undefined) taken.take(vm.host, vm.demand);
  }
  const nodes = taken.from(configuration.nodes);
  const restricted: Configuration = { nodes, vms, vjobs: configuration.vjobs.filter((j) => vjobs.has(j.id)) };
  return buildPolicyView(restricted, view.usage, now, constraints);
}

/** Running VMs sized at their measured CPU use (memory stays the demand: a VM holds it all). */
export function sizedByUsage(configuration: Configuration, usage: Readonly<Record<string, Resources>>): Configuration {
  return {
    ...configuration,
    // A plain clone then a store, not { ...x, more } (Node 20's slow path): one VM and one demand per running VM, every turn.
    vms: configuration.vms.map((vm) => {
      const cpu = usage[vm.id]?.cpu;
      if (!holdsResources(vm.state) || cpu === undefined) return vm;
      const demand: Record<string, number> = { ...vm.demand };
      demand.cpu = cpu;
      return vm.host !== undefined
        ? { id: vm.id, vjob: vm.vjob, demand, state: vm.state, host: vm.host }
        : { id: vm.id, vjob: vm.vjob, demand, state: vm.state };
    }),
  };
}
