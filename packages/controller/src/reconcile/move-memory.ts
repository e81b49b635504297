import type { FeasiblePlan } from '@entropy/engine';
import type { HeldVjob } from './reconcile.ts';

/**
 * The loop's memory of the migrations its plans made, for the budgets' hold time. A restarted
 * controller, or one taking over the lease, fills it from the plan journal's last plans
 * (journal/journaled-migrations.ts) once it has read them; until then a VM may move once more
 * before its hold would have ended. The hold damps; it guards nothing.
 */
export class MoveMemory {
  private readonly at = new Map<string, number>();

  constructor(private readonly holdMs: number) {}

  /** Records the VMs a plan migrated, once it ended (or stopped) at `now`. */
  record(migrated: Iterable<string>, now: number): void {
    if (this.holdMs <= 0) return;
    for (const vm of migrated) this.at.set(vm, Math.max(this.at.get(vm) ?? now, now));
  }

  /** The VMs moved within the hold before `now`, with when; older ones are forgotten. */
  since(now: number): ReadonlyMap<string, number> {
    for (const [vm, t] of this.at) if (now - t >= this.holdMs) this.at.delete(vm);
    return new Map(this.at);
  }

  /** The VMs a plan migrates, each once. */
  migratedBy(plan: FeasiblePlan): string[] {
    return [...new Set(plan.actions.filter((a) => a.type === 'migrate').map((a) => a.vm))];
  }
}

/** The budget holds of a turn as one key, and whether they differ from the last turn's. */
export function budgetNews(held: readonly HeldVjob[], last: string): { key: string; changed: boolean } {
  const key = held
    .filter((h) => h.kind === 'budget')
    // The vjob and the budget, not the figures: they change with every measure.
    .map((h) => `${h.vjob}: ${h.reason.split(':')[0]}`)
    .sort()
    .join('\n');
  return { key, changed: key !== '' && key !== last };
}
