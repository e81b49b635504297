import type { PlannedAction } from '../model/plan.ts';

/** Actions sent together: one action, or the pauses (unpauses) of one vjob in one step. */
export interface DispatchUnit {
  readonly index: number;
  readonly step: number;
  readonly actions: readonly PlannedAction[];
  /** Units that must be done before this one starts (ASAP mode). */
  readonly deps: readonly number[];
}

const isGanged = (a: PlannedAction) => a.type === 'pause' || a.type === 'unpause';

/**
 * Cuts a plan into dispatch units. The pauses of a vjob form one unit, and so do its unpauses,
 * so the whole vjob stops and starts as one in both modes; an action that waits for one pause of a
 * vjob waits for all of them, so no save starts while another VM of the vjob still runs.
 */
export function dispatchUnits(actions: readonly PlannedAction[]): DispatchUnit[] {
  const members = new Map<string, PlannedAction[]>();
  for (const a of actions) {
    const key = isGanged(a) ? `${a.step}\u0000${a.type}\u0000${a.vjob}` : `\u0001${a.id}`;
    const list = members.get(key);
    if (list) list.push(a);
    else members.set(key, [a]);
  }
  const groups = [...members.values()].sort((x, y) => x[0]!.step - y[0]!.step);
  const unitOf = new Map<string, number>();
  groups.forEach((g, i) => g.forEach((a) => unitOf.set(a.id, i)));
  return groups.map((g, i) => {
    const deps = new Set<number>();
    for (const a of g)
      for (const d of a.dependsOn) {
        const u = unitOf.get(d);
        if (u !== undefined && u !== i) deps.add(u);
      }
    return { index: i, step: g[0]!.step, actions: g, deps: [...deps] };
  });
}
