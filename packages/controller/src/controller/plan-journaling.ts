import type { ActionJournal } from '../executor/index.ts';
import type { JournalRecord, PlanJournal } from '../journal/plan-journal.ts';
import type { Logger } from '@entropy/protocol';

/**
 * The executor's journal for one plan: intents are awaited (an action is sent only once its
 * intent is durable), results are written in the background, in order, and a failure to write one
 * is logged: the agent's ledger tells it again after a restart.
 */
export function actionJournalFor(
  journal: PlanJournal,
  planId: string,
  logger: Logger,
  now: () => number = Date.now,
): ActionJournal & { flushed(): Promise<void> } {
  let results: Promise<void> = Promise.resolve();
  return {
    intents: (actions) =>
      journal.append(
        actions.map(
          ({ request: r, node, action: a }): JournalRecord => ({
            kind: 'intent',
            planId,
            actionId: r.actionId,
            node,
            type: r.type,
            vm: r.vm,
            vjob: r.vjob,
            ...(r.from !== undefined ? { from: r.from } : {}),
            ...(r.to !== undefined ? { to: r.to } : {}),
            mem: r.demand.mem,
            estimatedMs: r.estimatedMs,
            ...(a.step >= 0 ? { step: a.step } : {}),
            start: a.start,
            end: a.end,
            at: now(),
          }),
        ),
      ),
    result(request, r) {
      const record: JournalRecord = {
        kind: 'result',
        planId,
        actionId: request.actionId,
        via: 'reply',
        at: now(),
        ...r,
      };
      results = results
        .then(() => journal.append([record]))
        .catch((err: Error) =>
          logger.warn({ planId, actionId: request.actionId, err: err.message }, 'journal: cannot record a result'),
        );
    },
    flushed: () => results,
  };
}
