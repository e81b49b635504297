import { SILENT_TRANSITIONS } from '@entropy/protocol';
import { canReach, vmTarget, wantedStates, type VJobState, type VMState } from '../model/lifecycle.ts';
import type { PlanContext } from './plan-context.ts';
import type { Replay } from './transition-check.ts';
import { addDemand, describeOverflow, overflowOf, sourceUsage } from './usage.ts';
import { violation, type Violation } from './violation.ts';

/**
 * After the last action: every VM is in the state its vjob must end in (the decision's, or
 * model/lifecycle.ts defaultTarget for a vjob it does not name: one state for the whole vjob; a VM
 * terminated in the source stays so), none is left paused, running VMs are on online nodes,
 * the configuration is viable (strictly: no overload tolerance once the plan is over), and it is
 * the plan's own `target` when the plan states one.
 */
export function checkFinalState(ctx: PlanContext, replay: Replay): Violation | undefined {
  const finalState: VMState[] = [];
  const wantedOf = wantedStates(ctx.vms, ctx.decision);
  for (let v = 0; v < ctx.vms.length; v++) {
    const vm = ctx.vms[v]!;
    let state = replay.finalState[v]!;
    const host = replay.finalHost[v];
    if (state === 'paused')
      return violation('final-state', `VM '${vm.id}' is left paused on node '${host}'`, {
        vm: vm.id,
        vjob: vm.vjob,
        node: host,
      });
    const wanted = vmTarget(vm.state, wantedOf.get(vm.vjob)!);
    if (state !== wanted && settlesWithoutAction(state, wanted)) state = wanted;
    finalState.push(state);
    if (state !== wanted) {
      const who =
        ctx.decision[vm.vjob] !== undefined
          ? `the decision wants vjob '${vm.vjob}' ${wanted}`
          : `vjob '${vm.vjob}', which the decision does not name, must end ${wanted}`;
      return violation('final-state', `VM '${vm.id}' ends ${state} but ${who}`, {
        vm: vm.id,
        vjob: vm.vjob,
        node: host,
      });
    }
    if (state === 'running' && !ctx.finalOnline[ctx.nodeIndex.get(host!)!])
      return violation('final-state', `VM '${vm.id}' ends running on node '${host}', which is offline`, {
        vm: vm.id,
        vjob: vm.vjob,
        node: host,
      });
  }

  const usage = sourceUsage(ctx);
  ctx.actions.forEach((a, i) => {
    const v = ctx.vmOf[i]!;
    if (replay.consumeOn[i]! >= 0) addDemand(ctx, usage, replay.consumeOn[i]!, v, 1);
    if (replay.freeOn[i]! >= 0) addDemand(ctx, usage, replay.freeOn[i]!, v, -1);
  });
  for (let n = 0; n < ctx.nodes.length; n++) {
    if (!ctx.finalOnline[n]) continue;
    const over = overflowOf(ctx, usage, n);
    if (over !== undefined)
      return violation(
        'final-state',
        `the final configuration is not viable: ${describeOverflow(ctx.nodes[n]!.id, over)}`,
        { node: ctx.nodes[n]!.id },
      );
  }

  const target = ctx.plan.target;
  if (target === undefined) return undefined;
  for (const id of Object.keys(target)) {
    if (!ctx.vmIndex.has(id))
      return violation('final-state', `the plan's target names an unknown VM '${id}'`, { vm: id });
  }
  for (let v = 0; v < ctx.vms.length; v++) {
    const vm = ctx.vms[v]!;
    const state = finalState[v]!;
    const host = replay.finalHost[v];
    const wanted = Object.hasOwn(target, vm.id) ? target[vm.id] : undefined;
    const matches = wanted === undefined ? state === 'terminated' : wanted.state === state && wanted.host === host;
    if (!matches) {
      const said =
        wanted === undefined ? 'nothing (terminated)' : `${wanted.state}${wanted.host ? ` on '${wanted.host}'` : ''}`;
      const got = `${state}${host !== undefined ? ` on '${host}'` : ''}`;
      return violation(
        'final-state',
        `the plan's target says VM '${vm.id}' ends ${said} but its actions leave it ${got}`,
        { vm: vm.id, vjob: vm.vjob, node: host },
      );
    }
  }
  return undefined;
}

/**
 * A change that takes no action (the transition table's SILENT_TRANSITIONS: a queued VM is dropped,
 * nothing runs). A sleeping, paused or running VM must still be stopped.
 */
function settlesWithoutAction(from: VMState, to: VJobState): boolean {
  return canReach(from, to) && SILENT_TRANSITIONS.some((t) => t.from === from && t.to === to);
}
