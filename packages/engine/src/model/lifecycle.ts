import type { ActionType } from '@entropy/protocol';

/**
 * The vjob and VM life cycle, written once. The instance validator, the action inference,
 * the planner and the verifier all read these tables; none of them restates a transition.
 */

export const VJobState = {
  Waiting: 'waiting',
  Running: 'running',
  Sleeping: 'sleeping',
  Terminated: 'terminated',
} as const;
export type VJobState = (typeof VJobState)[keyof typeof VJobState];

/**
 * The wanted state of each vjob. Vjobs it does not name keep their current state, or go to running
 * when their VMs are in mixed states (defaultTarget below).
 */
export type Decision = Readonly<Record<string, VJobState>>;
export const VJOB_STATES: readonly VJobState[] = Object.values(VJobState);

/** A VM is in one of the vjob states, or paused: the transient state between pause and save, or restore and unpause. */
export type VMState = VJobState | 'paused';

// The action types are the wire protocol's: one definition for the planner, the executor and the agents.
export { ACTION_TYPES, ActionType } from '@entropy/protocol';

/**
 * For each observed state of a VM, the vjob states a plan can take it to. A paused VM (a plan cut
 * between a vjob's pause and its saves, or between its restores and its unpause) can go wherever a
 * running one can. Beyond the paper's life cycle, a waiting or sleeping VM may be cancelled
 * (-> terminated): an operator must be able to drop a queued or suspended job without running it first.
 */
export const REACHABLE_TARGETS: Readonly<Record<VMState, readonly VJobState[]>> = {
  waiting: ['waiting', 'running', 'terminated'],
  running: ['running', 'sleeping', 'terminated'],
  paused: ['running', 'sleeping', 'terminated'],
  sleeping: ['sleeping', 'running', 'terminated'],
  terminated: ['terminated'],
};

export function canReach(from: VMState, to: VJobState): boolean {
  return REACHABLE_TARGETS[from].includes(to);
}

/** The state of a vjob from its VMs' states: a paused VM counts as running (pause is transient). */
export function vjobStateOf(states: readonly VMState[]): VJobState {
  if (states.some((s) => s === 'running' || s === 'paused')) return 'running';
  if (states.some((s) => s === 'sleeping')) return 'sleeping';
  if (states.some((s) => s === 'waiting')) return 'waiting';
  return 'terminated';
}

/**
 * The index of the VM (in `states`) that keeps a vjob from `wanted`, or -1 when every VM can reach
 * it. A terminated VM never blocks a vjob that has others: it is gone (the monitor drops it, no
 * action applies to it) and stays terminated whatever its vjob does; alone, it can only stay so.
 */
export function blockingVm(states: readonly VMState[], wanted: VJobState): number {
  let live = false;
  for (let i = 0; i < states.length; i++) {
    const s = states[i]!;
    if (s === 'terminated') continue;
    live = true;
    if (!canReach(s, wanted)) return i;
  }
  return live || states.length === 0 || wanted === 'terminated' ? -1 : 0;
}

/** The vjob states a vjob whose VMs are in `states` can be taken to: what every one of them can reach. */
export function reachableTargets(states: readonly VMState[]): VJobState[] {
  return VJOB_STATES.filter((wanted) => blockingVm(states, wanted) < 0);
}

/**
 * Where a vjob the decision does not name goes: its current state when every VM can reach it (a
 * uniform vjob keeps its state), else running, which every VM not terminated can reach (a vjob
 * caught half paused, or half sleeping and half waiting, is made whole again).
 */
export function defaultTarget(states: readonly VMState[]): VJobState {
  const current = vjobStateOf(states);
  return blockingVm(states, current) < 0 ? current : 'running';
}

/** The state a plan must leave a VM in when its vjob goes to `wanted`: a VM terminated in the source stays so. */
export function vmTarget(from: VMState, wanted: VJobState): VJobState {
  return from === 'terminated' ? 'terminated' : wanted;
}

/**
 * The state a plan must leave each vjob in: the decision's, or defaultTarget for the vjobs it does
 * not name. Keyed by the vjobs of `vms`.
 */
export function wantedStates(
  vms: readonly { readonly vjob: string; readonly state: VMState }[],
  decision: Decision,
): Map<string, VJobState> {
  const states = new Map<string, VMState[]>();
  for (const vm of vms) {
    const list = states.get(vm.vjob);
    if (list) list.push(vm.state);
    else states.set(vm.vjob, [vm.state]);
  }
  const wanted = new Map<string, VJobState>();
  for (const [vjob, list] of states) wanted.set(vjob, decision[vjob] ?? defaultTarget(list));
  return wanted;
}

/** A vjob the decision sends where one of its VMs cannot go. */
export interface UnreachableTarget {
  readonly vjob: string;
  readonly vm: string;
  readonly from: VMState;
  readonly to: VJobState;
}

/** Every vjob of the decision that one of its VMs cannot follow, in the decision's order, each with the first such VM. */
export function unreachableTargets(
  vms: readonly { readonly id: string; readonly vjob: string; readonly state: VMState }[],
  decision: Decision,
): UnreachableTarget[] {
  const named = new Map<string, { ids: string[]; states: VMState[] }>();
  for (const vm of vms) {
    if (decision[vm.vjob] === undefined) continue;
    let group = named.get(vm.vjob);
    if (group === undefined) named.set(vm.vjob, (group = { ids: [], states: [] }));
    group.ids.push(vm.id);
    group.states.push(vm.state);
  }
  const out: UnreachableTarget[] = [];
  for (const [vjob, to] of Object.entries(decision)) {
    const group = named.get(vjob);
    const i = group === undefined ? -1 : blockingVm(group.states, to);
    if (i >= 0) out.push({ vjob, vm: group!.ids[i]!, from: group!.states[i]!, to });
  }
  return out;
}

/** "VM 'v3' is waiting (never ran): it cannot go to sleeping (...)": why a vjob cannot go where it is sent. */
export function describeUnreachable(u: Pick<UnreachableTarget, 'vm' | 'from' | 'to'>): string {
  const gloss = u.from === 'waiting' ? ' (never ran)' : '';
  return `VM '${u.vm}' is ${u.from}${gloss}: it cannot go to ${u.to} (from ${u.from} the life cycle allows ${REACHABLE_TARGETS[u.from].join(', ')})`;
}

/** describeUnreachable, after the vjob's name. */
export function describeUnreachableVjob(u: UnreachableTarget): string {
  return `vjob '${u.vjob}': ${describeUnreachable(u)}`;
}

// The action table is the protocol's (ACTION_TRANSITIONS), shared with the agent.
export { ACTION_TRANSITIONS, actionPath, stateAfter } from '@entropy/protocol';

/** Actions on a node, not on a VM: they change the node's state (BtrPlace's bootNode, shutdownNode). */
export const NodeActionType = { BootNode: 'bootNode', ShutdownNode: 'shutdownNode' } as const;
export type NodeActionType = (typeof NodeActionType)[keyof typeof NodeActionType];
export const NODE_ACTION_TYPES: readonly NodeActionType[] = Object.values(NodeActionType);

/** Every action a plan may hold. */
export type PlanActionType = ActionType | NodeActionType;

/** Node-level transitions: the state a node action needs and the state it leaves. */
export const NODE_ACTION_TRANSITIONS: Readonly<
  Record<NodeActionType, { readonly from: 'online' | 'offline'; readonly to: 'online' | 'offline' }>
> = {
  bootNode: { from: 'offline', to: 'online' },
  shutdownNode: { from: 'online', to: 'offline' },
};

export function isNodeAction(type: PlanActionType): type is NodeActionType {
  return type === 'bootNode' || type === 'shutdownNode';
}

/** States in which a VM holds resources on its host. */
export function holdsResources(state: VMState): boolean {
  return state === 'running' || state === 'paused';
}
