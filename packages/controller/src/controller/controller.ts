import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  type ApplyReply,
  type ApplyRequest,
  ControlErrorCode,
  decodeControl,
  encodeControl,
  type Subjects,
  subjects as subjectsOf,
} from '@entropy/protocol';
import {
  type ActionTimeouts,
  assertExecutable,
  executePlan,
  ExecutionMode,
  type ExecutionOutcome,
  natsTransport,
  progressPublisher,
} from '../executor/index.ts';
import type { Configuration, Decision } from '../model/configuration.ts';
import { type CostModel, DEFAULT_COST_MODEL } from '../model/cost-model.ts';
import type { FeasiblePlan } from '../model/plan.ts';
import { MemoryRegistry, type MonitorView, startNatsMonitor } from '../monitor/index.ts';
import type { Policy } from '../policy/index.ts';
import type { VJobQueue } from '../queue/vjob-queue.ts';
import { type ControlLoop, type DecideFn, startControlLoop } from './control-loop.ts';
import type { Logger } from './logger.ts';
import { planApply } from './plan-apply.ts';
import { planRecorder } from './plan-records.ts';
import { respondChunked } from './nats-connect.ts';
import { queueRequestHandlers } from './queue-requests.ts';
import { statusReplyOf } from './status-reply.ts';

export type { DecideFn } from './control-loop.ts';

export interface ControllerOptions {
  readonly prefix?: string;
  readonly name?: string;
  readonly logger: Logger;
  /** The agents' status period; a node silent for three periods is offline. */
  readonly statusPeriodMs?: number;
  readonly decide?: DecideFn;
  /** The control loop's policy over the vjob queue (see control-loop.ts); takes over from `decide`. */
  readonly policy?: Policy;
  /** The vjob queue served on the submit, queue and cancel subjects. */
  readonly queue?: VJobQueue;
  /** How often the loop runs a turn besides its events (default 5 s). */
  readonly loopIntervalMs?: number;
  readonly mode?: ExecutionMode;
  readonly timeouts?: Partial<ActionTimeouts>;
  readonly costModel?: CostModel;
}

export interface Controller {
  readonly registry: MemoryRegistry;
  view(): MonitorView;
  /** Computes and starts a plan; resolves once the plan is computed (or refused). */
  apply(request: ApplyRequest): Promise<ApplyReply>;
  /** The execution in progress or the last one, once it ends. */
  lastOutcome(): ExecutionOutcome | undefined;
  idle(): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_LOOP_INTERVAL_MS = 5000;

export function newPlanId(prefix = 'p'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * The controller: the monitor, the control subjects, the executor, and a level-triggered loop
 * that asks `decide` for a decision each turn and runs the plan that reaches it. One plan runs at
 * a time; a failed plan is not retried as such: the next turn re-observes and plans again.
 */
export function startController(nc: NatsConnection, options: ControllerOptions): Controller {
  const { logger } = options;
  const s: Subjects = subjectsOf(options.prefix);
  const name = options.name ?? `entropy-controller-${process.pid}`;
  const registry = new MemoryRegistry();
  options.queue?.attach(registry);
  let loop: ControlLoop | undefined;
  let transport: ReturnType<typeof natsTransport>;
  const monitor = startNatsMonitor(nc, {
    subjects: s,
    name,
    logger,
    registry,
    periodMs: options.statusPeriodMs,
    onLiveness: ({ wentOffline }) => {
      wentOffline.forEach((node) => transport.nodeLost(node));
      loop?.trigger(wentOffline.length > 0 ? 'node-offline' : 'node-online');
    },
  });
  transport = natsTransport(nc, { subjects: s, isOffline: monitor.isOffline });
  const publish = progressPublisher(nc, s);
  let running: { planId: string; done: Promise<void>; abort: AbortController } | undefined;
  let last: ExecutionOutcome | undefined;
  let closed = false;
  /** When the last plan ended: a view is fresh once every online node has reported since. */
  let settledAt = 0;
  /** The running plan; a function, so that the checks after an await are not narrowed away. */
  const current = () => running;
  const periodMs = options.statusPeriodMs ?? 2000;
  const isFresh = (view: Pick<MonitorView, 'nodes'>) => view.nodes.every((n) => n.liveness !== 'online' || n.lastSeen >= settledAt);
  /**
   * The monitor's view once fresh, or after three periods at most (a node that falls silent goes
   * offline anyway). Polled on the nodes alone: a view of 100,000 VMs costs a quarter of a second.
   */
  async function freshView(): Promise<MonitorView> {
    const deadline = Date.now() + 3 * periodMs;
    while (!isFresh({ nodes: monitor.nodes() }) && Date.now() < deadline) await delay(Math.min(50, periodMs));
    return monitor.view();
  }

  /** The queue store's record of the latest plan, for the next controller should this one stop mid-plan. */
  const records = options.queue ? planRecorder(options.queue.store, name, logger) : undefined;

  function execute(planId: string, plan: FeasiblePlan, configuration: Configuration, decision: Decision, mode?: ExecutionMode): void {
    const abort = new AbortController();
    logger.info({ planId, actions: plan.actions.length, steps: plan.steps, makespan: plan.makespan }, 'plan started');
    records?.started(planId, plan, mode ?? options.mode ?? ExecutionMode.Barrier);
    const done = executePlan(plan, {
      planId,
      configuration,
      decision,
      transport,
      mode: mode ?? options.mode,
      timeouts: options.timeouts,
      signal: abort.signal,
      onEvent: (e) => {
        publish(e);
        if (e.kind === 'action-done') monitor.observeResult(e.action.vm, e.after);
        if (e.kind === 'action-failed') logger.warn({ planId, actionId: e.wireId, vm: e.action.vm, type: e.action.type, ...e.error }, 'action failed');
      },
    }).then(
      (outcome) => {
        last = outcome;
        records?.ended(planId, outcome);
        registry.settle(outcome.observed);
        const { status, measuredMs, estimatedMs, undone, leftPaused, notStarted } = outcome;
        logger.info({ planId, status, measuredMs, estimatedMs, undone: undone.length, leftPaused, notStarted: notStarted.length }, 'plan ended');
      },
      (err: Error) => {
        records?.notExecuted(planId, err.message);
        logger.error({ planId, err: err.message, code: (err as { code?: string }).code }, 'plan not executed');
      },
    ).finally(() => {
      settledAt = Date.now();
      if (running?.planId === planId) running = undefined;
      loop?.planEnded(last?.planId === planId ? last.status : 'not-executed');
    });
    running = { planId, done, abort };
  }

  async function apply(request: ApplyRequest): Promise<ApplyReply> {
    if (running) return { ok: false, error: { code: ControlErrorCode.Busy, message: `plan ${running.planId} is running` } };
    for (const j of request.vjobs ?? []) registry.vjobs.set(j.id, j);
    for (const vm of request.vms ?? []) {
      const state = vm.state === 'waiting' || vm.state === 'terminated' ? vm.state : undefined;
      registry.vms.set(vm.id, { id: vm.id, vjob: vm.vjob, demand: vm.demand, ...(state ? { state } : {}) });
    }
    const view = await freshView();
    const started = current();
    if (started) return { ok: false, error: { code: ControlErrorCode.Busy, message: `plan ${started.planId} is running` } };
    const planned = planApply(view, request);
    if (!planned.ok) return planned;
    const { plan } = planned;
    try {
      assertExecutable(plan, { planId: request.planId, configuration: planned.configuration, decision: planned.decision });
    } catch (err) {
      const e = err as Error & { code?: string };
      logger.error({ planId: request.planId, err: e.message, code: e.code }, 'plan not executable');
      return { ok: false, error: { code: e.code ?? ControlErrorCode.Internal, message: e.message } };
    }
    const executing = !request.dryRun && plan.actions.length > 0;
    if (executing) execute(request.planId, plan, planned.configuration, planned.decision, request.mode);
    return {
      ok: true,
      planId: request.planId,
      actions: plan.actions.map((a) => ({ ...a, dependsOn: [...a.dependsOn] })),
      steps: plan.steps,
      makespan: plan.makespan,
      sumCompletion: plan.sumCompletion,
      solveMs: plan.solveMs,
      excluded: view.excluded.map((e) => ({ ...e })),
      target: Object.fromEntries(Object.entries(plan.target).map(([vm, t]) => [vm, { ...t }])),
      executing,
    };
  }

  const subs: Subscription[] = [];
  /** Every control reply goes out in chunks (respondChunked): status, queue and apply grow with the cluster. */
  const serve = (subject: string, handle: (m: Msg) => Promise<Uint8Array> | Uint8Array) => {
    const sub = nc.subscribe(subject);
    subs.push(sub);
    void (async () => {
      for await (const m of sub) {
        Promise.resolve()
          .then(() => handle(m))
          .catch((err: Error) => {
            logger.error({ subject: m.subject, err: err.message }, 'control request failed');
            return encodeControl('applyReply', { ok: false, error: { code: ControlErrorCode.Internal, message: err.message } });
          })
          .then((reply) => respondChunked(nc, m, reply))
          .catch((err: Error) => logger.error({ subject: m.subject, err: err.message }, 'control reply not sent'));
      }
    })();
  };
  serve(s.control('status'), () => encodeControl('statusReply', statusReplyOf(monitor.view(), name, running?.planId)));
  serve(s.control('apply'), async (m) => {
    const r = decodeControl('applyRequest', m.data);
    if (!r.ok) {
      logger.warn({ subject: m.subject, ...r.error }, 'malformed apply request');
      return encodeControl('applyReply', { ok: false, error: { code: ControlErrorCode.BadRequest, message: `${r.error.field}: ${r.error.reason}`, field: r.error.field } });
    }
    const reply = await apply(r.msg);
    if (!reply.ok) logger.warn({ planId: r.msg.planId, ...reply.error }, 'apply refused');
    return encodeControl('applyReply', reply);
  });

  const queueRequests = queueRequestHandlers({
    name,
    logger,
    ...(options.queue ? { queue: options.queue } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    view: () => monitor.view(),
    planRunning: () => running !== undefined,
    trigger: (reason) => loop?.trigger(reason),
  });
  serve(s.control('submit'), (m) => queueRequests.submit(m.data));
  serve(s.control('queue'), (m) => queueRequests.queue(m.data));
  serve(s.control('cancel'), (m) => queueRequests.cancel(m.data));

  if (options.decide || (options.policy && options.queue))
    loop = startControlLoop({
      logger,
      intervalMs: options.loopIntervalMs ?? DEFAULT_LOOP_INTERVAL_MS,
      statusPeriodMs: periodMs,
      view: () => monitor.view(),
      nodes: () => monitor.nodes(),
      isFresh,
      planRunning: () => current() !== undefined || closed,
      execute: (planId, plan, configuration, decision) => execute(planId, plan, configuration, decision),
      newPlanId,
      costModel: options.costModel ?? DEFAULT_COST_MODEL,
      ...(options.policy ? { policy: options.policy } : {}),
      ...(options.queue ? { queue: options.queue } : {}),
      ...(options.decide ? { decide: options.decide } : {}),
    });

  logger.info({ controller: name, prefix: s.prefix }, 'controller started');
  return {
    registry,
    view: () => monitor.view(),
    apply,
    lastOutcome: () => last,
    idle: async () => {
      while (running) await running.done;
    },
    async close() {
      closed = true;
      loop?.close();
      running?.abort.abort(new Error('controller stopping'));
      while (running) await running.done;
      for (const sub of subs) sub.unsubscribe();
      await monitor.close();
      await records?.flushed();
      logger.info({ controller: name }, 'controller stopped');
    },
  };
}
