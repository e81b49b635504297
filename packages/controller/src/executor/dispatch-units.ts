import type { NodeAction, PlannedAction } from '@entropy/engine';

/** Actions sent together: one action, the pauses (unpauses) of one vjob in one step, or one node power action. */
export interface DispatchUnit {
  readonly index: number;
  readonly step: number;
  /** The VM actions of the unit; empty for a node power action. */
  readonly actions: readonly PlannedAction[];
  /** Set for a node power action (boot, shutdown): a unit of its own. */
  readonly nodeAction?: NodeAction;
  /** Units that must be done before this one starts (ASAP mode). */
  readonly deps: readonly number[];
}

const isGanged = (a: PlannedAction) => a.type === 'pause' || a.type === 'unpause';

/**
 * Cuts a plan into dispatch units. The pauses of a vjob form one unit, and so do its unpauses,
 * so the whole vjob stops and starts as one in both modes; an action that waits for one pause of a
 * vjob waits for all of them, so no save starts while another VM of the vjob still runs. Node
 * actions share the steps and the dependencies of VM actions (a shutdown waits for the node's
 * evacuation, a VM arriving on a booted node for the boot), so they are units of the same list.
 */
export function dispatchUnits(
  actions: readonly PlannedAction[],
  nodeActions: readonly NodeAction[] = [],
): DispatchUnit[] {
  const members = new Map<string, PlannedAction[]>();
  for (const a of actions) {
    const key = isGanged(a) ? `${a.step}\u0000${a.type}\u0000${a.vjob}` : `\u0001${a.id}`;
    const list = members.get(key);
    if (list) list.push(a);
    else members.set(key, [a]);
  }
  const groups: {
    readonly step: number;
    readonly actions: readonly PlannedAction[];
    readonly nodeAction?: NodeAction;
  }[] = [
    ...[...members.values()].map((g) => ({ step: g[0]!.step, actions: g })),
    ...nodeActions.map((n) => ({ step: n.step, actions: [], nodeAction: n })),
  ];
  groups.sort((x, y) => x.step - y.step);
  const unitOf = new Map<string, number>();
  groups.forEach((g, i) => {
    for (const a of g.actions) unitOf.set(a.id, i);
    if (g.nodeAction) unitOf.set(g.nodeAction.id, i);
  });
  return groups.map((g, i) => {
    const deps = new Set<number>();
    for (const a of g.nodeAction ? [g.nodeAction] : g.actions)
      for (const d of a.dependsOn) {
        const u = unitOf.get(d);
        if (u !== undefined && u !== i) deps.add(u);
      }
    return {
      index: i,
      step: g.step,
      actions: g.actions,
      ...(g.nodeAction ? { nodeAction: g.nodeAction } : {}),
      deps: [...deps],
    };
  });
}
