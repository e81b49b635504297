import type { PlanProgress } from '@entropy/protocol';
import type { JournalRecord } from '../journal/plan-journal.ts';

/** What an action of a plan really did, in ms from the plan's start (the executor's clock). */
export interface MeasuredAction {
  /** The plan's action id (`a3`; `undo-a3` for the unpause that undid a pause). */
  readonly id: string;
  readonly start: number;
  /** Absent when no end was seen (the plan was cut short, or the action hangs). */
  readonly end?: number;
  /** False when the action failed. */
  readonly ok?: boolean;
  /** The agent's own measure, around the hypervisor call. */
  readonly durationMs?: number;
}

const planActionId = (planId: string, wireId: string) =>
  wireId.startsWith(`${planId}:`) ? wireId.slice(planId.length + 1) : wireId;

/**
 * Measured starts and ends from a plan's progress messages (`entropy apply` follows them): an
 * action starts at its `action-started`, ends at its `action-done` or `action-failed`; times from
 * the `plan-started` message (else the first message). A retried action keeps its first start.
 */
export function measuredFromProgress(planId: string, events: readonly PlanProgress[]): MeasuredAction[] {
  if (events.length === 0) return [];
  const origin = events.find((e) => e.kind === 'plan-started')?.ts ?? Math.min(...events.map((e) => e.ts));
  const out = new Map<string, { id: string; start: number; end?: number; ok?: boolean; durationMs?: number }>();
  for (const e of events) {
    if (e.actionId === undefined) continue;
    const id = planActionId(planId, e.actionId);
    const t = Math.max(0, e.ts - origin);
    if (e.kind === 'action-started') {
      if (!out.has(id)) out.set(id, { id, start: t });
    } else if (e.kind === 'action-done' || e.kind === 'action-failed') {
      const m = out.get(id) ?? { id, start: t };
      m.end = t;
      m.ok = e.kind === 'action-done';
      if (e.durationMs !== undefined) m.durationMs = e.durationMs;
      out.set(id, m);
    }
  }
  return [...out.values()];
}

/**
 * Measured starts and ends from a plan's journal: an action starts at its intent (written just
 * before it is sent) and ends at its result; times from the plan's `plan` record (else its first record).
 */
export function measuredFromJournal(records: readonly JournalRecord[]): MeasuredAction[] {
  if (records.length === 0) return [];
  const origin = records.find((r) => r.kind === 'plan')?.at ?? Math.min(...records.map((r) => r.at));
  const out = new Map<string, { id: string; start: number; end?: number; ok?: boolean; durationMs?: number }>();
  for (const r of records) {
    if (r.kind === 'intent') {
      const id = planActionId(r.planId, r.actionId);
      if (!out.has(id)) out.set(id, { id, start: Math.max(0, r.at - origin) });
    } else if (r.kind === 'result') {
      const m = out.get(planActionId(r.planId, r.actionId));
      if (!m || m.end !== undefined) continue;
      m.end = Math.max(m.start, r.at - origin);
      m.ok = r.ok;
      if (r.durationMs !== undefined) m.durationMs = r.durationMs;
    }
  }
  return [...out.values()];
}
