import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Msg, NatsConnection, Subscription } from '@nats-io/transport-node';
import { type ApplyReply, type ApplyRequest, type CommandTemplate, ControlErrorCode, decode, decodeControl, encode, encodeControl, type LedgerReply, type Logger, type Subjects, subjects as subjectsOf } from '@entropy/protocol';
import {
  type ActionTimeouts,
  executePlan,
  ExecutionMode,
  type ExecutionOutcome,
  natsTransport,
  type ObservedPlace,
  progressPublisher,
} from '../executor/index.ts';
import { MemoryJournal, type PlanJournal } from '../journal/plan-journal.ts';
import { type Configuration, type CostModel, type Decision, DEFAULT_COST_MODEL, type FeasiblePlan, type Policy } from '@entropy/engine';
import { DEFAULT_MISSED_PERIODS, MemoryRegistry, type MonitorView, startNatsMonitor } from '../monitor/index.ts';
import type { NodePowerRecord } from '../queue/queue-store.ts';
import type { VJobQueue } from '../queue/vjob-queue.ts';
import type { RetryPolicy } from '../reconcile/failure-book.ts';
import type { BusyVM } from '../reconcile/reconcile.ts';
import { type DecideFn, type ReconcileLoop, startReconcileLoop } from '../reconcile/reconcile-loop.ts';
import { applyRequest } from './apply-request.ts';
import type { BootCommandRunner } from './boot-command.ts';
import { natsNodePower } from './nats-node-power.ts';
import { nodePowerRequest } from './node-power-request.ts';
import type { LeaderLease } from './leader-lease.ts';
import { actionJournalFor } from './plan-journaling.ts';
import { respondChunked } from './nats-connect.ts';
import { closeInterruptedPlan, planRecorder } from './plan-records.ts';
import { queueRequestHandlers } from './queue-requests.ts';
import { statusReplyOf } from './status-reply.ts';

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
  /** `--boot-command`: how a node is booted (its id in `{node}`); without one, plans that boot a node are refused. */
  readonly bootCommand?: CommandTemplate;
  /** How long a boot may take until the node's agent reports (default 5 minutes). */
  readonly bootTimeoutMs?: number;
  /** Runs the boot command (tests); child processes without a shell by default. */
  readonly runBoot?: BootCommandRunner;
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
  const knownNodes = new Set(options.knownNodes ?? []);
  /** The nodes' power records (wanted states, plans' power-offs): the queue store's, read when leading starts, written through. */
  const power = new Map<string, NodePowerRecord>();
  /** The leader's part: the loop, the control subscriptions, the signal that stops its plan; absent while standing by. */
  let term: { readonly loop: ReconcileLoop; readonly subs: Subscription[]; readonly abort: AbortController; readonly token?: number } | undefined;
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
      rememberNodes(cameOnline);
      cameOnline.forEach(poweredOn);
      loop()?.trigger(wentOffline.length > 0 ? 'node-offline' : 'node-online');
    },
  });
  transport = natsTransport(nc, {
    subjects: s,
    isOffline: monitor.isOffline,
    onRejected: ({ node, subject, reason }) => logger.warn({ node, subject, reason }, 'action reply ignored: not the answer of the node the action was sent to'),
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
    onPoweredOff: (node) => {
      const capacity = monitor.nodes().find((n) => n.id === node)?.capacity ?? {};
      void updatePower(node, (r) => ({ ...r, poweredOff: { at: Date.now(), capacity } }));
    },
  });
  const publish = progressPublisher(nc, s);
  let last: ExecutionOutcome | undefined;
  let closed = false;
  /** When the last plan ended: a view is fresh once every online node has reported since. */
  let settledAt = 0;
  const records = options.queue ? planRecorder(options.queue.store, name, logger) : undefined;

  /** Nodes seen for the first time are written to the store: a restarted controller waits for them. */
  function rememberNodes(nodes: readonly string[]): void {
    const added = nodes.filter((n) => !knownNodes.has(n));
    if (added.length === 0) return;
    for (const n of added) knownNodes.add(n);
    options.queue?.store.addKnownNodes(added).catch((err: Error) => logger.warn({ nodes: added, err: err.message }, 'cannot record the known nodes'));
  }

  /** Writes a node's power record to the store and the cache; a store that fails is logged, the cache still changes. */
  async function updatePower(node: string, change: (current: NodePowerRecord | undefined) => NodePowerRecord | undefined): Promise<void> {
    const local = change(power.get(node));
    if (local && (local.wanted !== undefined || local.poweredOff !== undefined)) power.set(node, local);
    else power.delete(node);
    if (!options.queue) return;
    try {
      const stored = await options.queue.store.updateNodePower(node, change);
      if (stored) power.set(node, stored);
      else power.delete(node);
    } catch (err) {
      logger.warn({ node, err: (err as Error).message }, 'cannot record the node power state');
    }
  }

  /** A node came online: it is no longer powered off, and a wish to see it online is fulfilled. */
  function poweredOn(node: string): void {
    const r = power.get(node);
    if (!r || (r.poweredOff === undefined && r.wanted !== 'online')) return;
    void updatePower(node, (current) => (current?.wanted === 'offline' ? { wanted: 'offline' } : undefined));
  }

  const isFresh = (view: Pick<MonitorView, 'nodes'>) => view.nodes.every((n) => n.liveness !== 'online' || n.lastSeen >= settledAt);

  /**
   * The monitor's view once fresh, or after three periods at most (a node that falls silent goes
   * offline anyway). Polled on the nodes alone: a view of 100,000 VMs costs a quarter of a second.
   */
  async function freshView(): Promise<MonitorView> {
    const deadline = Date.now() + silenceMs;
    while (!isFresh({ nodes: monitor.nodes() }) && Date.now() < deadline) await delay(Math.min(50, periodMs));
    return monitor.view();
  }

  /** What the agents report of some VMs now: the executor's check for stale plans. */
  function observe(vms: readonly string[]): ReadonlyMap<string, ObservedPlace> {
    const out = new Map<string, ObservedPlace>();
    for (const vm of vms) {
      const p = monitor.placeOf(vm);
      // Crashed and unknown are no plan's expectation: reported as such, they make the plan stale.
      if (p && p.state !== 'terminated') out.set(vm, p as ObservedPlace);
    }
    return out;
  }

  async function execute(planId: string, plan: FeasiblePlan, configuration: Configuration, decision: Decision, mode?: ExecutionMode): Promise<ExecutionOutcome | undefined> {
    const executionMode = mode ?? options.mode ?? ExecutionMode.Barrier;
    const leader = term;
    if (!leader) return undefined;
    logger.info({ planId, actions: plan.actions.length, steps: plan.steps, makespan: plan.makespan, mode: executionMode, ...(leader.token !== undefined ? { token: leader.token } : {}) }, 'plan started');
    records?.started(planId, plan, executionMode);
    const actions = actionJournalFor(journal, planId, logger);
    try {
      await journal.append([{ kind: 'plan', planId, controller: name, ...(leader.token !== undefined ? { token: leader.token } : {}), mode: executionMode, actions: plan.actions.length, decision: { ...decision }, at: Date.now() }]);
      const outcome = await executePlan(plan, {
        planId,
        configuration,
        decision,
        transport,
        nodePower,
        mode: executionMode,
        timeouts: options.timeouts,
        ...(options.groupLeadMs ? { groupLeadMs: options.groupLeadMs } : {}),
        signal: leader.abort.signal,
        ...(leader.token !== undefined ? { token: leader.token } : {}),
        journal: actions,
        observe,
        onEvent: (e) => {
          publish(e);
          if (e.kind === 'action-done') monitor.observeResult(e.action.vm, e.after);
          if (e.kind === 'action-failed') logger.warn({ planId, actionId: e.wireId, vm: e.action.vm, type: e.action.type, ...e.error }, 'action failed');
          if (e.kind === 'node-action-failed') logger.warn({ planId, actionId: e.wireId, node: e.nodeAction.node, type: e.nodeAction.type, ...e.error }, 'node action failed');
        },
      });
      last = outcome;
      records?.ended(planId, outcome);
      registry.settle(outcome.observed);
      const { status, measuredMs, estimatedMs, undone, leftPaused, notStarted, staleReason } = outcome;
      logger.info({ planId, status, measuredMs, estimatedMs, undone: undone.length, leftPaused, notStarted: notStarted.length, ...(staleReason ? { staleReason } : {}) }, 'plan ended');
      await actions.flushed();
      await journal.append([{ kind: 'end', planId, status, at: Date.now() }]).catch((err: Error) => logger.warn({ planId, err: err.message }, 'journal: cannot record the plan\'s end'));
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
    if (!l) return { ok: false, error: { code: ControlErrorCode.Busy, message: `controller ${name} is not the leader (or is stopping)` } };
    if (!options.queue) {
      // Without a queue store the operator's vjobs are known to this process only.
      for (const j of request.vjobs ?? []) registry.vjobs.set(j.id, j);
      for (const vm of request.vms ?? []) {
        const state = vm.state === 'waiting' || vm.state === 'terminated' ? vm.state : undefined;
        registry.vms.set(vm.id, { id: vm.id, vjob: vm.vjob, demand: vm.demand, ...(state ? { state } : {}) });
      }
    }
    return applyRequest({ loop: l, ...(options.queue ? { queue: options.queue } : {}), ...(options.costModel ? { costModel: options.costModel } : {}), freshView }, request);
  }

  const queueRequests = queueRequestHandlers({
    name,
    logger,
    ...(options.queue ? { queue: options.queue } : {}),
    ...(options.policy ? { policy: options.policy } : {}),
    view: () => monitor.view(),
    planRunning: () => loop()?.running() !== undefined,
    trigger: (reason) => loop()?.trigger(reason),
  });

  /** The control subjects, served while leading only: a standby answers nothing, so clients reach the leader. */
  function serveControl(): Subscription[] {
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
    serve(s.control('status'), () => encodeControl('statusReply', statusReplyOf(monitor.view(), name, loop()?.running(), power)));
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
    serve(s.control('submit'), (m) => queueRequests.submit(m.data));
    serve(s.control('queue'), (m) => queueRequests.queue(m.data));
    serve(s.control('cancel'), (m) => queueRequests.cancel(m.data));
    serve(s.control('node'), (m) =>
      nodePowerRequest(
        {
          logger,
          leading: () => term !== undefined,
          view: () => monitor.view(),
          records: () => power,
          knownNodes: () => knownNodes,
          unsupported: (state) => nodePower.unsupported(state === 'online' ? 'bootNode' : 'shutdownNode'),
          update: updatePower,
          requested: (node) => loop()?.nodeRequested(node),
        },
        m.data,
      ),
    );
    return subs;
  }

  let annotating: NodeJS.Timeout | undefined;
  /** When each VM's metadata was last sent, so that an agent slow to report it is not flooded. */
  const annotated = new Map<string, number>();
  /** Tells agents the vjob and demand of the VMs they report without them (a VM that arrived by live migration). */
  function annotate(token: number | undefined): void {
    const now = Date.now();
    for (const [node, vms] of monitor.unannotated()) {
      const due = vms.filter((v) => now - (annotated.get(v.vm) ?? 0) > 10 * periodMs);
      if (due.length === 0) continue;
      for (const v of due) annotated.set(v.vm, now);
      const msg = { vms: due.map((v) => ({ vm: v.vm, vjob: v.vjob, demand: { ...v.demand, cpu: v.demand.cpu ?? 0, mem: v.demand.mem ?? 0 } })), ...(token !== undefined ? { token } : {}) };
      nc.request(s.nodeMeta(node), encode('vmMeta', msg), { timeout: 2000 }).then(
        (m) => {
          const r = decode('vmMetaAck', m.data);
          if (r.ok && r.msg.updated > 0) logger.info({ node, vms: due.map((v) => v.vm) }, 'told an agent the vjob and demand of VMs it reported without them');
        },
        () => undefined,
      );
    }
  }

  /** One agent's ledger entries for some action ids (journaled intents of an interrupted plan). */
  async function askLedger(node: string, actionIds: readonly string[]): Promise<LedgerReply['entries'] | undefined> {
    const m = await nc.request(s.nodeLedger(node), encode('ledgerQuery', { actionIds: [...actionIds] }), { timeout: 2000 }).catch(() => undefined);
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
      for (const n of await options.queue.store.knownNodes()) knownNodes.add(n);
      power.clear();
      for (const [n, r] of Object.entries(await options.queue.store.nodePower())) power.set(n, r);
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
        rememberNodes(view.nodes.filter((n) => n.liveness === 'online').map((n) => n.id));
        return view;
      },
      nodes: () => monitor.nodes(),
      isFresh,
      busy,
      // Nodes a plan powered off are not waited for: they report again only once booted.
      knownNodes: () => [...knownNodes].filter((n) => power.get(n)?.poweredOff === undefined),
      nodePower,
      nodeWants: () => {
        const wanted: Record<string, 'online' | 'offline'> = {};
        const poweredOff: Record<string, Readonly<Record<string, number>>> = {};
        for (const [n, r] of power) {
          if (r.wanted !== undefined) wanted[n] = r.wanted;
          if (r.poweredOff !== undefined) poweredOff[n] = r.poweredOff.capacity;
        }
        return { wanted, poweredOff };
      },
      execute,
      newPlanId,
      costModel: options.costModel ?? DEFAULT_COST_MODEL,
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.policy ? { policy: options.policy } : {}),
      ...(options.queue ? { queue: options.queue } : {}),
      ...(options.decide ? { decide: options.decide } : {}),
    });
    term = { loop: l, subs, abort, ...(token !== undefined ? { token } : {}) };
    annotating = setInterval(() => annotate(token), periodMs);
    logger.info({ controller: name, prefix: s.prefix, ...(token !== undefined ? { token } : {}) }, token !== undefined ? 'leading: this controller plans and executes' : 'controller leading');
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
    transitions = transitions.then(fn).catch((err: Error) => logger.error({ err: err.message }, 'leadership change failed'));
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
    lastOutcome: () => last,
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
