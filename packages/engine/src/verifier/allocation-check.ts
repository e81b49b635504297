import type { Configuration } from '../model/configuration.ts';
import type { AllocationStep } from './capacity-check.ts';
import type { PlanContext } from './plan-context.ts';
import { violation, type Violation } from './violation.ts';

/**
 * The allocate actions of a BtrPlace plan as capacity steps, for the VMs that stay where they run
 * (a VM that moves gets its raised demand on arrival; BtrPlace's checker ignores its allocate too).
 * Every raise that the constraints ask of a staying VM (prepared demand above its source demand)
 * needs an allocate of at least that amount, on the VM's node: else the first one missing is the
 * violation. `source` is the configuration before the constraints raised demands.
 */
export function allocationSteps(ctx: PlanContext, source: Configuration): AllocationStep[] | Violation {
  const allocations = ctx.plan.allocations ?? [];
  const D = ctx.dims.length;
  const moved = new Set(ctx.actions.map((a) => a.vm));
  const given = new Map<string, (typeof allocations)[number]>();
  const steps: AllocationStep[] = [];
  const sourceDemand = new Map(source.vms.map((v) => [v.id, v.demand]));
  for (const a of allocations) {
    const v = ctx.vmIndex.get(a.vm);
    const dim = ctx.dims.indexOf(a.rc);
    const vm = v === undefined ? undefined : ctx.vms[v]!;
    if (vm === undefined || dim < 0 || moved.has(a.vm) || vm.state !== 'running' || vm.host === undefined) continue;
    if (a.node !== vm.host)
      return violation(
        'transition',
        `allocate '${a.id}' raises VM '${a.vm}' on node '${a.node}', but the VM stays on node '${vm.host}'`,
        { actionId: a.id, vm: a.vm, node: a.node },
      );
    const original = sourceDemand.get(a.vm)?.[a.rc] ?? 0;
    const prepared = ctx.demand[v! * D + dim]!;
    if (a.amount < prepared)
      return violation(
        'constraint',
        `allocate '${a.id}' gives VM '${a.vm}' ${a.amount} ${a.rc}, less than the ${prepared} the constraints ask (preserve)`,
        { actionId: a.id, vm: a.vm, node: a.node },
      );
    given.set(`${a.vm}\u0000${a.rc}`, a);
    steps.push({
      allocation: a,
      node: ctx.nodeIndex.get(vm.host)!,
      dim,
      at: a.at,
      before: prepared - original,
      delta: a.amount - original,
    });
  }
  for (let v = 0; v < ctx.vms.length; v++) {
    const vm = ctx.vms[v]!;
    if (moved.has(vm.id) || vm.state !== 'running' || vm.host === undefined) continue;
    for (let k = 0; k < D; k++) {
      const rc = ctx.dims[k]!;
      const prepared = ctx.demand[v * D + k]!;
      if (prepared > (sourceDemand.get(vm.id)?.[rc] ?? 0) && !given.has(`${vm.id}\u0000${rc}`))
        return violation(
          'constraint',
          `VM '${vm.id}' stays on node '${vm.host}' but no allocate raises its ${rc} to ${prepared} (preserve)`,
          { vm: vm.id, node: vm.host },
        );
    }
  }
  return steps;
}
