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
export const VJOB_STATES: readonly VJobState[] = Object.values(VJobState);

/** A VM is in one of the vjob states, or paused: the transient state between pause and save, or restore and unpause. */
export type VMState = VJobState | 'paused';

import type { ActionType } from '@entropy/protocol';

// The action types are the wire protocol's: one definition for the planner, the executor and the agents.
export { ACTION_TYPES, ActionType } from '@entropy/protocol';

/**
 * Decision-level transitions: for each current state, the states a decision may ask for.
 * Beyond the paper's life cycle, a waiting or sleeping vjob may be cancelled (-> terminated):
 * an operator must be able to drop a queued or suspended job without running it first.
 */
export const VJOB_TRANSITIONS: Readonly<Record<VJobState, readonly VJobState[]>> = {
  waiting: ['waiting', 'running', 'terminated'],
  running: ['running', 'sleeping', 'terminated'],
  sleeping: ['sleeping', 'running', 'terminated'],
  terminated: ['terminated'],
};

export function isAllowedTransition(from: VJobState, to: VJobState): boolean {
  return VJOB_TRANSITIONS[from].includes(to);
}

/** Action-level transitions of one VM: the state an action needs and the state it leaves. */
export const ACTION_TRANSITIONS: Readonly<Record<ActionType, readonly { from: VMState; to: VMState }[]>> = {
  run: [{ from: 'waiting', to: 'running' }],
  stop: [
    { from: 'running', to: 'terminated' },
    { from: 'sleeping', to: 'terminated' },
  ],
  pause: [{ from: 'running', to: 'paused' }],
  suspend: [{ from: 'paused', to: 'sleeping' }],
  resume: [{ from: 'sleeping', to: 'paused' }],
  unpause: [{ from: 'paused', to: 'running' }],
  migrate: [{ from: 'running', to: 'running' }],
};

/** Actions on a node, not on a VM: they change the node's state (BtrPlace's bootNode, shutdownNode). */
export const NodeActionType = { BootNode: 'bootNode', ShutdownNode: 'shutdownNode' } as const;
export type NodeActionType = (typeof NodeActionType)[keyof typeof NodeActionType];
export const NODE_ACTION_TYPES: readonly NodeActionType[] = Object.values(NodeActionType);

/** Every action a plan may hold. */
export type PlanActionType = ActionType | NodeActionType;

/** Node-level transitions: the state a node action needs and the state it leaves. */
export const NODE_ACTION_TRANSITIONS: Readonly<Record<NodeActionType, { readonly from: 'online' | 'offline'; readonly to: 'online' | 'offline' }>> = {
  bootNode: { from: 'offline', to: 'online' },
  shutdownNode: { from: 'online', to: 'offline' },
};

export function isNodeAction(type: PlanActionType): type is NodeActionType {
  return type === 'bootNode' || type === 'shutdownNode';
}

/** The state an action leaves a VM in, or undefined when the action cannot apply to that state. */
export function stateAfter(type: ActionType, from: VMState): VMState | undefined {
  return ACTION_TRANSITIONS[type].find((t) => t.from === from)?.to;
}

/** States in which a VM holds resources on its host. */
export function holdsResources(state: VMState): boolean {
  return state === 'running' || state === 'paused';
}

/** The vjob-level wanted states a VM in each observed state can reach. */
const VM_TARGETS: Readonly<Record<VMState, readonly VJobState[]>> = {
  waiting: ['waiting', 'running', 'terminated'],
  running: ['running', 'sleeping', 'terminated'],
  paused: ['running', 'sleeping', 'terminated'],
  sleeping: ['sleeping', 'running', 'terminated'],
  terminated: ['terminated'],
};

/** The wanted states every VM of a vjob can reach from the given observed states. */
export function reachableTargets(states: readonly VMState[]): VJobState[] {
  return VJOB_STATES.filter((t) => states.every((s) => VM_TARGETS[s].includes(t)));
}

/**
 * Where a vjob goes when no decision names it: its current state (running if any VM runs or is
 * paused, else sleeping, waiting, terminated) when every VM can reach it, else running.
 */
export function defaultTarget(states: readonly VMState[]): VJobState {
  const current: VJobState = states.some((s) => s === 'running' || s === 'paused')
    ? 'running'
    : states.some((s) => s === 'sleeping')
      ? 'sleeping'
      : states.some((s) => s === 'waiting')
        ? 'waiting'
        : 'terminated';
  return states.every((s) => VM_TARGETS[s].includes(current)) ? current : 'running';
}
