import { describeConstraint, type Constraint } from '../constraints/constraint.ts';
import type { EngineFace } from '../constraints/face.ts';
import { prepareInstance } from '../constraints/prepare.ts';
import { kindOf } from '../constraints/registry.ts';
import type { Configuration, Decision } from '../model/configuration.ts';
import type { CostModel } from '../model/cost-model.ts';
import { describeUnreachableVjob } from '../model/lifecycle.ts';
import type { FeasiblePlan, NodeAction, Plan, PlannedAction } from '../model/plan.ts';
import { inferActions } from './actions.ts';
import { alternativePlacements, placeVms } from './placement.ts';
import { schedule, START_ATTEMPTS, type ScheduleResult, type Task } from './planner.ts';
import { compileProblem, S, STATE_NAMES, type ActionDurations, type Problem } from './problem.ts';
import { Rules } from './rules.ts';

export interface ContextSwitchOptions {
  /** Budget for the optional improvement and exact phases; the heuristic always runs to the end. */
  readonly timeLimitMs?: number;
  /** Placement constraints (BtrPlace's catalog, src/constraints); the plan satisfies every one. */
  readonly constraints?: readonly Constraint[];
  /** Per-VM and per-node action durations that override the cost model (BtrPlace's attributes). */
  readonly durations?: ActionDurations;
}

export const DEFAULT_TIME_LIMIT_MS = 2000;

/**
 * The cluster-wide context switch: a pure function from the current configuration and the
 * policy's decision to a plan whose every instant is viable. It plans from any observed state: a
 * vjob caught half paused or in mixed states ends whole in one state (the decision's, or
 * model/lifecycle.ts defaultTarget), pausing and unpausing at most once, as one group. No I/O; the clock is read only to
 * report solveMs.
 */
export function contextSwitch(
  configuration: Configuration,
  decision: Decision,
  costModel: CostModel,
  options: ContextSwitchOptions = {},
): Plan {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  const constraints = options.constraints ?? [];
  const prepared = prepareInstance(configuration, decision, constraints);
  if (prepared.conflicts.length > 0) {
    const more = prepared.conflicts.length > 1 ? ` (and ${prepared.conflicts.length - 1} more contradictions)` : '';
    return { feasible: false, reason: `${prepared.conflicts[0]}${more}`, solveMs: elapsed() };
  }
  const p = compileProblem(prepared.configuration, prepared.decision, costModel, {
    nodeStates: prepared.nodeStates,
    ...(options.durations ? { durations: options.durations } : {}),
  });
  if (p.unreachable) return { feasible: false, reason: describeUnreachableVjob(p.unreachable), solveMs: elapsed() };
  const rules = compileRules(p, constraints);
  if (rules.infeasible) return { feasible: false, reason: rules.infeasible, solveMs: elapsed() };
  const placementOptions = { exactBudget: exactBudgetFor(options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS), rules };
  const placement = placeVms(p, placementOptions);
  if (!placement.ok) return { feasible: false, reason: placement.reason, solveMs: elapsed() };
  const scheduled = scheduleTarget(p, placement.dest, rules);
  if (scheduled.ok) return toPlan(p, placement.dest, scheduled.tasks, elapsed());
  // The planner could not reach this target (a deadlock no pivot breaks): another viable target may be reachable.
  const deadline = started + (options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS);
  let tries = 0;
  for (const dest of alternativePlacements(p, placementOptions)) {
    const other = scheduleTarget(p, dest, rules);
    if (other.ok) return toPlan(p, dest, other.tasks, elapsed());
    if (++tries >= MAX_ALTERNATIVE_TARGETS || performance.now() > deadline) break;
  }
  return { feasible: false, reason: scheduled.reason, solveMs: elapsed() };
}

/** Alternative targets tried after a deadlock, at most. */
const MAX_ALTERNATIVE_TARGETS = 500;

/** Schedules the actions that reach `dest`, trying every attempt (start order, eager pivots) until one does not deadlock. */
function scheduleTarget(p: Problem, dest: Int32Array, rules: Rules): ScheduleResult {
  const specs = inferActions(p, dest);
  let first: ScheduleResult | undefined;
  for (const attempt of START_ATTEMPTS) {
    const result = schedule(p, specs, rules.schedule(), attempt);
    if (result.ok) return result;
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

const TYPE_ORDER = { bootNode: 0, stop: 1, pause: 2, suspend: 3, migrate: 4, resume: 5, run: 6, unpause: 7, shutdownNode: 8 } as const;

function toPlan(p: Problem, dest: Int32Array, tasks: readonly Task[], solveMs: number): FeasiblePlan {
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
      nodeActions.push({ id: idOf[i]!, type: t.type, node: nodes[t.type === 'bootNode' ? t.to : t.from]!.id, ...timing });
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
    target[vms[v]!.id] = host >= 0 ? { state: STATE_NAMES[state]!, host: nodes[host]!.id } : { state: STATE_NAMES[state]! };
  }
  return {
    feasible: true, actions, ...(nodeActions.length > 0 ? { nodeActions } : {}),
    steps, makespan, sumCompletion, mttr, solveMs, target,
  };
}
