import { estimatedDurationMs, type ExecutionMode, type ExecutionOutcome } from '../executor/index.ts';
import type { FeasiblePlan } from '@entropy/engine';
import type { PlanRecord, QueueStore } from '../queue/queue-store.ts';
import type { LedgerReply, Logger } from '@entropy/protocol';
import { type JournalRecord, summarizePlan, type PlanJournal } from '../journal/plan-journal.ts';

type RecordStore = Pick<QueueStore, 'recordPlan' | 'lastPlan'>;

export interface PlanRecorder {
  started(planId: string, plan: FeasiblePlan, mode: ExecutionMode): void;
  ended(planId: string, outcome: ExecutionOutcome): void;
  /** The plan could not be executed at all (the executor refused it). */
  notExecuted(planId: string, why: string): void;
  /** Resolves once every record asked for is written (or its failure logged). */
  flushed(): Promise<void>;
}

/**
 * Keeps the store's record of the controller's latest plan: written when the plan starts and again
 * when it ends, in that order. A write that fails is logged; it never stops a plan.
 */
export function planRecorder(
  store: RecordStore,
  controller: string,
  logger: Logger,
  now: () => number = Date.now,
): PlanRecorder {
  let writes: Promise<void> = Promise.resolve();
  let current: PlanRecord | undefined;
  const write = (record: PlanRecord) => {
    current = record;
    writes = writes.then(() =>
      store
        .recordPlan(record)
        .catch((err: Error) =>
          logger.warn(
            { planId: record.planId, status: record.status, err: err.message },
            'cannot record the plan in the queue store',
          ),
        ),
    );
  };
  const base = (planId: string) => (current?.planId === planId ? current : undefined);
  return {
    started(planId, plan, mode) {
      write({
        planId,
        status: 'running',
        controller,
        mode,
        actions: plan.actions.length + (plan.nodeActions?.length ?? 0),
        steps: plan.steps,
        estimatedMs: estimatedDurationMs(plan, mode),
        startedAt: now(),
      });
    },
    ended(planId, outcome) {
      const start = base(planId);
      if (!start) return;
      write({
        ...start,
        status: outcome.status,
        endedAt: now(),
        done: outcome.completed.length + outcome.nodeActions.completed.length,
        failed: outcome.failures.length + outcome.nodeActions.failures.length,
        ...(failureOf(outcome) !== undefined ? { failure: failureOf(outcome) } : {}),
        leftPaused: outcome.leftPaused,
        uncertainVms: outcome.uncertainVms,
      });
    },
    notExecuted(planId, why) {
      const start = base(planId);
      if (start) write({ ...start, status: 'failed', endedAt: now(), done: 0, failed: 0, failure: why });
    },
    flushed: () => writes,
  };
}

/** The first failure of an outcome, one line: a VM action's, else a node action's. */
function failureOf(outcome: ExecutionOutcome): string | undefined {
  const f = outcome.failed;
  if (f) return `${f.action.type} ${f.action.vm} on ${f.node}: ${f.error.message}`;
  const n = outcome.nodeActions.failures[0];
  return n && `${n.action.type} ${n.action.node}: ${n.error.message}`;
}

/** Asks one node's agent what became of some action ids; undefined when it does not answer. */
export type LedgerLookup = (node: string, actionIds: readonly string[]) => Promise<LedgerReply['entries'] | undefined>;

/**
 * At a controller's start, or when a standby takes over: a latest plan still recorded as running
 * was cut short. Its journal tells which actions were sent without a known result; their agents'
 * ledgers tell what became of each (done, failed, still running, interrupted by an agent restart,
 * never received), which is journaled and logged, and the plan is recorded as interrupted. Nothing
 * is replayed: what the actions did is what the agents report, and the loop plans around the ones
 * still running (the agents list them in their statuses). Returns that record, if any.
 */
export async function closeInterruptedPlan(
  store: RecordStore,
  logger: Logger,
  journal?: PlanJournal,
  lookup?: LedgerLookup,
  now: () => number = Date.now,
): Promise<PlanRecord | undefined> {
  const last = await store.lastPlan();
  if (last?.status !== 'running') return undefined;
  const summary = journal ? summarizePlan(await journal.read(last.planId).catch(() => [])) : undefined;
  const learnt = new Map<string, string>();
  if (summary && lookup && summary.inFlight.length > 0) {
    const byNode = new Map<string, string[]>();
    for (const i of summary.inFlight) byNode.set(i.node, [...(byNode.get(i.node) ?? []), i.actionId]);
    const records: JournalRecord[] = [];
    await Promise.all(
      [...byNode].map(async ([node, ids]) => {
        const entries = await lookup(node, ids).catch(() => undefined);
        for (const id of ids) learnt.set(id, entries === undefined ? 'no answer' : 'unknown');
        for (const e of entries ?? []) {
          learnt.set(e.actionId, e.status);
          if (e.result) {
            const r = e.result;
            records.push({
              kind: 'result',
              planId: last.planId,
              actionId: e.actionId,
              ok: r.ok,
              via: 'ledger',
              at: now(),
              ...(r.error ? { code: r.error.code, message: r.error.message } : {}),
              ...(r.final ? { final: true } : {}),
              ...(r.state ? { state: r.state } : {}),
              ...(r.host ? { host: r.host } : {}),
              durationMs: r.durationMs,
            });
          }
        }
      }),
    );
    if (journal && records.length > 0)
      await journal
        .append(records)
        .catch((err: Error) =>
          logger.warn({ planId: last.planId, err: err.message }, 'journal: cannot record what the agents said'),
        );
  }
  const results = summary ? [...summary.results.values()] : [];
  const interrupted: PlanRecord = {
    ...last,
    status: 'interrupted',
    endedAt: now(),
    ...(summary ? { done: results.filter((r) => r.ok).length, failed: results.filter((r) => !r.ok).length } : {}),
  };
  await store.recordPlan(interrupted);
  const inFlight =
    summary?.inFlight.map(
      (i) => `${i.type} ${i.vm} on ${i.node}${learnt.has(i.actionId) ? `: ${learnt.get(i.actionId)}` : ''}`,
    ) ?? [];
  logger.warn(
    {
      planId: last.planId,
      controller: last.controller,
      startedAt: new Date(last.startedAt).toISOString(),
      actions: last.actions,
      ...(summary
        ? {
            sent: summary.intents.length,
            done: interrupted.done,
            failed: interrupted.failed,
            inFlight: inFlight.slice(0, 50),
            inFlightCount: inFlight.length,
          }
        : {}),
    },
    'the latest plan was interrupted by a controller stop; the agents report what it did, and the control loop plans from there',
  );
  return interrupted;
}
