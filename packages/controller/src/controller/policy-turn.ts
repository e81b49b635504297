import type { Configuration, Node } from '../model/configuration.ts';
import { holdsResources } from '../model/lifecycle.ts';
import type { Resources } from '../model/resources.ts';
import type { MonitorView } from '../monitor/index.ts';
import { buildPolicyView, type PolicyView } from '../policy/index.ts';

/** The queued vjobs' part of the monitor's view, on nodes with the room the other VMs leave. */
export function policyViewOf(view: MonitorView, vjobs: ReadonlySet<string>, now: number): PolicyView {
  const { configuration } = view;
  const taken = new Map<string, Record<string, number>>();
  for (const vm of configuration.vms) {
    if (vjobs.has(vm.vjob) || !holdsResources(vm.state) || vm.host === undefined) continue;
    const t = taken.get(vm.host) ?? {};
    for (const [k, q] of Object.entries(vm.demand)) t[k] = (t[k] ?? 0) + q;
    taken.set(vm.host, t);
  }
  const nodes: Node[] = configuration.nodes.map((n) => {
    const t = taken.get(n.id);
    if (!t) return n;
    const capacity: Record<string, number> = { ...n.capacity };
    for (const [k, q] of Object.entries(t)) capacity[k] = Math.max(0, (capacity[k] ?? 0) - q);
    return { ...n, capacity };
  });
  const restricted: Configuration = {
    nodes,
    vms: configuration.vms.filter((v) => vjobs.has(v.vjob)),
    vjobs: configuration.vjobs.filter((j) => vjobs.has(j.id)),
  };
  return buildPolicyView(restricted, view.usage, now);
}

/** Running VMs sized at their measured CPU use (memory stays the demand: a VM holds it all). */
export function sizedByUsage(configuration: Configuration, usage: Readonly<Record<string, Resources>>): Configuration {
  return {
    ...configuration,
    vms: configuration.vms.map((vm) => {
      const cpu = usage[vm.id]?.cpu;
      return holdsResources(vm.state) && cpu !== undefined ? { ...vm, demand: { ...vm.demand, cpu } } : vm;
    }),
  };
}
