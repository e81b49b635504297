import type { Decision } from '../model/configuration.ts';
import { NodeBins } from './node-bins.ts';
import type { Policy, PolicyReason, PolicyView } from './policy.ts';
import { aheadOf, aheadText, shortageText, verbOf } from './policy-reasons.ts';

/**
 * First come, first served: the baseline of batch schedulers. Each VM is allocated its peak
 * demand for the vjob's whole life (static allocation), vjobs start in submission order while a
 * first-fit check of their peak demand per node succeeds, nobody overtakes the first vjob that
 * does not fit, and a started vjob runs to completion: fcfs never suspends.
 */
export function fcfs(): Policy {
  return {
    name: 'fcfs',
    sizing: 'peak',
    decide: (view) => run(view).decision,
    explain: (view) => run(view, true).reasons,
  };
}

function run(view: PolicyView, explain = false): { decision: Decision; reasons: Record<string, PolicyReason> } {
  const bins = new NodeBins(view.configuration.nodes);
  for (const j of view.queue) if (j.state === 'running') for (const vm of j.vms) bins.reserve(vm.host, vm.demand);
  const decision: Record<string, 'running'> = {};
  const reasons: Record<string, PolicyReason> = {};
  let blocked: string | undefined;
  for (const [i, j] of view.queue.entries()) {
    const sizes = j.vms.map((vm) => vm.demand);
    let why: string;
    if (j.state === 'running') {
      decision[j.id] = 'running';
      why = 'fcfs never suspends a started vjob';
    } else if (blocked === undefined && bins.placeAll(sizes)) {
      decision[j.id] = 'running';
      why = 'its peak demand fits';
    } else if (blocked === undefined) {
      blocked = j.id;
      why = explain ? shortageText(bins.shortage(sizes)) : '';
    } else why = `behind ${blocked}, which does not fit: fcfs lets no vjob overtake an earlier one`;
    if (!explain) continue;
    const ahead = aheadOf(view.queue, i);
    reasons[j.id] = {
      ...(decision[j.id] ? { decided: decision[j.id] } : {}),
      position: i + 1,
      ...ahead,
      ...(blocked === j.id ? { short: bins.shortage(sizes) } : {}),
      reason: `${verbOf(j.state, decision[j.id])}: ${why}; ${aheadText(ahead)}`,
    };
  }
  return { decision, reasons };
}
