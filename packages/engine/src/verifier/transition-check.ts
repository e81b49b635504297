import { ACTION_TRANSITIONS, holdsResources, stateAfter, type VMState } from '../model/lifecycle.ts';
import type { PlannedAction } from '../model/plan.ts';
import { ACTIONS_WITH_DESTINATION } from './malformed-check.ts';
import type { PlanContext } from './plan-context.ts';
import { violation, type Violation } from './violation.ts';

/** What replaying every VM through its actions tells the other checks. */
export interface Replay {
  /** Per action: the node on which the VM's demand counts from the action's start, or -1. */
  readonly consumeOn: Int32Array;
  /** Per action: the node the VM's demand leaves at the action's end, or -1. */
  readonly freeOn: Int32Array;
  /** Per VM: its actions' indexes in time order. */
  readonly actionsOfVm: readonly (readonly number[])[];
  /** Per action: the state its VM is in when it starts. */
  readonly stateBefore: readonly VMState[];
  readonly finalState: readonly VMState[];
  readonly finalHost: readonly (string | undefined)[];
}

export type ReplayResult =
  | { readonly ok: true; readonly replay: Replay }
  | { readonly ok: false; readonly violation: Violation };

/**
 * Walks each VM through its own actions in time order, applying the life-cycle table
 * (ACTION_TRANSITIONS). Which node gains or loses the VM's demand is derived from the states the
 * table gives (holdsResources before and after) and the hosts, never from a per-type rule.
 */
export function replayTransitions(ctx: PlanContext): ReplayResult {
  const { actions } = ctx;
  // Most VMs of a large cluster have no action: they share one empty list.
  const actionsOfVm: number[][] = new Array<number[]>(ctx.vms.length).fill(NO_ACTIONS);
  ctx.vmOf.forEach((v, i) => {
    if (actionsOfVm[v] === NO_ACTIONS) actionsOfVm[v] = [i];
    else actionsOfVm[v]!.push(i);
  });
  const consumeOn = new Int32Array(actions.length).fill(-1);
  const freeOn = new Int32Array(actions.length).fill(-1);
  const stateBefore = new Array<VMState>(actions.length);
  const finalState: VMState[] = [];
  const finalHost: (string | undefined)[] = [];
  for (let v = 0; v < ctx.vms.length; v++) {
    const list = actionsOfVm[v]!;
    if (list.length > 1) list.sort((x, y) => inTimeOrder(actions[x]!, actions[y]!) || x - y);
    let state = ctx.vms[v]!.state;
    let host = ctx.vms[v]!.host;
    let prev: PlannedAction | undefined;
    for (const i of list) {
      const a = actions[i]!;
      const subject = { actionId: a.id, vm: a.vm, vjob: a.vjob, at: a.start };
      if (prev !== undefined && a.start < prev.end)
        return fail(
          violation(
            'transition',
            `VM '${a.vm}': actions '${prev.id}' (${span(prev)}) and '${a.id}' (${span(a)}) overlap`,
            subject,
          ),
        );
      stateBefore[i] = state;
      const next = stateAfter(a.type, state);
      if (next === undefined) {
        const needs = ACTION_TRANSITIONS[a.type].map((t) => t.from).join(' or ');
        return fail(
          violation(
            'transition',
            `action '${a.id}' cannot ${a.type} VM '${a.vm}': it is ${state}, a ${a.type} needs ${needs}`,
            subject,
          ),
        );
      }
      if (a.from !== undefined && a.from !== host)
        return fail(
          violation(
            'malformed',
            `action '${a.id}' comes from node '${a.from}' but VM '${a.vm}' ${host === undefined ? 'has no host' : `is on node '${host}'`}`,
            { ...subject, node: a.from },
          ),
        );
      const moves = ACTIONS_WITH_DESTINATION.has(a.type);
      if (!moves && a.to !== undefined && a.to !== host)
        return fail(
          violation('malformed', `action '${a.id}' (${a.type}) acts where VM '${a.vm}' is, not on node '${a.to}'`, {
            ...subject,
            node: a.to,
          }),
        );
      if (a.type === 'migrate' && a.to === host)
        return fail(
          violation('malformed', `action '${a.id}' migrates VM '${a.vm}' to node '${host}', where it already is`, {
            ...subject,
            node: host,
          }),
        );
      const newHost = next === 'waiting' || next === 'terminated' ? undefined : moves ? a.to : host;
      const held = holdsResources(state) ? host : undefined;
      const willHold = holdsResources(next) ? newHost : undefined;
      if (willHold !== undefined && willHold !== held) consumeOn[i] = ctx.nodeIndex.get(willHold)!;
      if (held !== undefined && held !== willHold) freeOn[i] = ctx.nodeIndex.get(held)!;
      state = next;
      host = newHost;
      prev = a;
    }
    finalState.push(state);
    finalHost.push(host);
  }
  return { ok: true, replay: { consumeOn, freeOn, actionsOfVm, stateBefore, finalState, finalHost } };
}

const NO_ACTIONS: number[] = Object.freeze([]) as unknown as number[];

/** Start, then step, then end: zero-length actions at one instant keep their barrier order. */
export function inTimeOrder(a: PlannedAction, b: PlannedAction): number {
  return a.start - b.start || a.step - b.step || a.end - b.end;
}

const fail = (v: Violation): ReplayResult => ({ ok: false, violation: v });
const span = (a: PlannedAction) => `${a.type}, ${a.start}-${a.end}`;
