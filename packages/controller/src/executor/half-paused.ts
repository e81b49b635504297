import type { PlannedAction, VMState } from '@entropy/engine';

type ActionStatus = 'pending' | 'running' | 'done' | 'failed';

/**
 * The pauses to undo after a stopped plan: for each vjob, the VMs this plan paused and that are
 * still paused, when no VM of that pause has started its next action (the save, usually). Such a
 * vjob has not begun to change state, so unpausing restores it whole. Once one of its VMs started
 * to save, unpausing the others would leave part of the vjob running and part sleeping; those
 * stay paused and the next control-loop turn decides.
 */
export function halfPausedVjobs(
  actions: readonly PlannedAction[],
  statusOf: (actionId: string) => ActionStatus,
  stateOf: (vm: string) => VMState | undefined,
): PlannedAction[] {
  const pausesByVjob = new Map<string, PlannedAction[]>();
  for (const a of actions) if (a.type === 'pause') pausesByVjob.set(a.vjob, [...(pausesByVjob.get(a.vjob) ?? []), a]);
  const out: PlannedAction[] = [];
  for (const pauses of pausesByVjob.values()) {
    const pausedAt = new Map(pauses.map((p) => [p.vm, p.end]));
    const progressed = actions.some(
      (a) => a.type !== 'pause' && pausedAt.has(a.vm) && a.start >= pausedAt.get(a.vm)! && statusOf(a.id) !== 'pending',
    );
    if (progressed) continue;
    out.push(...pauses.filter((p) => statusOf(p.id) === 'done' && stateOf(p.vm) === 'paused'));
  }
  return out;
}
