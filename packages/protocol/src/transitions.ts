import { ACTION_TYPES, type ActionType } from './messages.ts';

/**
 * The VM life cycle's action table, written once for every package: the engine infers a plan's
 * actions from it, the verifier replays plans against it, the agent reports the state it leaves.
 * A VM is waiting, running, paused (between a pause and a save, or a restore and an unpause),
 * sleeping (its memory saved to an image) or terminated.
 */
export type LifecycleState = 'waiting' | 'running' | 'paused' | 'sleeping' | 'terminated';

/**
 * The state each action needs and the state it leaves. A paused VM can be stopped, and migrated
 * (xl and virsh move a paused domain, which stays paused). The first transition of each action is
 * the state an agent reports when its driver cannot tell.
 */
export const ACTION_TRANSITIONS: Readonly<
  Record<ActionType, readonly { readonly from: LifecycleState; readonly to: LifecycleState }[]>
> = {
  run: [{ from: 'waiting', to: 'running' }],
  stop: [
    { from: 'running', to: 'terminated' },
    { from: 'paused', to: 'terminated' },
    { from: 'sleeping', to: 'terminated' },
  ],
  pause: [{ from: 'running', to: 'paused' }],
  suspend: [{ from: 'paused', to: 'sleeping' }],
  resume: [{ from: 'sleeping', to: 'paused' }],
  unpause: [{ from: 'paused', to: 'running' }],
  migrate: [
    { from: 'running', to: 'running' },
    { from: 'paused', to: 'paused' },
  ],
};

/** The state an action leaves a VM in, or undefined when the action cannot apply to that state. */
export function stateAfter(type: ActionType, from: LifecycleState): LifecycleState | undefined {
  return ACTION_TRANSITIONS[type].find((t) => t.from === from)?.to;
}

/** What an agent reports after a successful action whose driver does not say: each action's first transition's end. */
export const STATE_AFTER: Readonly<Record<ActionType, LifecycleState>> = Object.fromEntries(
  ACTION_TYPES.map((type) => [type, ACTION_TRANSITIONS[type][0]!.to]),
) as Record<ActionType, LifecycleState>;

const STATES: readonly LifecycleState[] = ['waiting', 'running', 'paused', 'sleeping', 'terminated'];

/** Changes of state that take no action: a VM that never ran is dropped from the queue, nothing runs on a node. */
export const SILENT_TRANSITIONS: readonly { readonly from: LifecycleState; readonly to: LifecycleState }[] = [
  { from: 'waiting', to: 'terminated' },
];

/**
 * The actions that take a VM from one state to another, in order: the shortest path through the
 * table (breadth first, actions in ACTION_TYPES order), without migrate, which moves a VM and keeps
 * its state. Undefined when no action sequence leads there; empty when the states are the same or
 * the change is silent (SILENT_TRANSITIONS).
 */
export function actionPath(from: LifecycleState, to: LifecycleState): readonly ActionType[] | undefined {
  if (SILENT_TRANSITIONS.some((t) => t.from === from && t.to === to)) return [];
  return PATHS.get(from)!.get(to);
}

const PATHS: ReadonlyMap<LifecycleState, ReadonlyMap<LifecycleState, readonly ActionType[]>> = new Map(
  STATES.map((from) => {
    const paths = new Map<LifecycleState, readonly ActionType[]>([[from, []]]);
    const queue: LifecycleState[] = [from];
    while (queue.length > 0) {
      const at = queue.shift()!;
      for (const type of ACTION_TYPES) {
        if (type === 'migrate') continue;
        const next = stateAfter(type, at);
        if (next !== undefined && !paths.has(next)) {
          paths.set(next, [...paths.get(at)!, type]);
          queue.push(next);
        }
      }
    }
    return [from, paths];
  }),
);
