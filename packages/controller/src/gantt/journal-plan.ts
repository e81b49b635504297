import type { JournalRecord } from '../journal/plan-journal.ts';
import { ACTION_TYPES, type ActionType, type FeasiblePlan, type PlannedAction } from '@entropy/engine';
import { type MeasuredAction, measuredFromJournal } from './measured-actions.ts';

/**
 * A plan as its journal tells it, for a Gantt chart: one action per intent (the actions that were
 * sent), with its planned start, end and step where the intent records them (journals written
 * before they did: the measured times stand in), and what each action measured.
 */
export function planFromJournal(records: readonly JournalRecord[]): { plan: FeasiblePlan; measured: MeasuredAction[] } {
  const measured = measuredFromJournal(records);
  const byId = new Map(measured.map((m) => [m.id, m]));
  const actions: PlannedAction[] = [];
  const seen = new Set<string>();
  for (const r of records) {
    if (r.kind !== 'intent' || !ACTION_TYPES.includes(r.type as ActionType)) continue;
    const id = r.actionId.startsWith(`${r.planId}:`) ? r.actionId.slice(r.planId.length + 1) : r.actionId;
    if (seen.has(id)) continue;
    seen.add(id);
    const m = byId.get(id);
    const start = r.start ?? m?.start ?? 0;
    const end = r.end ?? m?.end ?? start;
    // An intent without its nodes (an older journal) is drawn on the node it was sent to.
    const from = r.from ?? (r.to === undefined && r.type !== 'run' ? r.node : undefined);
    const to = r.to ?? (r.type === 'run' || r.type === 'resume' ? r.node : undefined);
    actions.push({
      id,
      type: r.type as ActionType,
      vm: r.vm,
      vjob: r.vjob,
      ...(from !== undefined ? { from } : {}),
      ...(to !== undefined ? { to } : {}),
      start,
      end,
      step: r.step ?? 0,
      dependsOn: [],
    });
  }
  const ends = actions.map((a) => a.end);
  const plan: FeasiblePlan = {
    feasible: true,
    actions,
    steps: actions.length === 0 ? 0 : Math.max(...actions.map((a) => a.step)) + 1,
    makespan: Math.max(0, ...ends),
    sumCompletion: ends.reduce((s, e) => s + e, 0),
    solveMs: 0,
    target: {},
  };
  return { plan, measured };
}
