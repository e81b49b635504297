import type { PlanJournal } from './plan-journal.ts';

/** A migration the journal says succeeded, and when its result was recorded. */
export interface JournaledMigration {
  readonly vm: string;
  readonly at: number;
}

/**
 * The migrations that succeeded since `since` in the journal's last `maxPlans` plans: what a
 * controller that takes over (or restarts) remembers of the moves the budgets' hold time covers.
 */
export async function journaledMigrations(
  journal: PlanJournal,
  since: number,
  maxPlans = 20,
): Promise<JournaledMigration[]> {
  const out: JournaledMigration[] = [];
  for (const planId of (await journal.plans()).slice(-maxPlans)) {
    const records = await journal.read(planId);
    const migrating = new Map<string, string>();
    for (const r of records) if (r.kind === 'intent' && r.type === 'migrate') migrating.set(r.actionId, r.vm);
    for (const r of records)
      if (r.kind === 'result' && r.ok && r.at >= since && migrating.has(r.actionId))
        out.push({ vm: migrating.get(r.actionId)!, at: r.at });
  }
  return out;
}
