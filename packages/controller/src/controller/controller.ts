import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import {
  type ApplyReply,
  type ApplyRequest,
  type CommandTemplate,
  ControlErrorCode,
  decode,
  encode,
  type LedgerReply,
  type Logger,
  type Subjects,
  subjects as subjectsOf,
} from '@entropy/protocol';
import {
  type ActionTimeouts,
  ExecutionMode,
  type ExecutionOutcome,
  natsTransport,
  progressPublisher,
} from '../executor/index.ts';
import { MemoryJournal, type PlanJournal } from '../journal/plan-journal.ts';
import { journaledMigrations } from '../journal/journaled-migrations.ts';
import {
  type Configuration,
  type ConstraintJson,
  type CostModel,
  type Decision,
  DEFAULT_COST_MODEL,
  type FeasiblePlan,
  type Policy,
} from '@entropy/engine';
import { DEFAULT_MISSED_PERIODS, MemoryRegistry, type MonitorView, startNatsMonitor } from '../monitor/index.ts';
import type { VJobQueue } from '../queue/vjob-queue.ts';
import type { RetryPolicy } from '../reconcile/failure-book.ts';
import type { BusyVM } from '../reconcile/reconcile.ts';
import type { TurnBudgets } from '../reconcile/budget-defaults.ts';
import { type DecideFn, type ReconcileLoop, startReconcileLoop } from '../reconcile/reconcile-loop.ts';
import { applyRequest } from './apply-request.ts';
import type { BootCommandRunner } from './boot-command.ts';
import { natsNodePower } from './nats-node-power.ts';
import { NodeBook } from './node-book.ts';
import { vmMetaSender } from './vm-meta-sender.ts';
import { serveControlSubjects } from './control-subjects.ts';
import { reviewRequestHandlers } from './review-requests.ts';
import { explainRequest } from './explain-request.ts';
import type { LeaderLease } from './leader-lease.ts';
import { planRunner } from './plan-runner.ts';
import { closeInterruptedPlan, planRecorder } from './plan-records.ts';
import { queueRequestHandlers } from './queue-requests.ts';

export type { DecideFn } from '../reconcile/reconcile-loop.ts';

export interface ControllerOptions {
  readonly prefix?: string;
  readonly name?: string;
  readonly logger: Logger;
  /** The agents' status period; a node silent for three periods is offline. */
  readonly statusPeriodMs?: number;
  /** A raw policy hook (tests): its decision is an overlay of every turn. */
  readonly decide?: DecideFn;
  /** The loop's policy over the vjob queue. */
  readonly policy?: Policy;
  /** The vjob queue served on the submit, queue and cancel subjects, and the operator's vjobs. */
  readonly queue?: VJobQueue;
  /** How often the loop looks when nothing asks it to (default 5 s). */
  readonly loopIntervalMs?: number;
  readonly mode?: ExecutionMode;
  readonly timeouts?: Partial<ActionTimeouts>;
  readonly costModel?: CostModel;
  /** The executor's lead before a vjob's pauses or unpauses start together (ExecuteOptions.groupLeadMs). */
  readonly groupLeadMs?: number;
  /** Where each action's intent and result are written (default: memory). */
  readonly journal?: PlanJournal;
  readonly retry?: RetryPolicy;
  /** The nodes the cluster is known to have, from the queue store: turns wait until each has reported once. */
  readonly knownNodes?: readonly string[];
  /**
   * Leadership among the controllers of one prefix: the controller plans, executes and answers
   * control requests only while it holds the lease, and sends its fencing token with every action.
   * Without one it leads from the start.
   */
  readonly lease?: LeaderLease;
  /** The cluster's constraints (`--constraints FILE`, as last read): every turn resolves, plans and verifies under them. */
  readonly constraints?: () => readonly ConstraintJson[];
  /** `--boot-command`: how a node is booted (its id in `{node}`); without one, plans that boot a node are refused. */
  readonly bootCommand?: CommandTemplate;
  /** How long a boot may take until the node's agent reports (default 5 minutes). */
  readonly bootTimeoutMs?: number;
  /** Runs the boot command (tests); child processes without a shell by default. */
  readonly runBoot?: BootCommandRunner;
  /** `--approve`: the control loop proposes plans and executes one once `entropy approve` says so. */
  readonly approve?: boolean;
  /** The loop's anti-thrash budgets (reconcile/budgets.ts); none when absent. */
  readonly budgets?: TurnBudgets;
}

export interface Controller {
  readonly registry: MemoryRegistry;
  /** True while this controller leads (always, without a lease). */
  leading(): boolean;
  view(): MonitorView;
  /** Plans an apply request in a turn of the loop and starts its plan; resolves once the plan is computed (or refused). */
  apply(request: ApplyRequest): Promise<ApplyReply>;
  /** The last execution's outcome, once it ended. */
  lastOutcome(): ExecutionOutcome | undefined;
  /** The cluster's constraints changed (a reloaded file): the loop looks at once. */
  constraintsChanged(): void;
  idle(): Promise<void>;
  close(): Promise<void>;
}

export const DEFAULT_LOOP_INTERVAL_MS = 5000;

export function newPlanId(prefix = 'p'): string {
  return `${prefix}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * The controller: the monitor, the control subjects, the executor, and the reconcile loop that
 * every change of the cluster goes through (policy turns, applies, cancels, repairs after a fault).
 */
export function startController(nc: NatsConnection, options: ControllerOptions): Controller {
  const { logger } = options;
  const s: Subjects = subjectsOf(options.prefix);
  const name = options.name ?? `entropy-controller-${process.pid}`;
  const periodMs = options.statusPeriodMs ?? 2000;
  const silenceMs = periodMs * DEFAULT_MISSED_PERIODS;
  const journal = options.journal ?? new MemoryJournal();
  const registry = new MemoryRegistry();
  options.queue?.attach(registry);
  const nodes = new NodeBook(logger, options.queue?.store, options.knownNodes);
  /** The leader's part: the loop, the control subscriptions, the signal that stops its plan; absent while standing by. */
  let term:
    | {
        readonly loop: ReconcileLoop;
        readonly subs: Subscription[];
        readonly abort: AbortController;
        readonly token?: number;
      }
    | undefined;
  const loop = () => term?.loop;
  let transport: ReturnType<typeof natsTransport>;
  const monitor = startNatsMonitor(nc, {
    subjects: s,
    name,
    logger,
    registry,
    periodMs,
    // An agent that reconnected (maybe to another server of a cluster) gets its pending actions again.
    onHello: (node, again) => void (again && transport.resend(node)),
    onLiveness: ({ wentOffline, cameOnline }) => {
      wentOffline.forEach((node) => transport.nodeLost(node));
      nodes.remember(cameOnline);
      for (const node of cameOnline) nodes.poweredOn(node);
      loop()?.trigger(wentOffline.length > 0 ? 'node-offline' : 'node-online');
    },
  });
  transport = natsTransport(nc, {
    subjects: s,
    isOffline: monitor.isOffline,
    onRejected: ({ node, subject, reason }) =>
      logger.warn({ node, subject, reason }, 'action reply ignored: not the answer of the node the action was sent to'),
  });
  // Replies sent while this connection was away reached nobody: the pending actions go again.
  void (async () => {
    for await (const st of nc.status()) {
      if (st.type !== 'reconnect') continue;
      logger.info({ server: nc.getServer() }, 'reconnected to NATS; pending actions sent again');
      transport.resend();
    }
  })();
  const nodePower = natsNodePower(nc, {
    subjects: s,
    monitor,
    logger,
    ...(options.bootCommand ? { bootCommand: options.bootCommand } : {}),
    ...(options.bootTimeoutMs !== undefined ? { bootTimeoutMs: options.bootTimeoutMs } : {}),
    ...(options.runBoot ? { runBoot: options.runBoot } : {}),
    onPoweredOff: (node) => nodes.poweredOff(node, monitor.nodes().find((n) => n.id === node)?.capacity ?? {}),
  });
  const publish = progressPublisher(nc, s);
  let closed = false;
  const records = options.queue ? planRecorder(options.queue.store, name, logger) : undefined;

  const isFresh = (view: Pick<MonitorView, 'nodes'>) =>
    view.nodes.every((n) => n.liveness !== 'online' || n.lastSeen >= runner.settledAt());

  /**
   * The monitor's view once fresh, or after three periods at most (a node that falls silent goes
   * offline anyway). Polled on the nodes alone: a view of 100,000 VMs costs a quarter of a second.
   */
  async function freshView(): Promise<MonitorView> {
    const deadline = Date.now() + silenceMs;
    while (!isFresh({ nodes: monitor.nodes() }) && Date.now() < deadline) await delay(Math.min(50, periodMs));
    return monitor.view();
  }

  const runner = planRunner({
    name,
    logger,
    journal,
    records,
    transport,
    nodePower,
    monitor,
    registry,
    publish,
    ...(options.timeouts ? { timeouts: options.timeouts } : {}),
    ...(options.groupLeadMs ? { groupLeadMs: options.groupLeadMs } : {}),
    leader: () => term,
  });
  const execute = (
    planId: string,
    plan: FeasiblePlan,
    configuration: Configuration,
    decision: Decision,
    mode?: ExecutionMode,
  ) =>
    runner.run({ planId, plan, configuration, decision, executionMode: mode ?? options.mode ?? ExecutionMode.Barrier });

  /**
   * VMs the agents report an action in flight on (an action a killed controller sent, or anyone's):
   * the loop leaves their vjobs alone until it ends, and a VM arriving on a node by a run or a
   * resume takes its room there meanwhile.
   */
  function busy(): BusyVM[] {
    return monitor.actionsInFlight().map((a) => {
      const demand = a.type === 'run' || a.type === 'resume' ? registry.vms.get(a.vm)?.demand : undefined;
      return { vm: a.vm, node: a.node, actionId: a.actionId, ...(demand ? { demand } : {}) };
    });
  }

  async function apply(request: ApplyRequest): Promise<ApplyReply> {
    const l = loop();
    if (!l)
      return {
        ok: false,
        error: { code: ControlErrorCode.Busy, message: `controller ${name} is not the leader (or is stopping)` },
      };
    if (!options.queue) {
      // Without a queue store the operator's vjobs are known to this process only.
      for (const j of request.vjobs ?? []) registry.vjobs.set(j.id, j);
      for (const vm of request.vms ?? []) {
        const state = vm.state === 'waiting' || vm.state === 'terminated' ? vm.state : undefined;
        registry.vms.set(vm.id, { id: vm.id, vjob: vm.vjob, demand: vm.demand, ...(state ? { state } : {}) });
      }
    }
    return applyRequest(
      {
        loop: l,
        ...(options.queue ? { queue: options.queue } : {}),
        ...(options.costModel ? { costModel: options.costModel } : {}),
        freshView,
      },
      request,
    );
  }

  const queueRequests = queueRequestHandlers({
    name,
    logger,
    ...(options.queue ? { queue: options.queue } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    view: () => monitor.view(),
    planRunning: () => loop()?.running() !== undefined,
    trigger: (reason) => loop()?.trigger(reason),
    lastTurn: () => loop()?.lastTurn(),
  });

  const review = reviewRequestHandlers({
    name,
    logger,
    loop,
    ...(options.queue ? { queue: options.queue } : {}),
    approve: options.approve === true,
  });

  /** The control subjects, served while leading only: a standby answers nothing, so clients reach the leader. */
  const serveControl = () =>
    serveControlSubjects({
      nc,
      subjects: s,
      name,
      logger,
      view: () => monitor.view(),
      runningPlan: () => loop()?.running(),
      leading: () => term !== undefined,
      apply,
      queueRequests,
      nodes,
      powerUnsupported: (state) => nodePower.unsupported(state === 'online' ? 'bootNode' : 'shutdownNode'),
      nodeRequested: (node) => loop()?.nodeRequested(node),
      review,
      explain: (data) =>
        explainRequest(
          {
            name,
            logger,
            ...(options.queue ? { queue: options.queue } : {}),
            ...(options.policy ? { policy: options.policy } : {}),
            view: () => monitor.view(),
            lastTurn: () => loop()?.lastTurn(),
          },
          data,
        ),
    });

  let annotating: NodeJS.Timeout | undefined;
  const annotate = vmMetaSender(nc, s, monitor, logger, periodMs);

  /** One agent's ledger entries for some action ids (journaled intents of an interrupted plan). */
  async function askLedger(node: string, actionIds: readonly string[]): Promise<LedgerReply['entries'] | undefined> {
    const m = await nc
      .request(s.nodeLedger(node), encode('ledgerQuery', { actionIds: [...actionIds] }), { timeout: 2000 })
      .catch(() => undefined);
    if (!m) return undefined;
    const r = decode('ledgerReply', m.data);
    return r.ok && !r.msg.error ? r.msg.entries : undefined;
  }

  /**
   * Takes over: reads the queue store again (the previous leader wrote to it), closes the previous
   * leader's plan from the journal, serves the control subjects and starts the loop. Nothing of the
   * previous leader's plan is replayed: the loop plans from what the agents report.
   */
  async function lead(token: number | undefined): Promise<void> {
    if (options.queue) {
      await options.queue.reload();
      await nodes.reload();
      await closeInterruptedPlan(options.queue.store, logger, journal, askLedger);
    }
    if (closed) return;
    const abort = new AbortController();
    const subs = serveControl();
    const l = startReconcileLoop({
      logger,
      intervalMs: options.loopIntervalMs ?? DEFAULT_LOOP_INTERVAL_MS,
      statusPeriodMs: periodMs,
      silenceMs,
      view: () => {
        const view = monitor.view();
        nodes.remember(view.nodes.filter((n) => n.liveness === 'online').map((n) => n.id));
        return view;
      },
      nodes: () => monitor.nodes(),
      isFresh,
      busy,
      // Nodes a plan powered off are not waited for: they report again only once booted.
      knownNodes: () => nodes.awaited(),
      nodePower,
      nodeWants: () => nodes.wants(),
      execute,
      newPlanId,
      costModel: options.costModel ?? DEFAULT_COST_MODEL,
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.policy ? { policy: options.policy } : {}),
      ...(options.queue ? { queue: options.queue } : {}),
      ...(options.decide ? { decide: options.decide } : {}),
      ...(options.approve ? { approve: true } : {}),
      ...(options.budgets ? { budgets: options.budgets } : {}),
      ...(options.constraints ? { constraints: options.constraints } : {}),
    });
    term = { loop: l, subs, abort, ...(token !== undefined ? { token } : {}) };
    const holdMs = options.budgets?.moveHoldMs ?? 0;
    if (holdMs > 0)
      // In the background: the loop must not wait for the journal to start; a hold learnt a little late only damps later.
      journaledMigrations(journal, Date.now() - holdMs)
        .then((moved) => {
          l.rememberMoves(moved);
          if (moved.length > 0)
            logger.info({ vms: moved.length }, 'budgets: migrations within the hold time read from the journal');
        })
        .catch((err: Error) =>
          logger.warn({ err: err.message }, 'budgets: cannot read recent migrations from the journal'),
        );
    annotating = setInterval(() => annotate(token), periodMs);
    logger.info(
      { controller: name, prefix: s.prefix, ...(token !== undefined ? { token } : {}) },
      token !== undefined ? 'leading: this controller plans and executes' : 'controller leading',
    );
  }

  /** Stops leading: no new action starts, the running ones end, the loop and the control subjects stop. */
  async function standBy(why: string): Promise<void> {
    const t = term;
    if (!t) return;
    term = undefined;
    clearInterval(annotating);
    t.abort.abort(new Error(why));
    for (const sub of t.subs) sub.unsubscribe();
    await t.loop.close();
    await t.loop.idle();
  }

  // Leadership changes are applied one at a time, in order.
  let transitions: Promise<void> = Promise.resolve();
  const transition = (fn: () => Promise<void>) => {
    transitions = transitions
      .then(fn)
      .catch((err: Error) => logger.error({ err: err.message }, 'leadership change failed'));
    return transitions;
  };
  const lease = options.lease;
  if (lease) {
    lease.onChange((state) => {
      if (state.leading && !term) void transition(() => lead(state.token));
      else if (!state.leading && term) {
        logger.warn({ controller: name, leader: state.holder }, 'lost the leader lease: standing by');
        void transition(() => standBy('lost the leader lease'));
      }
    });
    if (lease.isLeader()) void transition(() => lead(lease.token()));
    else logger.info({ controller: name, leader: lease.current().holder }, 'standing by: another controller leads');
  } else void transition(() => lead(undefined));

  logger.info({ controller: name, prefix: s.prefix }, 'controller started');
  return {
    registry,
    leading: () => term !== undefined,
    view: () => monitor.view(),
    apply,
    lastOutcome: () => runner.last(),
    constraintsChanged: () => loop()?.trigger('constraints'),
    idle: async () => {
      await transitions;
      await loop()?.idle();
    },
    async close() {
      if (closed) return;
      closed = true;
      await transition(() => standBy('controller stopping'));
      await monitor.close();
      await records?.flushed();
      logger.info({ controller: name }, 'controller stopped');
    },
  };
}
