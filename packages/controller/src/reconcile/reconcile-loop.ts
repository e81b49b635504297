import { ControlErrorCode, type Logger } from '@entropy/protocol';
import { assertExecutable, type ExecutionMode, type ExecutionOutcome, type NodePower } from '../executor/index.ts';
import type {
  Configuration,
  ConstraintJson,
  CostModel,
  Decision,
  FeasiblePlan,
  NodeState,
  Policy,
  Resources,
} from '@entropy/engine';
import type { MonitorView, NodeView } from '../monitor/index.ts';
import type { VJobQueue } from '../queue/vjob-queue.ts';
import {
  DEFAULT_RETRY_POLICY,
  type FailureBook,
  failureVerdict,
  recordFailures,
  type RetryPolicy,
} from './failure-book.ts';
import { type NodeFailureBook, recordNodeFailures } from './node-wants.ts';
import {
  type BusyVM,
  type HeldVjob,
  reconcile,
  type ReconcileInput,
  type ReconcileResult,
  TurnOutcome,
} from './reconcile.ts';
import type { TurnBudgets } from './budgets.ts';
import { budgetNews, MoveMemory } from './move-memory.ts';
import { describeVjobOutcomes, failedTransitions } from './vjob-outcomes.ts';
import { observeVjobs } from './vjob-states.ts';
import { ProposalBook, type Proposal, type Rejected } from '../review/proposal-book.ts';
import { checkReviewed, type ReviewCheck, type ReviewedPlan } from '../review/reviewed-plan.ts';

/** A test's raw policy hook: the wanted state of some vjobs, or undefined for none. */
export type DecideFn = (configuration: Configuration, view: MonitorView) => Decision | undefined;

/** What the loop needs from the controller around it. */
export interface ReconcileLoopDeps {
  readonly logger: Logger;
  readonly intervalMs: number;
  readonly statusPeriodMs: number;
  /** How long a node may be silent before it is offline. */
  readonly silenceMs: number;
  view(): MonitorView;
  /** The view's nodes alone, cheaper than a view: freshness is checked on them first. */
  nodes?(): readonly NodeView[];
  /** True once every online node has reported since the last plan ended. */
  isFresh(view: Pick<MonitorView, 'nodes'>): boolean;
  /** VMs the agents report an action in flight on. */
  busy(): readonly BusyVM[];
  /** Every node the cluster is known to have (durable across controller restarts). */
  knownNodes(): readonly string[];
  /**
   * Starts executing a plan the verifier accepted; resolves with its outcome once it ends, or
   * undefined when it could not start at all (then the error is logged by the controller).
   */
  execute(
    planId: string,
    plan: FeasiblePlan,
    configuration: Configuration,
    decision: Decision,
    mode?: ExecutionMode,
  ): Promise<ExecutionOutcome | undefined>;
  newPlanId(prefix: string): string;
  readonly costModel: CostModel;
  readonly retry?: RetryPolicy;
  readonly policy?: Policy;
  readonly queue?: VJobQueue;
  readonly decide?: DecideFn;
  readonly now?: () => number;
  /** What boots and shuts nodes down: the loop plans a node's wanted state only when it can. */
  readonly nodePower?: Pick<NodePower, 'unsupported'>;
  /** The cluster's constraints file, as last read. */
  constraints?(): readonly ConstraintJson[];
  /** The node states operators want, and the nodes plans powered off (the queue store's power records). */
  nodeWants?(): {
    readonly wanted: Readonly<Record<string, NodeState>>;
    readonly poweredOff: Readonly<Record<string, Resources>>;
    readonly drained?: readonly string[];
  };
  /** `entropy controller --approve`: the loop proposes its plans and executes one only once approved. */
  readonly approve?: boolean;
  /** Anti-thrash budgets of the loop's own turns (budgets.ts); an operator's apply is not held by them. None when absent. */
  readonly budgets?: TurnBudgets;
}

/** A reviewed plan to execute (`entropy apply --plan`, `entropy approve`): checked against the cluster first. */
export interface ReviewedRun {
  /** The execution's id (the proposal's own, or a new one for a saved plan). */
  readonly planId: string;
  readonly reviewed: ReviewedPlan;
  readonly skip?: readonly string[];
  readonly mode?: ExecutionMode;
}

export type ReviewedReply =
  | { readonly ok: true; readonly plan: FeasiblePlan; readonly executing: boolean }
  | { readonly ok: false; readonly busy: string }
  | Extract<ReviewCheck, { ok: false }>;

/** A turn asked for by an operator (`entropy apply`): its overlay, its plan's id and options. */
export interface TurnRequest {
  readonly planId: string;
  readonly overlay: Decision;
  readonly mode?: ExecutionMode;
  readonly costModel?: CostModel;
  readonly timeLimitMs?: number;
  /** Plan only. */
  readonly dryRun?: boolean;
  /** Constraints of this turn only (an instance file's, given to `entropy apply`), with the cluster's. */
  readonly constraints?: readonly ConstraintJson[];
}

export interface LastTurn {
  readonly at: number;
  readonly result: ReconcileResult;
}

export type TurnReply =
  | {
      readonly ok: true;
      readonly result: ReconcileResult;
      readonly executing: boolean;
      /** The configuration the turn observed (a dry run's plan is saved with it). */
      readonly observed?: Configuration;
    }
  | { readonly ok: false; readonly busy: string };

export interface ReconcileLoop {
  /** Asks for a turn; triggers during a turn or a plan are coalesced into one next turn. */
  trigger(reason: string): void;
  /** Runs a turn now (after the one in progress), with an overlay: how `apply` plans. */
  turnNow(request: TurnRequest): Promise<TurnReply>;
  /** The plan being executed, if any. */
  running(): string | undefined;
  /** Resolves once no plan runs. */
  idle(): Promise<void>;
  readonly failures: () => FailureBook;
  /** Forgets a node's failed power actions (an operator asked again) and looks at once. */
  nodeRequested(node: string): void;
  /** Migrations made before this loop started (the plan journal's): the budgets' hold time covers them too. */
  rememberMoves(migrations: readonly { readonly vm: string; readonly at: number }[]): void;
  /** Executes a reviewed plan if the cluster still matches it (review/reviewed-plan.ts), after the turn in progress. */
  runReviewed(run: ReviewedRun): Promise<ReviewedReply>;
  /** `--approve` mode: the plan waiting for approval, and the rejected plans that still stand. */
  proposals(): { readonly pending: readonly Proposal[]; readonly rejected: readonly Rejected[] };
  /** Executes a proposal; one that no longer matches the cluster is dropped and a new one proposed. */
  approve(id: string, mode?: ExecutionMode): Promise<ReviewedReply | { readonly ok: false; readonly unknown: string }>;
  /** Drops a proposal: it is not proposed again until what is wanted or observed changes. */
  reject(id: string): boolean;
  /** The last turn that saw every node (its result and when it ran): what `entropy explain` explains. */
  lastTurn(): LastTurn | undefined;
  close(): Promise<void>;
}

/**
 * The thin imperative shell around `reconcile`: it runs one turn at a time on its triggers (a
 * timer, submissions, cancels, applies, node changes, plan ends, agents' reports of a vjob's
 * change), hands a plan to the executor, one plan at a time, and records the vjobs whose actions
 * failed so that the next turns back them off. Every turn starts from fresh observation; nothing
 * of a plan in progress is remembered beyond the failures it left.
 */
export function startReconcileLoop(deps: ReconcileLoopDeps): ReconcileLoop {
  const { logger } = deps;
  const now = deps.now ?? Date.now;
  const retry = deps.retry ?? DEFAULT_RETRY_POLICY;
  const startedAt = now();
  const pending = new Set<string>();
  /** Reasons of turns put off until the agents' statuses are fresh: told with the turn that runs. */
  const deferred = new Set<string>();
  let turnInProgress: Promise<unknown> = Promise.resolve();
  let draining = false;
  let closed = false;
  let turns = 0;
  let plans = 0;
  let lastGood: Decision = {};
  let last: LastTurn | undefined;
  let failures: FailureBook = new Map();
  let nodeFailures: NodeFailureBook = new Map();
  let running: { planId: string; done: Promise<void> } | undefined;
  let wake: NodeJS.Timeout | undefined;
  let wakeAt = Infinity;
  const book = new ProposalBook();
  const moves = new MoveMemory(deps.budgets?.moveHoldMs ?? 0);
  let budgetHeld = '';

  /** One timer for the soonest look anybody asked for. */
  const lookAgainIn = (reason: string, ms: number) => {
    if (closed) return;
    const at = now() + Math.max(0, ms);
    if (wake && at >= wakeAt) return;
    if (wake) clearTimeout(wake);
    wakeAt = at;
    wake = setTimeout(
      () => {
        wake = undefined;
        wakeAt = Infinity;
        trigger(reason);
      },
      Math.max(0, ms),
    );
  };

  function trigger(reason: string): void {
    if (closed) return;
    pending.add(reason);
    if (!draining) void drain();
  }

  /** Serializes turns: `fn` runs after the turn in progress. */
  function serialized<T>(fn: () => Promise<T>): Promise<T> {
    const next = turnInProgress.then(fn, fn);
    turnInProgress = next.catch(() => undefined);
    return next;
  }

  async function drain(): Promise<void> {
    draining = true;
    try {
      while (pending.size > 0 && !closed) {
        if (running) return; // the plan's end triggers the next turn, with these reasons still pending
        const reasons = [...new Set([...deferred, ...pending])];
        pending.clear();
        deferred.clear();
        await serialized(() => turn(reasons)).catch((err: Error) => {
          logger.error({ triggers: reasons, err: err.message }, 'control loop turn failed');
          lookAgainIn('after-error', deps.intervalMs);
        });
      }
    } finally {
      draining = false;
    }
  }

  /** Observes, reconciles, and starts the plan of the difference; returns the result for `apply`. */
  async function turn(triggers: string[], request?: TurnRequest): Promise<TurnReply> {
    if (running) return { ok: false, busy: running.planId };
    // After a plan the loop waits for every node's next status: checked on the nodes alone first, a view of every VM costs more.
    const fresh = () => deps.isFresh({ nodes: deps.nodes ? deps.nodes() : deps.view().nodes });
    if (!fresh()) {
      for (const r of triggers) deferred.add(r);
      lookAgainIn('fresh-status', Math.max(50, deps.statusPeriodMs / 4));
      if (!request) return { ok: false, busy: 'fresh-status' };
      await waitFresh(fresh);
    }
    let view = deps.view();
    const n = ++turns;
    // When the store changed what the monitor plans with (an ended vjob's VMs, a VM first seen started), look again.
    if (deps.queue && (await deps.queue.reconcile(view, { mayEnd: now() - startedAt >= deps.silenceMs, now: now() })))
      view = deps.view();
    const overlay = { ...(deps.decide?.(view.configuration, view) ?? {}), ...(request?.overlay ?? {}) };
    const input: ReconcileInput = {
      view,
      now: now(),
      knownNodes: deps.knownNodes(),
      startedAt,
      statusPeriodMs: deps.statusPeriodMs,
      silenceMs: deps.silenceMs,
      vjobs: deps.queue?.list() ?? [],
      ...(deps.policy ? { policy: deps.policy } : {}),
      lastGood,
      overlay,
      failures,
      retry,
      busy: deps.busy(),
      costModel: request?.costModel ?? deps.costModel,
      ...(request?.timeLimitMs !== undefined ? { timeLimitMs: request.timeLimitMs } : {}),
      intervalMs: deps.intervalMs,
      ...(deps.budgets && !request ? { budgets: deps.budgets, recentMoves: moves.since(now()) } : {}),
      ...(deps.constraints || request?.constraints
        ? { constraints: [...(deps.constraints?.() ?? []), ...(request?.constraints ?? [])] }
        : {}),
      ...(deps.nodeWants
        ? {
            nodes: {
              ...deps.nodeWants(),
              failures: nodeFailures,
              unsupported: (state: NodeState) => unsupported(state),
            },
          }
        : {}),
    };
    let result = reconcile(input);
    // --approve: a vjob caught with its VMs in different states (a crash, a failed action) is put back in one state
    // without waiting for an operator; only that repair runs, the rest is proposed by the next turn.
    let repairing = false;
    if (deps.approve && !request && [...result.observed.values()].some((o) => o.state === 'mixed')) {
      const { nodes: _powerWants, ...withoutPower } = input;
      const repair = reconcile({ ...withoutPower, repairOnly: true });
      if (repair.plan && Object.keys(repair.decision).length > 0) {
        result = repair;
        repairing = true;
        logger.info({ turn: n, decision: repair.decision }, 'repairing vjobs in mixed states without approval');
      }
    }
    failures = result.failures;
    if (result.nodeFailures) nodeFailures = result.nodeFailures;
    if (result.outcome !== TurnOutcome.WaitingForNodes && !request?.dryRun) last = { at: now(), result };
    if (result.policyError)
      logger.error(
        { turn: n, policy: deps.policy?.name, code: result.policyError.code, err: result.policyError.message },
        'policy failed: the loop keeps the last good decision',
      );
    else if (result.policyDecision) lastGood = result.policyDecision;
    const entry = {
      turn: n,
      triggers,
      ...(deps.policy ? { policy: deps.policy.name } : {}),
      decision: result.decision,
      ...(result.held.length ? { held: result.held } : {}),
      ...(result.deferred.length ? { deferred: result.deferred } : {}),
      ...(result.reasons.length ? { reasons: result.reasons } : {}),
    };
    lookAgainIn('requeue', result.requeueAfterMs);
    // A budget's hold is told once, and again when it changes.
    const news = budgetNews(result.held, budgetHeld);
    budgetHeld = news.key;
    const plan = result.plan;
    if (deps.approve && !request && !repairing) {
      if (!plan) book.withdraw();
      else return propose(plan, result, view.configuration, entry);
    }
    if (!plan || request?.dryRun) {
      const quiet =
        result.outcome === TurnOutcome.NoChange &&
        triggers.every((r) => r === 'requeue' || r === 'timer') &&
        !news.changed;
      const level =
        result.outcome === TurnOutcome.Infeasible
          ? 'warn'
          : quiet || result.outcome === TurnOutcome.WaitingForNodes
            ? 'debug'
            : 'info';
      logger[level]({ ...entry, outcome: request?.dryRun && plan ? 'dry-run' : result.outcome }, 'control loop turn');
      return { ok: true, result, executing: false, observed: view.configuration };
    }
    const planId = request?.planId ?? deps.newPlanId(`loop${++plans}`);
    const byType: Record<string, number> = {};
    for (const a of [...plan.actions, ...(plan.nodeActions ?? [])]) byType[a.type] = (byType[a.type] ?? 0) + 1;
    const planned = {
      ...entry,
      planId,
      actions: plan.actions.length + (plan.nodeActions?.length ?? 0),
      byType,
      steps: plan.steps,
      makespan: plan.makespan,
      ...(byType.migrate ? { migrated: moves.migratedBy(plan) } : {}),
    };
    try {
      assertExecutable(plan, {
        planId,
        configuration: result.configuration,
        decision: result.decision,
        ...(deps.nodePower ? { nodePower: deps.nodePower } : {}),
        ...(result.constraints ? { constraints: result.constraints } : {}),
      });
    } catch (err) {
      const e = err as Error & { code?: string };
      logger.error({ ...planned, outcome: 'not-executable', code: e.code, err: e.message }, 'control loop turn');
      return { ok: true, result, executing: false };
    }
    logger.info({ ...planned, outcome: 'plan-started' }, 'control loop turn');
    start(planId, plan, result, request?.mode);
    return { ok: true, result, executing: true };
  }

  /** `--approve` mode: the turn's plan waits for `entropy approve` (or stays rejected); its vjobs are held meanwhile. */
  function propose(
    plan: FeasiblePlan,
    result: ReconcileResult,
    live: Configuration,
    entry: Record<string, unknown>,
  ): TurnReply {
    const offer = book.offer(plan, result.decision, live, now(), () => deps.newPlanId('proposal'));
    const p = offer.kind === 'rejected' ? offer.rejected : offer.proposal;
    const reason =
      offer.kind === 'rejected'
        ? `plan ${p.id} was rejected: not proposed again until what is wanted or observed changes`
        : `waiting for approval of plan ${p.id}`;
    const vjobs = [...new Set([...Object.keys(p.decision), ...p.plan.actions.map((a) => a.vjob)])].sort();
    const held = [
      ...result.held,
      ...vjobs
        .filter((j) => !result.held.some((h) => h.vjob === j))
        .map((vjob): HeldVjob => ({ vjob, reason, kind: 'approval' })),
    ];
    // entropy explain reads the last turn: it must see the approval holds too.
    if (last?.result === result) last = { at: last.at, result: { ...result, held } };
    if (offer.kind !== 'kept')
      logger.info(
        {
          ...entry,
          held,
          planId: p.id,
          actions: p.plan.actions.length + (p.plan.nodeActions?.length ?? 0),
          outcome: offer.kind,
        },
        offer.kind === 'proposed'
          ? 'plan proposed: waiting for entropy approve'
          : 'plan rejected earlier: not proposed',
      );
    return { ok: true, result: { ...result, held }, executing: false, observed: live };
  }

  /** Checks a reviewed plan against the cluster now and starts it; the caller serializes. */
  async function runChecked(run: ReviewedRun): Promise<ReviewedReply> {
    if (running) return { ok: false, busy: running.planId };
    const fresh = () => deps.isFresh({ nodes: deps.nodes ? deps.nodes() : deps.view().nodes });
    if (!fresh()) await waitFresh(fresh);
    const busy = deps.busy();
    if (busy.length > 0) return { ok: false, busy: `an agent is acting on ${busy[0]!.vm}` };
    const view = deps.view();
    const checked = checkReviewed(run.reviewed, view.configuration, run.skip ?? []);
    const at = { planId: run.planId, reviewed: run.reviewed.id, ...(run.skip?.length ? { skip: run.skip } : {}) };
    if (!checked.ok) {
      logger.warn({ ...at, code: checked.code, err: checked.message }, 'reviewed plan refused');
      return checked;
    }
    const { plan, decision } = checked;
    if (plan.actions.length + (plan.nodeActions?.length ?? 0) === 0) return { ok: true, plan, executing: false };
    assertExecutable(plan, {
      planId: run.planId,
      configuration: view.configuration,
      decision,
      ...(deps.nodePower ? { nodePower: deps.nodePower } : {}),
    });
    const observed = observeVjobs(view.configuration);
    const result: ReconcileResult = {
      outcome: TurnOutcome.Plan,
      plan,
      configuration: view.configuration,
      decision,
      wanted: new Map(Object.entries(decision)),
      observed,
      deferred: [],
      held: [],
      failures,
      requeueAfterMs: deps.intervalMs,
      reasons: [],
    };
    logger.info({ ...at, actions: plan.actions.length, outcome: 'plan-started' }, 'reviewed plan executed');
    start(run.planId, plan, result, run.mode);
    return { ok: true, plan, executing: true };
  }

  function start(planId: string, plan: FeasiblePlan, result: ReconcileResult, mode?: ExecutionMode): void {
    const done = deps.execute(planId, plan, result.configuration, result.decision, mode).then(
      (outcome) => planEnded(planId, outcome, result),
      (err: Error) => {
        logger.error({ planId, err: err.message }, 'plan execution failed');
        return planEnded(planId, undefined, result);
      },
    );
    running = { planId, done };
  }

  function planEnded(planId: string, outcome: ExecutionOutcome | undefined, result: ReconcileResult): void {
    if (running?.planId === planId) running = undefined;
    if (closed) return;
    if (outcome === undefined) {
      lookAgainIn('plan-not-executed', deps.intervalMs);
      return;
    }
    moves.record(
      outcome.completed.filter((c) => c.action.type === 'migrate').map((c) => c.action.vm),
      now(),
    );
    const failed = failedTransitions(outcome, result.decision, result.observed);
    failures = recordFailures(failures, failed, now(), retry);
    const nodeFailed = outcome.nodeActions.failures.map((f) => ({
      node: f.action.node,
      to: f.action.type === 'bootNode' ? ('online' as const) : ('offline' as const),
      final: f.error.final === true,
      error: `${f.action.type} ${f.action.node}: ${f.error.code} ${f.error.message}`,
    }));
    if (nodeFailed.length > 0) {
      nodeFailures = recordNodeFailures(nodeFailures, nodeFailed, now(), retry);
      logger.warn({ planId, nodes: nodeFailed.map((f) => f.error) }, 'node power action failed');
    }
    const vjobs = describeVjobOutcomes(outcome, result.decision, result.observed, failed, (vjob) => {
      const v = failureVerdict(failures.get(vjob), now(), retry);
      const f = failures.get(vjob);
      if (v.kind === 'given-up') return `given up: stays ${v.state}`;
      if (v.kind === 'back-off')
        return `back to ${v.state} now, retry ${f!.attempts + 1}/${retry.maxAttempts} in ${Math.ceil((v.until - now()) / 1000)} s`;
      return 'replanned next turn';
    });
    if (Object.keys(vjobs).length > 0) logger.info({ planId, status: outcome.status, vjobs }, 'plan outcome per vjob');
    // A failure is acted on at once: the vjob goes back to a uniform state in the very next turn.
    trigger(outcome.status === 'completed' ? 'plan-ended' : 'plan-failed');
  }

  /** Why the loop cannot take a node to `state` (no NodePower, or one that cannot boot), or undefined. */
  function unsupported(state: NodeState): string | undefined {
    if (!deps.nodePower) return 'this controller cannot boot or shut down nodes';
    return deps.nodePower.unsupported(state === 'online' ? 'bootNode' : 'shutdownNode');
  }

  async function waitFresh(fresh: () => boolean): Promise<void> {
    const deadline = now() + deps.silenceMs;
    while (!fresh() && now() < deadline) await new Promise((r) => setTimeout(r, Math.min(50, deps.statusPeriodMs)));
  }

  // Agents' reports change between turns (a vjob whose VMs all stopped): look once per status period.
  const watch = deps.queue
    ? setInterval(
        () => {
          if (draining || running) return;
          if (deps.queue!.observedChange(deps.view())) trigger('vjob-observed');
        },
        Math.max(50, deps.statusPeriodMs),
      )
    : undefined;
  setImmediate(() => trigger('start'));

  return {
    trigger,
    turnNow: (request) => serialized(() => turn(['apply'], request)),
    running: () => running?.planId,
    async idle() {
      while (running) await running.done;
    },
    failures: () => failures,
    runReviewed: (run) => serialized(() => runChecked(run)),
    proposals: () => ({ pending: book.proposals(), rejected: book.rejected() }),
    approve: (id, mode) =>
      serialized(async () => {
        const p = book.proposals().find((x) => x.id === id);
        if (!p)
          return {
            ok: false as const,
            unknown: book.wasRejected(id) ? `plan ${id} was rejected` : `no proposed plan ${id}`,
          };
        const r = await runChecked({ planId: id, reviewed: p, ...(mode ? { mode } : {}) });
        if (r.ok) book.take(id);
        else if ('code' in r && r.code === ControlErrorCode.PlanStale) {
          // A stale proposal goes, and the next turn proposes from what is observed now.
          book.take(id);
          trigger('proposal-stale');
        }
        return r;
      }),
    reject(id) {
      const done = book.reject(id, now());
      if (done)
        logger.info({ planId: id }, 'plan rejected: not proposed again until what is wanted or observed changes');
      return done;
    },
    lastTurn: () => last,
    rememberMoves(migrations) {
      for (const m of migrations) moves.record([m.vm], m.at);
    },
    nodeRequested(node) {
      if (nodeFailures.has(node)) {
        const next = new Map(nodeFailures);
        next.delete(node);
        nodeFailures = next;
      }
      trigger('node-power');
    },
    async close() {
      closed = true;
      if (wake) clearTimeout(wake);
      if (watch) clearInterval(watch);
      await turnInProgress;
    },
  };
}
