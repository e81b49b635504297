import { ACTION_TYPES, type ActionType, type CostKind, costKindOf, type CostSample } from '@entropy/engine';
import type { IntentRecord, JournalRecord } from '../journal/plan-journal.ts';

/** The cost kind of a journaled action; undefined for an unknown type or a resume recorded without its nodes. */
export function costKindOfIntent(i: Pick<IntentRecord, 'type' | 'from' | 'to'>): CostKind | undefined {
  if (!ACTION_TYPES.includes(i.type as ActionType)) return undefined;
  if (i.type === 'resume' && (i.from === undefined || i.to === undefined)) return undefined;
  return costKindOf(i.type as ActionType, i.from !== i.to);
}

/**
 * Calibration samples from plan journal records (any number of plans): each action that succeeded,
 * with its intent's kind, memory and node and its result's measured duration. `skipped` counts the
 * successful actions whose records lack one of them (written before the journal kept them).
 */
export function samplesFromJournal(records: readonly JournalRecord[]): { samples: CostSample[]; skipped: number } {
  const intents = new Map<string, IntentRecord>();
  for (const r of records) if (r.kind === 'intent') intents.set(r.actionId, r);
  const samples: CostSample[] = [];
  let skipped = 0;
  const seen = new Set<string>();
  for (const r of records) {
    if (r.kind !== 'result' || !r.ok || seen.has(r.actionId)) continue;
    seen.add(r.actionId);
    const i = intents.get(r.actionId);
    const kind = i ? costKindOfIntent(i) : undefined;
    if (!i || kind === undefined || i.mem === undefined || r.durationMs === undefined) {
      skipped++;
      continue;
    }
    samples.push({ kind, mem: i.mem, durationMs: r.durationMs, node: i.node });
  }
  return { samples, skipped };
}
