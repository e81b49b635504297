import { describeConstraint, type Constraint } from '../constraints/constraint.ts';
import type { EngineFace } from '../constraints/face.ts';
import { prepareInstance } from '../constraints/prepare.ts';
import { kindOf } from '../constraints/registry.ts';
import type { Configuration, Decision } from '../model/configuration.ts';
import type { CostModel } from '../model/cost-model.ts';
import type { NetworkModel } from '../model/network.ts';
import { describeUnreachableVjob } from '../model/lifecycle.ts';
import type { FeasiblePlan, NodeAction, Plan, PlannedAction, SolverStats } from '../model/plan.ts';
import { inferActions } from './actions.ts';
import { improvePlacement, type ImproveStats } from './improve-placement.ts';
import { placementCost } from './placement-cost.ts';
import { clockCheck, SearchBudget } from './search-budget.ts';
import { alternativePlacements, placeVms } from './placement.ts';
import { schedule, START_ATTEMPTS, type ScheduleResult, type Task } from './planner.ts';
import { compileProblem, S, STATE_NAMES, type ActionDurations, type Problem } from '../model/problem.ts';
import { Rules } from './rules.ts';
import { spreadArrivals } from './spread-arrivals.ts';

export interface ContextSwitchOptions {
  /** Wall-clock bound of the whole solve: the improvement stops at it with the best plan so far (the statistics say so). */
  readonly timeLimitMs?: number;
  /**
   * Work the improvement phase may spend (search nodes): the same instance and options give the
   * same plan on every machine unless the wall clock stops the search first. Default DEFAULT_WORK_BUDGET.
   */
  readonly workBudget?: number;
  /** Placement constraints (BtrPlace's catalog, src/constraints); the plan satisfies every one. */
  readonly constraints?: readonly Constraint[];
  /** Per-VM and per-node action durations that override the cost model (BtrPlace's attributes). */
  readonly durations?: ActionDurations;
  /**
   * Links and switches that migrations share (BtrPlace's network view): concurrent migrations never
   * hold more than an element's capacity. Without it, migrations are bounded by node room only.
   */
  readonly network?: NetworkModel;
  /**
   * The clock the time limit and solveMs read (ms, monotonic): performance.now unless injected. The
   * only clock a solve reads; with a work budget and no time limit reached, the plan does not depend on it.
   */
  readonly clock?: () => number;
}

/** The base of the default time limit (defaultTimeLimitFor). */
export const DEFAULT_TIME_LIMIT_MS = 2000;
/** Search nodes the improvement may explore by default: about a tenth of a second on this project's machine. */
export const DEFAULT_WORK_BUDGET = 300_000;

/**
 * The cluster-wide context switch: a pure function from the current configuration and the
 * policy's decision to a plan whose every instant is viable. It plans from any observed state: a
 * vjob caught half paused or in mixed states ends whole in one state (the decision's, or
 * model/lifecycle.ts defaultTarget), pausing and unpausing at most once, as one group. No I/O; the clock (options.clock) is read only
 * to report solveMs and to stop at the time limit.
 */
export function contextSwitch(
  configuration: Configuration,
  decision: Decision,
  costModel: CostModel,
  options: ContextSwitchOptions = {},
): Plan {
  const now = options.clock ?? (() => performance.now());
  const started = now();
  const elapsed = () => Math.round(now() - started);
  const constraints = options.constraints ?? [];
  // The linear phases (constraints, indexing) are not cut midway; the time limit is checked between them.
  const limitMs = options.timeLimitMs ?? defaultTimeLimitFor(configuration.vms.length);
  const deadline = started + limitMs;
  const late = () => now() > deadline;
  const timedOut = (phase: string): Plan => ({
    feasible: false,
    reason: `${TIME_LIMIT_REASON} of ${limitMs} ms (${phase})`,
    solveMs: elapsed(),
  });
  const prepared = prepareInstance(configuration, decision, constraints);
  if (late()) return timedOut('preparing the constraints');
  if (prepared.conflicts.length > 0) {
    const more = prepared.conflicts.length > 1 ? ` (and ${prepared.conflicts.length - 1} more contradictions)` : '';
    return { feasible: false, reason: `${prepared.conflicts[0]}${more}`, solveMs: elapsed() };
  }
  const p = compileProblem(prepared.configuration, prepared.decision, costModel, {
    nodeStates: prepared.nodeStates,
    ...(options.durations ? { durations: options.durations } : {}),
    ...(options.network ? { network: options.network } : {}),
  });
  if (p.unreachable) return { feasible: false, reason: describeUnreachableVjob(p.unreachable), solveMs: elapsed() };
  const rules = compileRules(p, constraints);
  if (late()) return timedOut('compiling the instance');
  if (rules.infeasible) return { feasible: false, reason: rules.infeasible, solveMs: elapsed() };
  const expired = clockCheck(deadline, now);
  const placementOptions = { exactBudget: exactBudgetFor(limitMs), rules, expired };
  const placement = placeVms(p, placementOptions);
  if (!placement.ok)
    return placement.timedOut
      ? timedOut('placement')
      : { feasible: false, reason: placement.reason, solveMs: elapsed() };
  // The repair's placement is the first solution, scheduled first: the plan to return when time runs out.
  const scheduled = scheduleTarget(p, placement.dest, rules, expired);
  if (!scheduled.ok && scheduled.timedOut) return timedOut('scheduling');
  // The improvement lowers its placement cost within the work budget, leaving time to schedule the result.
  const budget = new SearchBudget(
    options.workBudget ?? DEFAULT_WORK_BUDGET,
    started + IMPROVEMENT_SHARE * limitMs,
    now,
  );
  const improved = improvePlacement(p, placement.dest, { budget, rules });
  const stats = statsOf(improved.stats, budget);
  const firstGap = gapOf(stats.firstCost, improved.stats.lowerBound);
  const { gap: _improvedGap, ...rest } = stats;
  // The first solution is proven minimal when it meets the bound, or when a complete search found nothing cheaper.
  const firstOptimal =
    stats.firstCost <= improved.stats.lowerBound || (stats.optimal && stats.finalCost === stats.firstCost);
  const firstStats: SolverStats = {
    ...rest,
    finalCost: stats.firstCost,
    optimal: firstOptimal,
    ...(firstGap !== undefined ? { gap: firstGap } : {}),
  };
  if (improved.dest !== placement.dest && !sameTarget(improved.dest, placement.dest)) {
    // Cheaper wins; at equal cost (the search only broke ties on waiting arrivals), the shorter plan.
    const better = scheduleTarget(p, improved.dest, rules, expired);
    const cheaper = improved.stats.finalCost < improved.stats.firstCost;
    if (better.ok && (cheaper || !scheduled.ok || shorter(better.tasks, scheduled.tasks)))
      return toPlan(p, improved.dest, better.tasks, elapsed(), stats);
    if (!better.ok && better.timedOut) {
      const stopped: SolverStats = { ...firstStats, stoppedBy: 'time-limit' };
      return scheduled.ok ? toPlan(p, placement.dest, scheduled.tasks, elapsed(), stopped) : timedOut('scheduling');
    }
  }
  if (scheduled.ok) return toPlan(p, placement.dest, scheduled.tasks, elapsed(), firstStats);
  // The planner could not reach this target (a deadlock no pivot breaks): another viable target may be reachable.
  let tries = 0;
  for (const dest of alternativePlacements(p, placementOptions)) {
    const other = scheduleTarget(p, dest, rules, expired);
    if (other.ok)
      return toPlan(p, dest, other.tasks, elapsed(), {
        ...firstStats,
        finalCost: placementCost(p, dest),
        optimal: false,
      });
    if (++tries >= MAX_ALTERNATIVE_TARGETS || expired()) break;
  }
  return { feasible: false, reason: scheduled.reason, solveMs: elapsed() };
}

/** How an infeasible plan's reason starts when the time limit, not the instance, stopped the solve. */
export const TIME_LIMIT_REASON = 'no plan within the time limit';

/** The improvement may run until this share of the time limit: the rest is for scheduling its result. */
const IMPROVEMENT_SHARE = 0.6;

/**
 * The time limit when none is given: 2 s, and 25 ms more per 1,000 VMs (a 200,000-VM cluster gets
 * 7 s), so that a first plan always fits on a large cluster; the work budget, not this, makes the
 * result the same on every machine.
 */
export function defaultTimeLimitFor(vmCount: number): number {
  return DEFAULT_TIME_LIMIT_MS + Math.round(vmCount * 0.025);
}

function sameTarget(a: Int32Array, b: Int32Array): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether a schedule ends sooner than another: its makespan, then its sum of completion times. */
function shorter(a: readonly Task[], b: readonly Task[]): boolean {
  const measure = (ts: readonly Task[]) => {
    let makespan = 0;
    let sum = 0;
    for (const t of ts) {
      if (t.end > makespan) makespan = t.end;
      sum += t.end;
    }
    return { makespan, sum };
  };
  const x = measure(a);
  const y = measure(b);
  return x.makespan < y.makespan || (x.makespan === y.makespan && x.sum < y.sum);
}

/** Alternative targets tried after a deadlock, at most. */
const MAX_ALTERNATIVE_TARGETS = 500;

/**
 * Schedules the actions that reach `dest`. With a network, the same target with its migrations
 * spread over other destinations of equal cost (spread-arrivals.ts) is scheduled too, and when its
 * schedule is shorter it replaces `dest`'s content: the caller's target is then the spread one.
 */
function scheduleTarget(p: Problem, dest: Int32Array, rules: Rules, expired?: () => boolean): ScheduleResult {
  const result = scheduleExactly(p, dest, rules, expired);
  const spread = spreadArrivals(p, dest, rules);
  if (!spread || (!result.ok && result.timedOut)) return result;
  const other = scheduleExactly(p, spread, rules, expired);
  if (other.ok && (!result.ok || shorter(other.tasks, result.tasks))) {
    dest.set(spread);
    return other;
  }
  return result;
}

/** Schedules the actions that reach `dest`, trying every attempt (start order, eager pivots) until one does not deadlock. */
function scheduleExactly(p: Problem, dest: Int32Array, rules: Rules, expired?: () => boolean): ScheduleResult {
  const specs = inferActions(p, dest);
  let first: ScheduleResult | undefined;
  for (const attempt of START_ATTEMPTS) {
    const result = schedule(p, specs, rules.schedule(), attempt, expired);
    if (result.ok || result.timedOut) return result;
    first ??= result;
  }
  return first!;
}

/** Each constraint's engine face; pinned VMs are marked on the problem for every phase to see. */
function compileRules(p: Problem, constraints: readonly Constraint[]): Rules {
  const faces: EngineFace[] = [];
  const reasons: string[] = [];
  for (const c of constraints) {
    const face = kindOf(c.type).compile?.(c as never, p);
    if (!face) continue;
    faces.push(face);
    if (face.infeasible !== undefined) reasons.push(`${describeConstraint(c)} cannot hold: ${face.infeasible}`);
    for (const v of face.pinned ?? []) p.pinned[v] = 1;
  }
  return new Rules(p, faces, reasons);
}

/** Node visits the exact placement search may spend, about 10^6 per second of budget. */
function exactBudgetFor(timeLimitMs: number): number {
  return Math.max(10_000, Math.round(timeLimitMs * 1000));
}

const TYPE_ORDER = {
  bootNode: 0,
  stop: 1,
  pause: 2,
  suspend: 3,
  migrate: 4,
  resume: 5,
  run: 6,
  unpause: 7,
  shutdownNode: 8,
} as const;

/** The plan's solver statistics from the improvement's, with the gap to the bound. */
function statsOf(s: ImproveStats, budget: SearchBudget): SolverStats {
  const gap = gapOf(s.finalCost, s.lowerBound);
  return {
    firstCost: s.firstCost,
    finalCost: s.finalCost,
    lowerBound: s.lowerBound,
    ...(gap !== undefined ? { gap } : {}),
    optimal: s.optimal,
    method: s.method,
    nodes: s.nodes,
    neighbourhoods: s.neighbourhoods,
    improvements: s.improvements,
    work: budget.used,
    stoppedBy: s.stoppedBy,
  };
}

/** (cost - bound) / bound: how far the cost may be from the optimum at most; undefined when the bound is 0 and not met. */
function gapOf(cost: number, bound: number): number | undefined {
  if (bound > 0) return Math.max(0, (cost - bound) / bound);
  return cost > 0 ? undefined : 0;
}

function toPlan(
  p: Problem,
  dest: Int32Array,
  tasks: readonly Task[],
  solveMs: number,
  stats?: SolverStats,
): FeasiblePlan {
  const { nodes, vms } = p.configuration;
  const order = tasks.map((_, i) => i);
  order.sort((a, b) => {
    const x = tasks[a]!;
    const y = tasks[b]!;
    return x.start - y.start || TYPE_ORDER[x.type] - TYPE_ORDER[y.type] || x.vm - y.vm || a - b;
  });
  const idOf = new Array<string>(tasks.length);
  order.forEach((t, i) => (idOf[t] = `a${i + 1}`));
  const actions: PlannedAction[] = [];
  const nodeActions: NodeAction[] = [];
  for (const i of order) {
    const t = tasks[i]!;
    const timing = { start: t.start, end: t.end, step: t.step, dependsOn: [...new Set(t.deps)].map((d) => idOf[d]!) };
    if (t.type === 'bootNode' || t.type === 'shutdownNode') {
      nodeActions.push({
        id: idOf[i]!,
        type: t.type,
        node: nodes[t.type === 'bootNode' ? t.to : t.from]!.id,
        ...timing,
      });
      continue;
    }
    const vm = vms[t.vm]!;
    actions.push({
      id: idOf[i]!,
      type: t.type,
      vm: vm.id,
      vjob: vm.vjob,
      ...(t.from >= 0 ? { from: nodes[t.from]!.id } : {}),
      ...(t.to >= 0 ? { to: nodes[t.to]!.id } : {}),
      ...timing,
    });
  }
  let makespan = 0;
  let sumCompletion = 0;
  let mttr = 0;
  let steps = 0;
  for (const a of [...actions, ...nodeActions]) {
    makespan = Math.max(makespan, a.end);
    sumCompletion += a.end;
    if (a.type !== 'pause' && a.type !== 'unpause') mttr += a.end;
    steps = Math.max(steps, a.step + 1);
  }
  const target: Record<string, { state: (typeof STATE_NAMES)[number]; host?: string }> = {};
  for (let v = 0; v < p.vmCount; v++) {
    const state = p.target[v]!;
    if (state === S.terminated) continue;
    const host = state === S.running ? dest[v]! : state === S.sleeping ? p.host[v]! : -1;
    target[vms[v]!.id] =
      host >= 0 ? { state: STATE_NAMES[state]!, host: nodes[host]!.id } : { state: STATE_NAMES[state]! };
  }
  return {
    feasible: true,
    actions,
    ...(nodeActions.length > 0 ? { nodeActions } : {}),
    steps,
    makespan,
    sumCompletion,
    mttr,
    solveMs,
    target,
    ...(stats ? { stats } : {}),
  };
}
