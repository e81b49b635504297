import type { Configuration, Decision, FeasiblePlan } from '@entropy/engine';
import type { Logger } from '@entropy/protocol';
import {
  type ActionTimeouts,
  type ExecutionMode,
  type ExecutionOutcome,
  type ExecutorEvent,
  executePlan,
  type NodePower,
  type ObservedPlace,
  type ActionTransport,
} from '../executor/index.ts';
import type { PlanJournal } from '../journal/plan-journal.ts';
import type { MemoryRegistry, NatsMonitor } from '../monitor/index.ts';
import { actionJournalFor } from './plan-journaling.ts';
import type { PlanRecorder } from './plan-records.ts';

/** What executing a plan needs of the controller: its parts, and the leader's term of the moment. */
export interface PlanRunnerDeps {
  readonly name: string;
  readonly logger: Logger;
  readonly journal: PlanJournal;
  readonly records: PlanRecorder | undefined;
  readonly transport: ActionTransport;
  readonly nodePower: NodePower;
  readonly monitor: Pick<NatsMonitor, 'placeOf' | 'observeResult'>;
  readonly registry: Pick<MemoryRegistry, 'settle'>;
  readonly publish: (e: ExecutorEvent) => void;
  readonly timeouts?: Partial<ActionTimeouts>;
  readonly groupLeadMs?: number;
  /** The leader's term now: the signal that stops its plan and its fencing token; undefined while standing by. */
  readonly leader: () => { readonly abort: AbortController; readonly token?: number } | undefined;
}

export interface PlanRun {
  readonly planId: string;
  readonly plan: FeasiblePlan;
  readonly configuration: Configuration;
  readonly decision: Decision;
  readonly executionMode: ExecutionMode;
}

/**
 * Executes the reconcile loop's plans for the leader: the plan's record and journal entries around
 * the executor, its progress published and its results shown in the monitor's view. It remembers
 * the last outcome, and when the last plan ended (a view is fresh once every online node has
 * reported since).
 */
export function planRunner(d: PlanRunnerDeps) {
  const { logger, journal, records } = d;
  let last: ExecutionOutcome | undefined;
  let settledAt = 0;

  /** What the agents report of some VMs now: the executor's check for stale plans. */
  function observe(vms: readonly string[]): ReadonlyMap<string, ObservedPlace> {
    const out = new Map<string, ObservedPlace>();
    for (const vm of vms) {
      const p = d.monitor.placeOf(vm);
      // Crashed and unknown are no plan's expectation: reported as such, they make the plan stale.
      if (p && p.state !== 'terminated') out.set(vm, p as ObservedPlace);
    }
    return out;
  }

  async function run({
    planId,
    plan,
    configuration,
    decision,
    executionMode,
  }: PlanRun): Promise<ExecutionOutcome | undefined> {
    const leader = d.leader();
    if (!leader) return undefined;
    const token = leader.token !== undefined ? { token: leader.token } : {};
    logger.info(
      {
        planId,
        actions: plan.actions.length,
        steps: plan.steps,
        makespan: plan.makespan,
        mode: executionMode,
        ...token,
      },
      'plan started',
    );
    records?.started(planId, plan, executionMode);
    const actions = actionJournalFor(journal, planId, logger);
    try {
      await journal.append([
        {
          kind: 'plan',
          planId,
          controller: d.name,
          ...token,
          mode: executionMode,
          actions: plan.actions.length,
          decision: { ...decision },
          at: Date.now(),
        },
      ]);
      const outcome = await executePlan(plan, {
        planId,
        configuration,
        decision,
        transport: d.transport,
        nodePower: d.nodePower,
        mode: executionMode,
        timeouts: d.timeouts,
        ...(d.groupLeadMs ? { groupLeadMs: d.groupLeadMs } : {}),
        signal: leader.abort.signal,
        ...token,
        journal: actions,
        observe,
        onEvent: (e) => {
          d.publish(e);
          if (e.kind === 'action-done') d.monitor.observeResult(e.action.vm, e.after);
          if (e.kind === 'action-failed')
            logger.warn(
              { planId, actionId: e.wireId, vm: e.action.vm, type: e.action.type, ...e.error },
              'action failed',
            );
          if (e.kind === 'node-action-failed')
            logger.warn(
              { planId, actionId: e.wireId, node: e.nodeAction.node, type: e.nodeAction.type, ...e.error },
              'node action failed',
            );
        },
      });
      last = outcome;
      records?.ended(planId, outcome);
      d.registry.settle(outcome.observed);
      const { status, measuredMs, estimatedMs, undone, leftPaused, notStarted, staleReason } = outcome;
      logger.info(
        {
          planId,
          status,
          measuredMs,
          estimatedMs,
          undone: undone.length,
          leftPaused,
          notStarted: notStarted.length,
          ...(staleReason ? { staleReason } : {}),
        },
        'plan ended',
      );
      await actions.flushed();
      await journal
        .append([{ kind: 'end', planId, status, at: Date.now() }])
        .catch((err: Error) => logger.warn({ planId, err: err.message }, "journal: cannot record the plan's end"));
      return outcome;
    } catch (err) {
      const e = err as Error & { code?: string };
      records?.notExecuted(planId, e.message);
      logger.error({ planId, err: e.message, code: e.code }, 'plan not executed');
      return undefined;
    } finally {
      settledAt = Date.now();
    }
  }

  return { run, last: () => last, settledAt: () => settledAt };
}
