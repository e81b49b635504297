import {
  cautiousPlan,
  type ConflictExplanation,
  type Configuration,
  type Constraint,
  type ConstraintJson,
  contextSwitch,
  type CostModel,
  decideSafely,
  type Decision,
  explainInfeasible,
  type FeasiblePlan,
  holdsResources,
  type Policy,
  type PolicyError,
  type PolicyView,
  TakenRoom,
  type VJobState,
  type VM,
} from '@entropy/engine';
import { policyViewOf, sizedByUsage } from './policy-view.ts';
import { budgetedTurn, type TurnBudgets, usedOn } from './budgets.ts';
import type { MonitorView } from '../monitor/index.ts';
import { type StoredVJob, VJobOwner } from '../queue/queue-store.ts';
import {
  DEFAULT_RETRY_POLICY,
  type FailureBook,
  failureVerdict,
  type RetryPolicy,
  settleFailures,
} from './failure-book.ts';
import { type NodeFailureBook, type NodeWants, nodeWantsThisTurn, type NodeWantsThisTurn } from './node-wants.ts';
import { observeVjobs, type ObservedVjob, type ObservedVjobState } from './vjob-states.ts';
import {
  brokenNow,
  drainHolds,
  fitConstraints,
  NO_TURN_CONSTRAINTS,
  putOffReason,
  turnConstraints,
} from './turn-constraints.ts';

/** A VM an agent is acting on right now (its node's status says so): its vjob waits for the action's end. */
export interface BusyVM {
  readonly vm: string;
  readonly node: string;
  readonly actionId: string;
  /** Room the action takes on `node` for a VM the configuration does not show there yet (a run, a resume, a migration in). */
  readonly demand?: Readonly<Record<string, number>>;
}

export interface ReconcileInput {
  readonly view: MonitorView;
  readonly now: number;
  /** Every node the cluster is known to have; a turn waits until each has reported once since `startedAt`, or is silent long enough to be offline. */
  readonly knownNodes: readonly string[];
  readonly startedAt: number;
  readonly statusPeriodMs: number;
  /** How long a node may stay silent before it is offline (the monitor's rule). */
  readonly silenceMs: number;
  /** The queue store's vjobs: the policy's (submitted) and the operator's (registered by apply). */
  readonly vjobs: readonly StoredVJob[];
  readonly policy?: Policy;
  /** The policy's last good decision, kept when it fails. */
  readonly lastGood?: Decision;
  /** Wanted states for this turn only (an apply of the policy's vjobs, a test's decide hook); they win over the others. */
  readonly overlay?: Decision;
  readonly failures: FailureBook;
  readonly retry?: RetryPolicy;
  readonly busy: readonly BusyVM[];
  readonly costModel: CostModel;
  readonly timeLimitMs?: number;
  /** The loop's period: when nothing asks for a sooner look. */
  readonly intervalMs: number;
  /** Node states an operator wants (`entropy node boot|shutdown`), and what failed of them. */
  readonly nodes?: NodeWants;
  /** Anti-thrash budgets (budgets.ts): none when absent. */
  readonly budgets?: TurnBudgets;
  /** When each VM was last migrated by a plan of the loop: the memory of the budgets' hold time. */
  readonly recentMoves?: ReadonlyMap<string, number>;
  /** Plan only the vjobs observed in mixed states back to one state (the --approve loop runs that repair unasked). */
  readonly repairOnly?: boolean;
  /** The cluster's constraints (`entropy controller --constraints FILE`), resolved against the cluster each turn. */
  readonly constraints?: readonly ConstraintJson[];
}

export const TurnOutcome = {
  /** Some known node has not reported since the controller started: nothing is planned on a partial view. */
  WaitingForNodes: 'waiting-for-nodes',
  /** Nothing is wanted of any vjob that it is not already. */
  NoChange: 'no-change',
  Plan: 'plan',
  Infeasible: 'infeasible',
} as const;
export type TurnOutcome = (typeof TurnOutcome)[keyof typeof TurnOutcome];

export type HeldKind = 'budget' | 'approval' | 'constraint';

/** Why a vjob is not planned as wanted this turn. */
export interface HeldVjob {
  readonly vjob: string;
  readonly reason: string;
  /**
   * What holds it, when a machine should tell: 'budget', an anti-thrash budget of the loop (budgets.ts);
   * 'approval', a plan waiting for `entropy approve` or rejected (--approve mode); 'constraint', a placement constraint.
   */
  readonly kind?: HeldKind;
}

export interface ReconcileResult {
  readonly outcome: TurnOutcome;
  /** Set when there is something to execute. */
  readonly plan?: FeasiblePlan;
  /** The configuration the engine planned from, and the decision the plan reaches. */
  readonly configuration: Configuration;
  readonly decision: Decision;
  /** What the policy, the operator, cancellations and the overlay want, before failures and holds. */
  readonly wanted: ReadonlyMap<string, VJobState>;
  readonly observed: ReadonlyMap<string, ObservedVjob>;
  readonly policyDecision?: Decision;
  readonly policyError?: PolicyError;
  /** The view the policy decided on: Policy.explain reads it when someone asks why (`entropy explain`). */
  readonly policyView?: PolicyView;
  /** When the turn had no plan or put starts off: a minimal set of its constraints and starts that has none. */
  readonly conflict?: ConflictExplanation;
  /** Starts left for a later turn: no room for them at the demands the engine uses. */
  readonly deferred: readonly string[];
  readonly held: readonly HeldVjob[];
  /** The failure book with the failures that no longer apply removed. */
  readonly failures: FailureBook;
  /** The same for node power actions. */
  readonly nodeFailures?: NodeFailureBook;
  readonly requeueAfterMs: number;
  readonly reasons: readonly string[];
  /** The constraints the plan was computed under (the file's, the vjobs', drains, node power): its verification keeps them. */
  readonly constraints?: readonly Constraint[];
}

/**
 * One turn of the level-triggered loop, pure: compares what the agents report (`view`) with what
 * is wanted (the policy's decision for its vjobs, the operator's wanted states, cancellations, an
 * overlay) and returns the plan of the difference, if any, and when to look again. It trusts no
 * memory of a plan in progress: a vjob left half paused by a crash, a failed action or an agent
 * restart is only one more observed state, which the engine takes to one uniform state.
 *
 * Vjobs an agent is still acting on wait (their room stays taken); a vjob whose last transition
 * failed goes back to where it came from and is retried after its backoff (failure-book.ts).
 */
export function reconcile(input: ReconcileInput): ReconcileResult {
  const { view, now } = input;
  const retry = input.retry ?? DEFAULT_RETRY_POLICY;
  const observed = observeVjobs(view.configuration);
  const silent = unreportedNodes(input);
  if (silent.length > 0) {
    const reason = `waiting for ${silent.length} known node(s) to report since the controller started: ${silent.slice(0, 5).join(', ')}${silent.length > 5 ? ', ...' : ''}`;
    return idle(
      input,
      observed,
      new Map(),
      TurnOutcome.WaitingForNodes,
      [reason],
      Math.max(50, input.statusPeriodMs / 4),
    );
  }

  const stored = new Map(input.vjobs.map((v) => [v.id, v]));
  const busyVjobs = busyVjobsOf(input.busy, view.configuration);
  const schedulable = new Set<string>();
  for (const v of input.vjobs)
    if (
      isPolicyOwned(v) &&
      v.state !== 'terminated' &&
      v.cancelRequestedAt === undefined &&
      observed.has(v.id) &&
      !busyVjobs.has(v.id)
    )
      schedulable.add(v.id);

  // What is wanted, by precedence: the policy's decision, the operator's, cancellations, the overlay.
  const wanted = new Map<string, VJobState>();
  let policyDecision: Decision | undefined;
  let policyError: PolicyError | undefined;
  let policyView: PolicyView | undefined;
  const turn =
    input.constraints?.length || input.nodes?.drained?.length || input.vjobs.some((v) => v.constraints?.length)
      ? turnConstraints(view.configuration, input.vjobs, input.constraints, input.nodes?.drained)
      : NO_TURN_CONSTRAINTS;
  if (input.policy && schedulable.size > 0) {
    policyView = policyViewOf(view, schedulable, now, [...turn.hard, ...turn.drains]);
    const safe = decideSafely(input.policy, policyView, input.lastGood ?? {});
    policyDecision = safe.decision;
    policyError = safe.error;
    for (const [j, s] of Object.entries(safe.decision)) if (schedulable.has(j)) wanted.set(j, s);
  }
  for (const v of input.vjobs) {
    if (!observed.has(v.id) || v.state === 'terminated') continue;
    if (v.cancelRequestedAt !== undefined) wanted.set(v.id, 'terminated');
    else if (v.owner === VJobOwner.Operator && v.wanted !== undefined) wanted.set(v.id, v.wanted);
  }
  for (const [j, s] of Object.entries(input.overlay ?? {})) if (observed.has(j)) wanted.set(j, s);

  // A vjob nobody names is wanted where the engine takes it anyway.
  const effective = new Map(wanted);
  for (const [id, o] of observed) if (!effective.has(id)) effective.set(id, o.settlesTo);
  const failures = settleFailures(input.failures, new Map([...observed].map(([id, o]) => [id, o.state])), effective);
  const held: HeldVjob[] = [];
  const reasons: string[] = [];
  const holdIds = new Set<string>();
  const decision: Record<string, VJobState> = {};
  let requeueAfterMs = input.intervalMs;
  for (const [id, o] of observed) {
    if (busyVjobs.has(id)) {
      holdIds.add(id);
      held.push({ vjob: id, reason: `an agent is acting on ${busyVjobs.get(id)}` });
      requeueAfterMs = Math.min(requeueAfterMs, Math.max(50, input.statusPeriodMs / 4));
      continue;
    }
    let want = wanted.get(id) ?? o.settlesTo;
    const verdict = failureVerdict(failures.get(id), now, retry);
    if (verdict.kind === 'back-off' || verdict.kind === 'given-up') {
      const f = failures.get(id)!;
      if (o.state === verdict.state) {
        // Back where it came from, uniform: left alone until the backoff ends (or for good).
        holdIds.add(id);
        held.push({
          vjob: id,
          reason:
            verdict.kind === 'back-off'
              ? `${f.to} failed (${f.lastError}); retry ${f.attempts + 1}/${retry.maxAttempts} after ${Math.ceil((verdict.until - now) / 1000)} s`
              : `${f.to} given up after ${f.attempts} failure(s): ${f.lastError}`,
        });
        if (verdict.kind === 'back-off') requeueAfterMs = Math.min(requeueAfterMs, Math.max(0, verdict.until - now));
        continue;
      }
      want = verdict.state;
    }
    if (!o.reachable.includes(want)) {
      reasons.push(
        `vjob ${id}: ${want} is not reachable from its VMs' states (${[...new Set(o.vmStates)].join(', ')}); it goes ${o.settlesTo}`,
      );
      want = o.settlesTo;
    }
    if (want !== o.state && (!input.repairOnly || o.state === 'mixed')) decision[id] = want;
  }

  const power: NodeWantsThisTurn = input.nodes
    ? nodeWantsThisTurn(
        withoutVjobs(view.configuration, holdIds, input.busy),
        view.nodes,
        unplannedOn(view, holdIds, input.busy),
        input.nodes,
        now,
        retry,
      )
    : {
        configuration: withoutVjobs(view.configuration, holdIds, input.busy),
        constraints: [],
        reasons: [],
        failures: new Map(),
      };
  reasons.push(...power.reasons, ...turn.reasons);
  if (power.retryAt !== undefined) requeueAfterMs = Math.min(requeueAfterMs, Math.max(0, power.retryAt - now));
  const configuration = power.configuration;
  const sized =
    input.policy?.sizing === 'peak' || !input.policy ? configuration : sizedByUsage(configuration, view.usage);
  const base = {
    configuration: sized,
    wanted,
    observed,
    held,
    failures,
    ...(input.nodes ? { nodeFailures: power.failures } : {}),
    ...(policyDecision ? { policyDecision } : {}),
    ...(policyError ? { policyError } : {}),
    ...(policyView ? { policyView } : {}),
  };
  const hard = fitConstraints(turn.hard, view.configuration, sized);
  const drains = fitConstraints(turn.drains, view.configuration, sized);
  const soft = [...power.constraints, ...drains];
  const brokenHard = brokenNow(sized, hard);
  // Nothing wanted differs from what is: the engine has work only when a node is overloaded (at measured use, say) or a constraint is broken.
  if (
    Object.keys(decision).length === 0 &&
    power.constraints.length === 0 &&
    !hasOverloadedNode(sized) &&
    !brokenHard &&
    !brokenNow(sized, soft)
  )
    return { ...base, outcome: TurnOutcome.NoChange, decision, deferred: [], requeueAfterMs, reasons };

  // A node's wanted state and drains go with the vjobs' (the engine evacuates a node before its shutdown); when
  // nothing reaches both, the vjobs are planned alone and the node waits: a drained node keeps the VMs it has, and gets no new one.
  // Budgets hold back only a plan that rebalances: no state change, no node change, no broken constraint to repair.
  const rebalanceOnly = Object.keys(decision).length === 0 && soft.length === 0 && !brokenHard;
  const planFrom: PlanFn = (constraints, configuration) =>
    planTurn(input, configuration, decision, observed, stored, constraints);
  const planned = planBudgeted(input, planFrom, sized, decision, [...hard, ...soft], held, rebalanceOnly);
  if (planned.ok || soft.length === 0)
    return {
      ...base,
      ...planned.result,
      requeueAfterMs,
      reasons: [...reasons, ...planned.result.reasons],
      ...(hard.length + soft.length > 0 ? { constraints: [...hard, ...soft] } : {}),
    };
  const kept = [...hard, ...drainHolds(drains, sized)];
  const alone = planBudgeted(input, planFrom, sized, decision, kept, held, rebalanceOnly);
  const why = putOffReason(soft, planned.result.reasons.at(-1));
  return {
    ...base,
    ...alone.result,
    requeueAfterMs,
    reasons: [...reasons, why, ...alone.result.reasons],
    ...(kept.length > 0 ? { constraints: kept } : {}),
  };
}

type TurnPlan = Pick<ReconcileResult, 'outcome' | 'plan' | 'decision' | 'deferred' | 'reasons' | 'conflict'>;

/** What explaining a turn without a plan may spend: a turn must not wait long for its explanation. */
const CONFLICT_PROBES = 40;
const CONFLICT_TIME_MS = 500;

/** The turn's reason without a plan: the conflict's sentence when constraints are in it (room is then not the cause), else the engine's. */
const reasonOf = (engineReason: string, conflict: ConflictExplanation | undefined) =>
  conflict && conflict.constraints.length > 0 ? conflict.sentence : engineReason;
type PlanFn = (
  constraints: readonly Constraint[],
  configuration: Configuration,
) => { readonly ok: boolean; readonly result: TurnPlan };

/** planTurn within the loop's anti-thrash budgets, when it has some; what a budget holds back goes into `held`. */
function planBudgeted(
  input: ReconcileInput,
  planFrom: PlanFn,
  sized: Configuration,
  decision: Decision,
  constraints: readonly Constraint[],
  held: HeldVjob[],
  rebalanceOnly: boolean,
): { readonly ok: boolean; readonly result: TurnPlan & { readonly configuration?: Configuration } } {
  const plan = (extra: readonly Constraint[], configuration: Configuration) =>
    planFrom(extra.length ? [...constraints, ...extra] : constraints, configuration);
  if (!input.budgets) return plan([], sized);
  const b = budgetedTurn({
    budgets: input.budgets,
    now: input.now,
    recentMoves: input.recentMoves ?? new Map(),
    configuration: sized,
    rebalanceOnly,
    changing: new Set(Object.keys(decision)),
    plan,
  });
  held.push(...b.held);
  const result = b.result ?? { outcome: TurnOutcome.NoChange, decision, deferred: [], reasons: [] };
  return {
    ok: b.ok,
    result: {
      ...result,
      reasons: [...result.reasons, ...b.reasons],
      ...(b.configuration !== sized ? { configuration: b.configuration } : {}),
    },
  };
}

/** The plan of a turn's decision with the node constraints; when no placement fits every start, the oldest starts that fit. */
function planTurn(
  input: ReconcileInput,
  sized: Configuration,
  decision: Record<string, VJobState>,
  observed: ReadonlyMap<string, ObservedVjob>,
  stored: ReadonlyMap<string, StoredVJob>,
  constraints: readonly Constraint[],
): { readonly ok: boolean; readonly result: TurnPlan } {
  const options = {
    ...(input.timeLimitMs !== undefined ? { timeLimitMs: input.timeLimitMs } : {}),
    ...(constraints.length > 0 ? { constraints } : {}),
  };
  const plan = contextSwitch(sized, decision, input.costModel, options);
  if (plan.feasible)
    return {
      ok: true,
      result: { outcome: outcomeOf(plan), ...(hasActions(plan) ? { plan } : {}), decision, deferred: [], reasons: [] },
    };

  // No room for every start: keep the oldest starts that fit (queue order), and everything else the
  // decision asks. The overlay's starts (an operator's apply) are never put off: they fit or the turn is infeasible.
  const starts = [...Object.keys(decision)].filter(
    (j) => decision[j] === 'running' && observed.get(j)!.state !== 'running' && !(j in (input.overlay ?? {})),
  );
  starts.sort((a, b) => (stored.get(a)?.submittedAt ?? 0) - (stored.get(b)?.submittedAt ?? 0) || (a < b ? -1 : 1));
  const decisionWith = (k: number): Decision => {
    const d: Record<string, VJobState> = { ...decision };
    for (const j of starts.slice(k)) {
      // A uniform vjob just keeps its state; a mixed one goes back to sleep rather than half running.
      const o = observed.get(j)!;
      if (o.state !== 'mixed') delete d[j];
      else if (o.reachable.includes('sleeping')) d[j] = 'sleeping';
    }
    return d;
  };
  // The probes only ask whether a decision fits (no improvement search); the one kept is then planned in full.
  const partial = cautiousPlan(starts.length, decisionWith, (d) => {
    const p = contextSwitch(sized, d, input.costModel, { ...options, workBudget: 0 });
    return p.feasible ? p : undefined;
  });
  const conflict = explainInfeasible(sized, decision, input.costModel, {
    constraints,
    maxProbes: CONFLICT_PROBES,
    timeLimitMs: CONFLICT_TIME_MS,
  });
  const why = reasonOf(plan.reason, conflict);
  if (!partial)
    return {
      ok: false,
      result: {
        outcome: TurnOutcome.Infeasible,
        decision,
        deferred: [],
        reasons: [why],
        ...(conflict ? { conflict } : {}),
      },
    };
  const full = contextSwitch(sized, partial.decision, input.costModel, options);
  const kept = full.feasible ? full : partial.plan;
  const deferred = starts.slice(partial.kept);
  return {
    ok: true,
    result: {
      outcome: outcomeOf(kept),
      ...(hasActions(kept) ? { plan: kept } : {}),
      decision: partial.decision,
      deferred,
      reasons: [`no room yet for ${deferred.join(', ')}: ${why}`],
      ...(conflict ? { conflict } : {}),
    },
  };
}

const isPolicyOwned = (v: StoredVJob) => v.owner === undefined || v.owner === VJobOwner.Policy;

const hasActions = (plan: FeasiblePlan) => plan.actions.length + (plan.nodeActions?.length ?? 0) > 0;
const outcomeOf = (plan: FeasiblePlan): TurnOutcome => (hasActions(plan) ? TurnOutcome.Plan : TurnOutcome.NoChange);

function idle(
  input: ReconcileInput,
  observed: ReadonlyMap<string, ObservedVjob>,
  wanted: ReadonlyMap<string, VJobState>,
  outcome: TurnOutcome,
  reasons: string[],
  requeueAfterMs: number,
): ReconcileResult {
  return {
    outcome,
    configuration: input.view.configuration,
    decision: {},
    wanted,
    observed,
    deferred: [],
    held: [],
    failures: input.failures,
    requeueAfterMs,
    reasons,
  };
}

/** Known nodes that have not reported since the controller started, while they may still be about to. */
function unreportedNodes(input: ReconcileInput): string[] {
  if (input.now - input.startedAt > input.silenceMs) return [];
  const reported = new Set(
    input.view.nodes.filter((n) => n.liveness !== 'pending' && n.lastSeen >= input.startedAt).map((n) => n.id),
  );
  return input.knownNodes.filter((n) => !reported.has(n));
}

/** Per node, one VM on it that the turn does not plan: excluded by the monitor, of a held vjob, or acted on by an agent. */
function unplannedOn(view: MonitorView, holdIds: ReadonlySet<string>, busy: readonly BusyVM[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const e of view.excluded) if (e.node !== undefined && !out.has(e.node)) out.set(e.node, e.vm);
  if (holdIds.size > 0)
    for (const vm of view.configuration.vms)
      if (holdIds.has(vm.vjob) && vm.host !== undefined && !out.has(vm.host)) out.set(vm.host, vm.id);
  for (const b of busy) if (!out.has(b.node)) out.set(b.node, b.vm);
  return out;
}

/** The vjobs that have a VM an agent is acting on, and one such VM each. */
function busyVjobsOf(busy: readonly BusyVM[], configuration: Configuration): Map<string, string> {
  if (busy.length === 0) return new Map();
  const vjobOf = new Map(configuration.vms.map((v) => [v.id, v.vjob]));
  const out = new Map<string, string>();
  for (const b of busy) {
    const j = vjobOf.get(b.vm);
    if (j !== undefined && !out.has(j)) out.set(j, b.vm);
  }
  return out;
}

/**
 * The configuration without the given vjobs, their room still taken on the nodes they hold, and
 * the room of busy VMs arriving on a node taken there too: the engine plans around them.
 */
export function withoutVjobs(
  configuration: Configuration,
  vjobs: ReadonlySet<string>,
  busy: readonly BusyVM[],
): Configuration {
  const arriving = busy.filter((b) => b.demand !== undefined);
  if (vjobs.size === 0 && arriving.length === 0) return configuration;
  const taken = new TakenRoom();
  const vms: VM[] = [];
  for (const vm of configuration.vms) {
    if (!vjobs.has(vm.vjob)) vms.push(vm);
    else if (holdsResources(vm.state) && vm.host !== undefined) taken.take(vm.host, vm.demand);
  }
  for (const b of arriving) taken.take(b.node, b.demand!);
  const nodes = taken.from(configuration.nodes);
  return { nodes, vms, vjobs: configuration.vjobs.filter((j) => !vjobs.has(j.id)) };
}

/** True when the VMs holding resources on some online node exceed its capacity in some dimension. */
export function hasOverloadedNode(configuration: Configuration): boolean {
  const used = usedOn(configuration);
  for (const n of configuration.nodes) {
    const u = used.get(n.id);
    if (u === undefined || n.state !== 'online') continue;
    for (const k in u) if (u[k]! > (n.capacity[k] ?? 0) + 1e-9) return true;
  }
  return false;
}

export type { ObservedVjobState };
