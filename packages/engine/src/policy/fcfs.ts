import type { Decision } from '../model/configuration.ts';
import { NodeBins } from './node-bins.ts';
import type { Policy, PolicyView } from './policy.ts';

/**
 * First come, first served: the baseline of batch schedulers. Each VM is allocated its peak
 * demand for the vjob's whole life (static allocation), vjobs start in submission order while a
 * first-fit check of their peak demand per node succeeds, nobody overtakes the first vjob that
 * does not fit, and a started vjob runs to completion: fcfs never suspends.
 */
export function fcfs(): Policy {
  return { name: 'fcfs', sizing: 'peak', decide };
}

function decide(view: PolicyView): Decision {
  const bins = new NodeBins(view.configuration.nodes);
  for (const j of view.queue) if (j.state === 'running') for (const vm of j.vms) bins.reserve(vm.host, vm.demand);
  const decision: Record<string, 'running'> = {};
  let blocked = false;
  for (const j of view.queue) {
    if (j.state === 'running') decision[j.id] = 'running';
    else if (!blocked && bins.placeAll(j.vms.map((vm) => vm.demand))) decision[j.id] = 'running';
    else blocked = true;
  }
  return decision;
}
