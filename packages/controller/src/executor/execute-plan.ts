import { setTimeout as delay } from 'node:timers/promises';
import { type ActionRequest, type ActionResult, executingNode, TOKEN_RE } from '@entropy/protocol';
import {
  type Constraint,
  barrierMakespan,
  type Configuration,
  type Decision,
  type FeasiblePlan,
  type NodeAction,
  type PlannedAction,
  verifyPlan,
  type VM,
  type VMState,
} from '@entropy/engine';
import { dispatchUnits, type DispatchUnit } from './dispatch-units.ts';
import { InvalidPlanIdError, NodePowerUnsupportedError, PlanRefusedError, UnsupportedPlanError } from './errors.ts';
import { type NodePower, NodePowerError } from './node-power.ts';
import type { ExecutorEvent, ProgressCounts } from './events.ts';
import { ObservedState } from './observed-state.ts';
import {
  type CompletedAction,
  type CompletedNodeAction,
  type ExecutionError,
  ExecutionMode,
  type ExecutionOutcome,
  ExecutionStatus,
  ExecutorErrorCode,
  type FailedAction,
  type FailedNodeAction,
  type UndoAction,
} from './outcome.ts';
import { halfPausedVjobs } from './half-paused.ts';
import { planNonces, resultMismatch } from './result-check.ts';
import { actionTimeoutMs, type ActionTimeouts, parseTimeouts } from './timeouts.ts';
import { NodeLostError, TransientTransportError, type ActionTransport } from './transport.ts';

export interface ExecuteOptions {
  /** Names the plan on the wire (action ids, progress subject): one subject token. */
  readonly planId: string;
  /** The configuration the plan was computed from, and the decision it serves: the verifier replays the plan against them. */
  readonly configuration: Configuration;
  readonly decision: Decision;
  readonly transport: ActionTransport;
  /** Boots and shuts down nodes: required by a plan with node power actions (`nodeActions`). */
  readonly nodePower?: NodePower;
  /** `barrier` (default): step after step. `asap`: each action once its dependencies are done. */
  readonly mode?: ExecutionMode;
  readonly timeouts?: Partial<ActionTimeouts>;
  readonly onEvent?: (event: ExecutorEvent) => void;
  /** Stops starting new actions; running ones finish, a half-done vjob pause is undone. */
  readonly signal?: AbortSignal;
  /** The leader's fencing token, sent with every action: an agent refuses a token older than the newest it has seen. */
  readonly token?: number;
  /** Records each action's intent before it is sent, and its result. */
  readonly journal?: ActionJournal;
  /**
   * What the agents report now of some VMs. Before each dispatch unit, the VMs the plan has not
   * acted on yet must be where the plan expects them; otherwise the plan stops as stale.
   */
  readonly observe?: (vms: readonly string[]) => ReadonlyMap<string, ObservedPlace>;
  readonly now?: () => number;
  /**
   * The pauses (or unpauses) of a vjob get one start deadline this far ahead of their sending
   * (ActionRequest.notBefore): they then start together however unevenly the requests reach the
   * agents and the agents get the CPU. 0 (the default): each at once.
   */
  readonly groupLeadMs?: number;
}

/** Epoch ms with µs precision, on the monotonic clock: the agents' `startedAt` is on the same scale. */
const epochNow = () => performance.timeOrigin + performance.now();

type Status = 'pending' | 'running' | 'done' | 'failed';

/** Where a VM is, as observed: its state and the node holding it (absent for waiting and terminated VMs). */
export interface ObservedPlace {
  readonly state: VMState;
  readonly host?: string;
}

/** The executor's side of the plan journal (journal/plan-journal.ts): intents before sending, results after. */
export interface ActionJournal {
  /** Resolves once the intents are durable; a rejection keeps the actions from being sent. */
  intents(
    actions: readonly { readonly request: ActionRequest; readonly node: string; readonly action: PlannedAction }[],
  ): Promise<void>;
  /** Not awaited: a result the journal misses is learnt from the agent's ledger after a restart. */
  result(
    request: ActionRequest,
    result: {
      readonly ok: boolean;
      readonly code?: string;
      readonly message?: string;
      readonly final?: boolean;
      readonly state?: string;
      readonly host?: string;
      /** The agent's measure of the hypervisor call: its duration, start and end (epoch ms). */
      readonly durationMs?: number;
      readonly startedAt?: number;
      readonly endedAt?: number;
    },
  ): void;
}

/**
 * Runs a verified plan on the agents through the transport and records every transition.
 *
 * On the first failure (an agent's error, a timeout, a lost node) or when the caller's signal
 * fires, no new action starts; running ones finish. A vjob's pause step that fails in part is
 * undone at once (its paused VMs are unpaused); once the running actions have ended, a vjob this
 * plan paused whole and none of whose VMs has started to save is unpaused too, so no vjob is left
 * paused by a stopped plan; a vjob that had started to save keeps its paused VMs, reported in
 * `leftPaused`.
 * The outcome carries the observed configuration for the next control-loop turn.
 */
export async function executePlan(plan: FeasiblePlan, options: ExecuteOptions): Promise<ExecutionOutcome> {
  assertExecutable(plan, options);
  return new PlanRun(plan, options).execute();
}

/**
 * The checks executePlan makes before sending anything, for callers that must answer before the
 * execution starts: a subject-safe plan id, no node power action the controller cannot run, and
 * the verifier's approval. Throws InvalidPlanIdError, UnsupportedPlanError (node actions and no
 * NodePower), NodePowerUnsupportedError (one the NodePower refuses, naming why) or PlanRefusedError.
 */
export function assertExecutable(
  plan: FeasiblePlan,
  options: Pick<ExecuteOptions, 'planId' | 'configuration' | 'decision'> & {
    readonly nodePower?: Pick<NodePower, 'unsupported'>;
    /** The constraints the plan was computed under: it is refused when it breaks one. */
    readonly constraints?: readonly Constraint[];
  },
): void {
  if (!TOKEN_RE.test(options.planId)) throw new InvalidPlanIdError(options.planId);
  const nodeActions = plan.nodeActions ?? [];
  if (nodeActions.length > 0 && !options.nodePower) {
    throw new UnsupportedPlanError(
      options.planId,
      `${nodeActions.length} node power action(s) and no way to boot or shut down nodes`,
    );
  }
  for (const a of nodeActions) {
    const why = options.nodePower!.unsupported(a.type);
    if (why !== undefined) throw new NodePowerUnsupportedError(options.planId, a.type, a.node, why);
  }
  const verdict = verifyPlan(options.configuration, options.decision, plan, options.constraints);
  if (!verdict.ok) throw new PlanRefusedError(options.planId, verdict.violation);
}

/** The plan's duration under the cost model in a mode: its makespan as soon as possible, the sum of each step's longest action step by step. */
export function estimatedDurationMs(plan: FeasiblePlan, mode: ExecutionMode = ExecutionMode.Barrier): number {
  return mode === ExecutionMode.Barrier
    ? barrierMakespan([...plan.actions, ...(plan.nodeActions ?? [])])
    : plan.makespan;
}

class PlanRun {
  private readonly planId: string;
  private readonly mode: ExecutionMode;
  private readonly timeouts: ActionTimeouts;
  private readonly now: () => number;
  private readonly vmById: Map<string, VM>;
  private readonly status = new Map<string, Status>();
  private readonly stepLeft = new Map<number, number>();
  private readonly stepStarted = new Set<number>();
  private readonly observed: ObservedState;
  private readonly completed: CompletedAction[] = [];
  private readonly failures: FailedAction[] = [];
  private readonly undone: UndoAction[] = [];
  private readonly nodeCompleted: CompletedNodeAction[] = [];
  private readonly nodeFailures: FailedNodeAction[] = [];
  private readonly nodeActions: readonly NodeAction[];
  private readonly counts = { total: 0, done: 0, failed: 0, running: 0 };
  /** VMs this plan has sent an action for: their observed state is the plan's business. */
  private readonly touched = new Set<string>();
  /** Common start deadlines of pause and unpause groups, by action id. */
  private readonly deadlines = new Map<string, number>();
  private staleReason: string | undefined;
  private readonly started: number;
  /** Each action's nonce, from the plan's secret; a result counts only with its action's echoed (result-check.ts). */
  private readonly nonceOf = planNonces();

  constructor(
    private readonly plan: FeasiblePlan,
    private readonly options: ExecuteOptions,
  ) {
    this.planId = options.planId;
    this.mode = options.mode ?? ExecutionMode.Barrier;
    this.timeouts = parseTimeouts(options.timeouts);
    this.now = options.now ?? Date.now;
    this.vmById = new Map(options.configuration.vms.map((v) => [v.id, v]));
    this.observed = new ObservedState(options.configuration);
    for (const vm of options.configuration.vms)
      if (vm.state === 'waiting' && options.decision[vm.vjob] === 'terminated') this.observed.cancelled(vm.id);
    this.nodeActions = plan.nodeActions ?? [];
    this.counts.total = plan.actions.length + this.nodeActions.length;
    for (const a of [...plan.actions, ...this.nodeActions]) {
      this.status.set(a.id, 'pending');
      this.stepLeft.set(a.step, (this.stepLeft.get(a.step) ?? 0) + 1);
    }
    this.started = this.now();
  }

  async execute(): Promise<ExecutionOutcome> {
    this.emit({ kind: 'plan-started', mode: this.mode, steps: this.plan.steps, estimatedMs: this.estimatedMs() });
    const units = dispatchUnits(this.plan.actions, this.nodeActions);
    if (this.mode === ExecutionMode.Asap) await this.runAsap(units);
    else await this.runBarrier(units);
    await this.undoHalfPausedVjobs();
    const outcome = this.outcome();
    this.emit({ kind: outcome.status === ExecutionStatus.Completed ? 'plan-done' : 'plan-failed', outcome });
    return outcome;
  }

  private estimatedMs(): number {
    return estimatedDurationMs(this.plan, this.mode);
  }

  private stopped(): boolean {
    return (
      this.failures.length > 0 ||
      this.nodeFailures.length > 0 ||
      this.staleReason !== undefined ||
      this.options.signal?.aborted === true
    );
  }

  /** Checks the units' VMs before any of them is sent; a stale one stops the plan. */
  private foundStale(units: readonly DispatchUnit[]): boolean {
    for (const u of units) {
      const stale = this.staleIn(u);
      if (stale !== undefined) {
        this.staleReason = stale;
        return true;
      }
    }
    return false;
  }

  /**
   * The first VM of the unit, not acted on by this plan yet, that the agents report elsewhere than
   * the plan's source configuration says: a plan computed on a configuration that no longer holds.
   */
  private staleIn(unit: DispatchUnit): string | undefined {
    const observe = this.options.observe;
    if (!observe) return undefined;
    const fresh = unit.actions.map((a) => a.vm).filter((vm) => !this.touched.has(vm));
    if (fresh.length === 0) return undefined;
    const seen = observe(fresh);
    for (const vm of fresh) {
      const expected = this.vmById.get(vm);
      if (!expected) continue;
      const now = seen.get(vm);
      const gone = expected.state === 'waiting' || expected.state === 'terminated';
      const same = now === undefined ? gone : now.state === expected.state && (gone || now.host === expected.host);
      if (!same) {
        const where = (p: { state: string; host?: string } | undefined) =>
          p === undefined ? 'not reported' : `${p.state}${p.host ? ` on ${p.host}` : ''}`;
        return `VM ${vm} is ${where(now)}, the plan expects it ${where(expected)}`;
      }
    }
    return undefined;
  }

  private async runBarrier(units: readonly DispatchUnit[]): Promise<void> {
    const steps = new Map<number, DispatchUnit[]>();
    for (const u of units) steps.set(u.step, [...(steps.get(u.step) ?? []), u]);
    for (const step of [...steps.keys()].sort((x, y) => x - y)) {
      if (this.stopped() || this.foundStale(steps.get(step)!)) return;
      // The barrier: every result of this step before anything of the next.
      await Promise.all(steps.get(step)!.map((u) => this.runUnit(u)));
    }
  }

  private runAsap(units: readonly DispatchUnit[]): Promise<void> {
    const waiting = units.map((u) => u.deps.length);
    const dependents = units.map(() => [] as number[]);
    for (const u of units) for (const d of u.deps) dependents[d]!.push(u.index);
    return new Promise((resolve) => {
      let inFlight = 0;
      const start = (u: DispatchUnit) => {
        inFlight++;
        void this.runUnit(u).then((ok) => {
          if (ok && !this.stopped()) {
            for (const d of dependents[u.index]!) if (--waiting[d]! === 0) start(units[d]!);
          }
          if (--inFlight === 0) resolve();
        });
      };
      const ready = units.filter((u) => waiting[u.index] === 0);
      if (ready.length === 0 || this.stopped()) return resolve();
      for (const u of ready) start(u);
    });
  }

  /**
   * Sends every action of the unit in the same tick; true when all succeeded. When some pauses of
   * a vjob fail, the others are unpaused right away rather than after the running actions of other
   * vjobs: the vjob is half paused only while its own pause step lasts.
   */
  private async runUnit(unit: DispatchUnit): Promise<boolean> {
    if (this.stopped() || (this.mode === ExecutionMode.Asap && this.foundStale([unit]))) return false;
    if (unit.nodeAction) return this.runNodeAction(unit.nodeAction);
    for (const a of unit.actions) this.touched.add(a.vm);
    const journaled = await this.journalIntents(unit.actions);
    const lead = this.options.groupLeadMs ?? 0;
    if (
      lead > 0 &&
      unit.actions.length > 1 &&
      (unit.actions[0]!.type === 'pause' || unit.actions[0]!.type === 'unpause')
    ) {
      const at = Math.round((epochNow() + lead) * 1000) / 1000;
      for (const a of unit.actions) this.deadlines.set(a.id, at);
    }
    const results = await Promise.all(unit.actions.map((a) => this.runPlanned(a, journaled)));
    const ok = results.every(Boolean);
    if (!ok && unit.actions[0]!.type === 'pause') {
      await this.undoPauses(
        unit.actions.filter((a) => this.status.get(a.id) === 'done' && this.observed.stateOf(a.vm) === 'paused'),
      );
    }
    return ok;
  }

  /**
   * The unit's intents in one append, so that its requests (a vjob's pauses) then leave in the same
   * tick rather than each after its own acknowledgement. True once they are durable; on a failure
   * each action journals (and fails) on its own.
   */
  private async journalIntents(actions: readonly PlannedAction[]): Promise<boolean> {
    const journal = this.options.journal;
    if (!journal || actions.length < 2) return false;
    try {
      await journal.intents(
        actions.map((a) => {
          const request = this.request(a, `${this.planId}:${a.id}`);
          return { request, node: executingNode(request), action: a };
        }),
      );
      return true;
    } catch {
      return false;
    }
  }

  /** Marks an action running, and its step started the first time. */
  private starting(a: { readonly id: string; readonly step: number }): void {
    this.status.set(a.id, 'running');
    this.counts.running++;
    if (!this.stepStarted.has(a.step)) {
      this.stepStarted.add(a.step);
      this.emit({ kind: 'step-started', step: a.step, actions: this.stepLeft.get(a.step) ?? 0 });
    }
  }

  /** Counts an action of a step done; the step's last one ends the step. */
  private endOfStep(step: number): void {
    const left = this.stepLeft.get(step)! - 1;
    this.stepLeft.set(step, left);
    if (left === 0) this.emit({ kind: 'step-done', step });
  }

  /**
   * A boot or a shutdown, through the controller's NodePower: complete when the port resolves (a
   * boot once the node's agent has reported, a shutdown once its agent replied). A failure stops
   * the plan like a VM action's; the node's state is then the next turn's to observe.
   */
  private async runNodeAction(a: NodeAction): Promise<boolean> {
    this.starting(a);
    const wireId = `${this.planId}:${a.id}`;
    const estimatedMs = Math.max(0, a.end - a.start);
    const t0 = this.now();
    this.emit({ kind: 'node-action-started', nodeAction: a, wireId });
    const request = {
      node: a.node,
      wireId,
      planId: this.planId,
      estimatedMs,
      timeoutMs: actionTimeoutMs(this.timeouts, estimatedMs),
      ...(this.options.token !== undefined ? { token: this.options.token } : {}),
      ...(this.options.signal ? { signal: this.options.signal } : {}),
    };
    const power = this.options.nodePower!;
    let error: ExecutionError | undefined;
    let uncertain = false;
    try {
      await (a.type === 'bootNode' ? power.boot(request) : power.shutdown(request));
    } catch (err) {
      const e = err instanceof NodePowerError ? err : undefined;
      error = {
        code: e?.code ?? ExecutorErrorCode.Transport,
        message: (err as Error)?.message ?? String(err),
        ...(e?.final ? { final: true } : {}),
      };
      uncertain = e ? e.uncertain : true;
    }
    const elapsedMs = this.now() - t0;
    this.counts.running--;
    if (error === undefined) {
      this.status.set(a.id, 'done');
      this.counts.done++;
      this.observed.powered(a.node, a.type === 'bootNode' ? 'online' : 'offline');
      this.nodeCompleted.push({ action: a, wireId, elapsedMs });
      this.emit({ kind: 'node-action-done', nodeAction: a, wireId, durationMs: elapsedMs });
      this.endOfStep(a.step);
      return true;
    }
    this.status.set(a.id, 'failed');
    this.counts.failed++;
    this.nodeFailures.push({ action: a, wireId, error, elapsedMs, uncertain });
    this.emit({ kind: 'node-action-failed', nodeAction: a, wireId, error });
    return false;
  }

  private async runPlanned(a: PlannedAction, journaled = false): Promise<boolean> {
    this.starting(a);
    const r = await this.send(a, false, journaled);
    this.counts.running--;
    if (r.ok) {
      this.status.set(a.id, 'done');
      this.counts.done++;
      const after = this.observed.applied(a, r.result);
      const { durationMs, startedAt, endedAt } = r.result;
      const at = startedAt !== undefined && endedAt !== undefined ? { startedAt, endedAt } : {};
      this.completed.push({
        action: a,
        wireId: r.wireId,
        node: r.node,
        durationMs,
        ...at,
        elapsedMs: r.elapsedMs,
        attempts: r.attempts,
      });
      this.emit({ kind: 'action-done', action: a, wireId: r.wireId, durationMs, ...at, after });
      this.endOfStep(a.step);
      return true;
    }
    this.status.set(a.id, 'failed');
    this.counts.failed++;
    if (r.uncertain) this.observed.markUncertain(a.vm);
    this.failures.push({
      action: a,
      wireId: r.wireId,
      node: r.node,
      error: r.error,
      elapsedMs: r.elapsedMs,
      attempts: r.attempts,
      uncertain: r.uncertain,
    });
    this.emit({ kind: 'action-failed', action: a, wireId: r.wireId, error: r.error });
    return false;
  }

  private request(a: PlannedAction, wireId: string): ActionRequest {
    const demand = this.vmById.get(a.vm)?.demand ?? {};
    const estimatedMs = Math.max(0, a.end - a.start);
    return {
      actionId: wireId,
      planId: this.planId,
      type: a.type,
      vm: a.vm,
      vjob: a.vjob,
      demand: wireDemand(demand),
      ...(a.from !== undefined ? { from: a.from } : {}),
      ...(a.to !== undefined ? { to: a.to } : {}),
      estimatedMs,
      timeoutMs: actionTimeoutMs(this.timeouts, estimatedMs),
      ...(this.options.token !== undefined ? { token: this.options.token } : {}),
      ...(this.deadlines.has(a.id) ? { notBefore: this.deadlines.get(a.id)! } : {}),
      nonce: this.nonceOf(wireId),
    };
  }

  /**
   * One action on the wire: its intent journaled first unless its unit's was (an action whose intent
   * cannot be written is not sent), then sent and retried with the same id after transient errors until its deadline,
   * then its result journaled.
   */
  private async send(a: PlannedAction, undo: boolean, journaled = false): Promise<SendOutcome> {
    const wireId = `${this.planId}:${a.id}`;
    const req = this.request(a, wireId);
    const node = executingNode(req);
    this.emit({ kind: 'action-started', action: a, wireId, node, ...(undo ? { undo } : {}) });
    const journal = this.options.journal;
    if (journal && !journaled) {
      try {
        await journal.intents([{ request: req, node, action: a }]);
      } catch (err) {
        const error = {
          code: ExecutorErrorCode.Journal,
          message: `${a.type} ${a.vm} on ${node} not sent: its intent could not be journaled (${(err as Error).message})`,
        };
        return { ok: false, wireId, node, attempts: 0, elapsedMs: 0, uncertain: false, error };
      }
    }
    const outcome = await this.exchange(a, req, node);
    if (journal) {
      if (outcome.ok) {
        const { state, host, durationMs, startedAt, endedAt } = outcome.result;
        journal.result(req, {
          ok: true,
          durationMs,
          ...(state !== undefined ? { state } : {}),
          ...(host !== undefined ? { host } : {}),
          ...(startedAt !== undefined ? { startedAt } : {}),
          ...(endedAt !== undefined ? { endedAt } : {}),
        });
      } else {
        const duration = outcome.agentDurationMs !== undefined ? { durationMs: outcome.agentDurationMs } : {};
        journal.result(req, {
          ok: false,
          code: outcome.error.code,
          message: outcome.error.message,
          ...duration,
          ...(outcome.error.final ? { final: true } : {}),
        });
      }
    }
    return outcome;
  }

  /** Sends `req` until it gets a result, a non-transient error, or its deadline. */
  private async exchange(a: PlannedAction, req: ActionRequest, node: string): Promise<SendOutcome> {
    const wireId = req.actionId;
    const t0 = this.now();
    const deadline = t0 + req.timeoutMs + this.timeouts.graceMs;
    const expiry = new AbortController();
    const timer = setTimeout(() => expiry.abort(), Math.max(0, deadline - this.now()));
    const expired = new Promise<never>((_, reject) =>
      expiry.signal.addEventListener('abort', () => reject(expiry.signal.reason), { once: true }),
    );
    expired.catch(() => {});
    let attempts = 0;
    const fail = (code: string, message: string, uncertain: boolean, final?: boolean): SendFailure => ({
      ok: false,
      wireId,
      node,
      attempts,
      elapsedMs: this.now() - t0,
      uncertain,
      error: { code, message, ...(final ? { final } : {}) },
    });
    try {
      for (;;) {
        attempts++;
        try {
          const result = await Promise.race([
            this.options.transport.send(req, { signal: expiry.signal, timeoutMs: Math.max(1, deadline - this.now()) }),
            expired,
          ]);
          const mismatch = resultMismatch(req, node, result);
          if (mismatch !== undefined) return fail(ExecutorErrorCode.BadResult, mismatch, true);
          if (!result.ok) {
            const final = result.final === true;
            return {
              ...fail(
                result.error?.code ?? ExecutorErrorCode.Transport,
                result.error?.message ?? 'failed',
                false,
                final,
              ),
              agentDurationMs: result.durationMs,
            };
          }
          return { ok: true, wireId, node, attempts, elapsedMs: this.now() - t0, result };
        } catch (err) {
          if (expiry.signal.aborted)
            return fail(
              ExecutorErrorCode.Timeout,
              `${a.type} ${a.vm} on ${node}: no result within ${req.timeoutMs + this.timeouts.graceMs} ms`,
              true,
            );
          if (err instanceof NodeLostError) return fail(ExecutorErrorCode.NodeLost, err.message, true);
          if (!(err instanceof TransientTransportError))
            return fail(ExecutorErrorCode.Transport, (err as Error)?.message ?? String(err), true);
          if (this.now() + this.timeouts.retryDelayMs >= deadline)
            return fail(ExecutorErrorCode.Timeout, `${a.type} ${a.vm} on ${node}: ${err.message}`, true);
          this.emit({ kind: 'action-retried', action: a, wireId, attempt: attempts + 1, reason: err.message });
          await delay(this.timeouts.retryDelayMs);
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  private async undoHalfPausedVjobs(): Promise<void> {
    if (!this.stopped()) return;
    await this.undoPauses(
      halfPausedVjobs(
        this.plan.actions,
        (id) => this.status.get(id) ?? 'pending',
        (vm) => this.observed.stateOf(vm),
      ),
    );
  }

  /** Unpauses the VMs of these pauses, all in the same tick like a planned unpause step. */
  private async undoPauses(pauses: readonly PlannedAction[]): Promise<void> {
    await Promise.all(
      pauses.map(async (pause) => {
        const host = this.observed.hostOf(pause.vm) ?? pause.from!;
        const unpause: PlannedAction = { ...pause, id: `undo-${pause.id}`, type: 'unpause', from: host, dependsOn: [] };
        const r = await this.send(unpause, true);
        if (r.ok) {
          const after = this.observed.applied(unpause, r.result);
          this.emit({
            kind: 'action-done',
            action: unpause,
            wireId: r.wireId,
            durationMs: r.result.durationMs,
            after,
            undo: true,
          });
        } else {
          if (r.uncertain) this.observed.markUncertain(pause.vm);
          this.emit({ kind: 'action-failed', action: unpause, wireId: r.wireId, error: r.error, undo: true });
        }
        this.undone.push({
          wireId: r.wireId,
          vm: pause.vm,
          vjob: pause.vjob,
          node: r.node,
          ok: r.ok,
          durationMs: r.ok ? r.result.durationMs : (r.agentDurationMs ?? 0),
          ...(r.ok ? {} : { error: r.error }),
        });
      }),
    );
  }

  private outcome(): ExecutionOutcome {
    const notStarted = this.plan.actions.filter((a) => this.status.get(a.id) === 'pending');
    const allDone = this.counts.done === this.counts.total;
    const status = allDone
      ? ExecutionStatus.Completed
      : this.failures.length > 0 || this.nodeFailures.length > 0
        ? ExecutionStatus.Failed
        : this.staleReason !== undefined
          ? ExecutionStatus.Stale
          : ExecutionStatus.Aborted;
    const uncertain = new Set(this.observed.uncertainVms());
    const wasPaused = new Set(this.options.configuration.vms.filter((v) => v.state === 'paused').map((v) => v.id));
    const leftPaused = [...this.vmById.keys()]
      .filter((vm) => !uncertain.has(vm) && !wasPaused.has(vm) && this.observed.stateOf(vm) === 'paused')
      .sort();
    const reason = this.options.signal?.aborted ? this.options.signal.reason : undefined;
    return {
      planId: this.planId,
      mode: this.mode,
      status,
      completed: this.completed,
      ...(this.failures[0] ? { failed: this.failures[0] } : {}),
      failures: this.failures,
      undone: this.undone,
      notStarted,
      nodeActions: {
        completed: this.nodeCompleted,
        failures: this.nodeFailures,
        notStarted: this.nodeActions.filter((a) => this.status.get(a.id) === 'pending'),
      },
      leftPaused,
      uncertainVms: [...uncertain].sort(),
      observed: this.observed.configuration(),
      ...(status === ExecutionStatus.Aborted && reason !== undefined
        ? { abortReason: reason instanceof Error ? reason.message : String(reason) }
        : {}),
      ...(this.staleReason !== undefined ? { staleReason: this.staleReason } : {}),
      estimatedMs: this.estimatedMs(),
      measuredMs: this.now() - this.started,
    };
  }

  private emit(event: DistributiveOmit<ExecutorEvent, 'planId' | 'at' | 'counts'>): void {
    if (!this.options.onEvent) return;
    const counts: ProgressCounts = { ...this.counts };
    try {
      this.options.onEvent({ planId: this.planId, at: this.now(), counts, ...event } as ExecutorEvent);
    } catch {
      // A listener's bug must not stop a plan half way: the outcome still records everything.
    }
  }
}

/** cpu and mem always, then the other dimensions. Not `{ ...demand, cpu, mem }`: a spread followed by more properties is a slow path of V8. */
function wireDemand(demand: Readonly<Record<string, number | undefined>>): ActionRequest['demand'] {
  const out: Record<string, number> = { cpu: demand.cpu ?? 0, mem: demand.mem ?? 0 };
  for (const [k, v] of Object.entries(demand)) if (k !== 'cpu' && k !== 'mem' && v !== undefined) out[k] = v;
  return out as ActionRequest['demand'];
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface SendFailure {
  readonly ok: false;
  readonly wireId: string;
  readonly node: string;
  readonly attempts: number;
  readonly elapsedMs: number;
  readonly uncertain: boolean;
  readonly error: ExecutionError;
  readonly agentDurationMs?: number;
}

type SendOutcome =
  | {
      readonly ok: true;
      readonly wireId: string;
      readonly node: string;
      readonly attempts: number;
      readonly elapsedMs: number;
      readonly result: ActionResult;
    }
  | SendFailure;
