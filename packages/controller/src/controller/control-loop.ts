import { contextSwitch } from '../engine/context-switch.ts';
import { assertExecutable } from '../executor/index.ts';
import type { Configuration, Decision } from '../model/configuration.ts';
import type { CostModel } from '../model/cost-model.ts';
import type { FeasiblePlan } from '../model/plan.ts';
import type { MonitorView, NodeView } from '../monitor/index.ts';
import type { Policy } from '../policy/index.ts';
import { validateDecision } from '../policy/index.ts';
import type { VJobQueue } from '../queue/vjob-queue.ts';
import type { Logger } from './logger.ts';
import { planPolicyTurn } from './policy-turn.ts';

/**
 * The policy hook of the control loop: the wanted state of each vjob, or undefined to leave the
 * cluster as it is. A Policy with the vjob queue is the usual source; this raw hook serves tests.
 */
export type DecideFn = (configuration: Configuration, view: MonitorView) => Decision | undefined;

/** What the loop needs from the controller around it. */
export interface ControlLoopDeps {
  readonly logger: Logger;
  readonly intervalMs: number;
  /** The agents' status period: a finished vjob is noticed within one, and ends are not declared in the first three after a start. */
  readonly statusPeriodMs: number;
  view(): MonitorView;
  /** The view's nodes alone, when cheaper than a view: the loop checks freshness on them first. */
  nodes?(): readonly NodeView[];
  /** True once every online node has reported since the last plan ended. */
  isFresh(view: Pick<MonitorView, 'nodes'>): boolean;
  planRunning(): boolean;
  /** Starts a plan; the controller calls `planEnded` when it ends. */
  execute(planId: string, plan: FeasiblePlan, configuration: Configuration, decision: Decision): void;
  newPlanId(prefix: string): string;
  readonly costModel: CostModel;
  readonly policy?: Policy;
  readonly queue?: VJobQueue;
  readonly decide?: DecideFn;
  readonly now?: () => number;
}

export interface ControlLoop {
  /** Asks for a turn; triggers that arrive during a turn or a plan are coalesced into one next turn. */
  trigger(reason: string): void;
  planEnded(status: string): void;
  close(): void;
}

/** After a failed plan the next turn waits this long, doubling per failure up to the loop interval. */
const FIRST_RETRY_MS = 500;

/**
 * The level-triggered control loop: each turn re-observes (monitor view, queue store), asks the
 * policy through decideSafely, plans with the context switch and hands the plan to the executor.
 * Turns run periodically and on events (a submission, a cancel, a plan's end, a node going online
 * or offline, a queued vjob observed in another state, which includes one whose VMs all stopped).
 * One turn at a time and one plan at a time: triggers during either are coalesced into the next
 * turn, which starts from fresh observation; nothing is retried as such.
 */
export function startControlLoop(deps: ControlLoopDeps): ControlLoop {
  const { logger } = deps;
  const now = deps.now ?? Date.now;
  const startedAt = now();
  const pending = new Set<string>();
  /** Reasons of turns that found a plan running: told in the log of the turn after it. */
  const deferred = new Set<string>();
  let active = false;
  let closed = false;
  let turns = 0;
  let plans = 0;
  let failures = 0;
  let lastGood: Decision = {};
  let retry: NodeJS.Timeout | undefined;

  const later = (reason: string, ms: number) => {
    if (retry) clearTimeout(retry);
    retry = setTimeout(() => trigger(reason), ms);
  };

  function trigger(reason: string): void {
    if (closed) return;
    pending.add(reason);
    if (!active) void drain();
  }

  async function drain(): Promise<void> {
    active = true;
    try {
      while (pending.size > 0 && !closed) {
        const reasons = [...deferred, ...pending];
        pending.clear();
        deferred.clear();
        try {
          await turn(reasons);
        } catch (err) {
          logger.error({ triggers: reasons, err: (err as Error).message }, 'control loop turn failed');
        }
      }
    } finally {
      active = false;
    }
  }

  async function turn(triggers: string[]): Promise<void> {
    if (deps.planRunning()) {
      for (const r of triggers) deferred.add(r);
      return;
    }
    // After a plan the loop waits for every node's next status: checked on the nodes alone first, a view of every VM costs more.
    const stale = deps.nodes !== undefined && !deps.isFresh({ nodes: deps.nodes() });
    let view = stale ? undefined : deps.view();
    if (view === undefined || !deps.isFresh(view)) {
      for (const r of triggers) deferred.add(r);
      later('fresh-status', Math.max(50, deps.statusPeriodMs / 4));
      return;
    }
    const n = ++turns;
    if (deps.queue) {
      const changed = await deps.queue.reconcile(view, { mayEnd: now() - startedAt >= 3 * deps.statusPeriodMs, now: now() });
      // A plan may have started meanwhile; and when the store changed what the monitor plans with
      // (an ended vjob's VMs), look again. Otherwise the view stands: on 100,000 VMs it costs a tenth of a second.
      if (deps.planRunning()) return void triggers.forEach((r) => deferred.add(r));
      if (changed) view = deps.view();
    }
    if (deps.policy && deps.queue) return policyTurn(n, triggers, view, deps.policy, deps.queue);
    if (deps.decide) return hookTurn(triggers, view, deps.decide);
  }

  function policyTurn(n: number, triggers: string[], view: MonitorView, policy: Policy, queue: VJobQueue): void {
    const schedulable = queue.schedulable(view).map((v) => v.id);
    const cancelling = queue.cancelling(view).map((v) => v.id);
    const t = planPolicyTurn({ view, policy, schedulable, cancelling, lastGood, now: now(), costModel: deps.costModel });
    if (t.error) logger.error({ turn: n, policy: policy.name, code: t.error.code, err: t.error.message }, 'policy failed: the loop keeps the last good decision');
    else lastGood = t.policyDecision;
    const entry = { turn: n, triggers, policy: policy.name, queued: schedulable.length, cancelling: cancelling.length, decision: t.decision, ...(t.deferred.length ? { deferred: t.deferred } : {}) };
    if (Object.keys(t.decision).length === 0) return logger.debug({ ...entry, outcome: 'idle' }, 'control loop turn');
    if (!t.plan) return logger.warn({ ...entry, outcome: 'infeasible', reason: t.infeasible }, 'control loop turn');
    if (t.plan.actions.length === 0) {
      // A quiet cluster turns every interval: say so at debug level, unless an event asked for the turn.
      const level = triggers.every((r) => r === 'timer') ? 'debug' : 'info';
      return logger[level]({ ...entry, outcome: 'no-change' }, 'control loop turn');
    }
    start(entry, t.plan, t.configuration, t.decision);
  }

  function hookTurn(triggers: string[], view: MonitorView, decide: DecideFn): void {
    const wanted = decide(view.configuration, view);
    if (!wanted || Object.keys(wanted).length === 0) return;
    const decision = validateDecision(wanted, view.configuration, 'decide');
    const plan = contextSwitch(view.configuration, decision, deps.costModel);
    const entry = { turn: turns, triggers, decision };
    if (!plan.feasible) return logger.warn({ ...entry, outcome: 'infeasible', reason: plan.reason }, 'control loop turn');
    if (plan.actions.length === 0) return logger.debug({ ...entry, outcome: 'no-change' }, 'control loop turn');
    start(entry, plan, view.configuration, decision);
  }

  function start(entry: object, plan: FeasiblePlan, configuration: Configuration, decision: Decision): void {
    const planId = deps.newPlanId(`loop${++plans}`);
    const byType: Record<string, number> = {};
    for (const a of plan.actions) byType[a.type] = (byType[a.type] ?? 0) + 1;
    const planned = { ...entry, planId, actions: plan.actions.length, byType, steps: plan.steps, makespan: plan.makespan };
    try {
      assertExecutable(plan, { planId, configuration, decision });
    } catch (err) {
      const e = err as Error & { code?: string };
      return logger.error({ ...planned, outcome: 'not-executable', code: e.code, err: e.message }, 'control loop turn');
    }
    logger.info({ ...planned, outcome: 'plan-started' }, 'control loop turn');
    deps.execute(planId, plan, configuration, decision);
  }

  const timer = setInterval(() => trigger('timer'), deps.intervalMs);
  // Agents' reports change between turns (a vjob whose VMs all stopped): look once per status period.
  const watch = deps.queue
    ? setInterval(() => {
        if (active || deps.planRunning()) return;
        if (deps.queue!.observedChange(deps.view())) trigger('vjob-observed');
      }, Math.max(50, deps.statusPeriodMs))
    : undefined;
  setImmediate(() => trigger('start'));

  return {
    trigger,
    planEnded(status) {
      if (status === 'completed') {
        failures = 0;
        trigger('plan-ended');
      } else later('plan-failed', Math.min(deps.intervalMs, FIRST_RETRY_MS * 2 ** failures++));
    },
    close() {
      closed = true;
      clearInterval(timer);
      if (watch) clearInterval(watch);
      if (retry) clearTimeout(retry);
    },
  };
}
