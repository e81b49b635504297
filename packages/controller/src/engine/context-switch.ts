import type { Configuration, Decision } from '../model/configuration.ts';
import type { CostModel } from '../model/cost-model.ts';
import type { FeasiblePlan, Plan, PlannedAction } from '../model/plan.ts';
import { inferActions } from './actions.ts';
import { placeVms } from './placement.ts';
import { schedule, type Task } from './planner.ts';
import { compileProblem, S, STATE_NAMES, type Problem } from './problem.ts';

export interface ContextSwitchOptions {
  /** Budget for the optional improvement and exact phases; the heuristic always runs to the end. */
  readonly timeLimitMs?: number;
}

export const DEFAULT_TIME_LIMIT_MS = 2000;

/**
 * The cluster-wide context switch: a pure function from the current configuration and the
 * policy's decision to a plan whose every instant is viable. No I/O; the clock is read only to
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
  const p = compileProblem(configuration, decision, costModel);
  const placement = placeVms(p, { exactBudget: exactBudgetFor(options.timeLimitMs ?? DEFAULT_TIME_LIMIT_MS) });
  if (!placement.ok) return { feasible: false, reason: placement.reason, solveMs: elapsed() };
  const scheduled = schedule(p, inferActions(p, placement.dest));
  if (!scheduled.ok) return { feasible: false, reason: scheduled.reason, solveMs: elapsed() };
  return toPlan(p, placement.dest, scheduled.tasks, elapsed());
}

/** Node visits the exact placement search may spend, about 10^6 per second of budget. */
function exactBudgetFor(timeLimitMs: number): number {
  return Math.max(10_000, Math.round(timeLimitMs * 1000));
}

const TYPE_ORDER = { stop: 0, pause: 1, suspend: 2, migrate: 3, resume: 4, run: 5, unpause: 6 } as const;

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
  const actions: PlannedAction[] = order.map((i) => {
    const t = tasks[i]!;
    const vm = vms[t.vm]!;
    return {
      id: idOf[i]!,
      type: t.type,
      vm: vm.id,
      vjob: vm.vjob,
      ...(t.from >= 0 ? { from: nodes[t.from]!.id } : {}),
      ...(t.to >= 0 ? { to: nodes[t.to]!.id } : {}),
      start: t.start,
      end: t.end,
      step: t.step,
      dependsOn: [...new Set(t.deps)].map((d) => idOf[d]!),
    };
  });
  let makespan = 0;
  let sumCompletion = 0;
  let steps = 0;
  for (const a of actions) {
    makespan = Math.max(makespan, a.end);
    sumCompletion += a.end;
    steps = Math.max(steps, a.step + 1);
  }
  const target: Record<string, { state: (typeof STATE_NAMES)[number]; host?: string }> = {};
  for (let v = 0; v < p.vmCount; v++) {
    const state = p.target[v]!;
    if (state === S.terminated) continue;
    const host = state === S.running ? dest[v]! : state === S.sleeping ? p.host[v]! : -1;
    target[vms[v]!.id] = host >= 0 ? { state: STATE_NAMES[state]!, host: nodes[host]!.id } : { state: STATE_NAMES[state]! };
  }
  return { feasible: true, actions, steps, makespan, sumCompletion, solveMs, target };
}
