import type { ActionType, NodeActionType, VJobState } from './lifecycle.ts';

/** One action of a plan on a VM, as written in the plan file. Times are in milliseconds from the plan's start. */
export interface PlannedAction {
  readonly id: string;
  readonly type: ActionType;
  readonly vm: string;
  readonly vjob: string;
  /** The node the VM (or its image) leaves or is acted on; absent for run. */
  readonly from?: string;
  /** The node the VM arrives on; set for run, resume and migrate. */
  readonly to?: string;
  readonly start: number;
  readonly end: number;
  /** Barrier view: actions of one step run in parallel, steps run one after another. */
  readonly step: number;
  /** Ids of the actions that must end before this one starts (ASAP execution). */
  readonly dependsOn: readonly string[];
}

/**
 * Booting or shutting down a node (BtrPlace's bootNode, shutdownNode). VMs arrive on a booted node
 * only after its boot ends; a shutdown starts once every VM and image has left the node. Node
 * actions share the id space and the steps of the VM actions, and either may depend on the other.
 */
export interface NodeAction {
  readonly id: string;
  readonly type: NodeActionType;
  readonly node: string;
  readonly start: number;
  readonly end: number;
  readonly step: number;
  readonly dependsOn: readonly string[];
}

/**
 * What the solver did to reach the plan: the placement cost (MiB the vjobs are disturbed by:
 * migrations, suspends, resumes, engine/placement-cost.ts) of its first solution and of the one
 * kept, a proven lower bound and the gap to it, the search effort, and why the search stopped:
 * `finished` and `work-budget` give the same plan on any machine, `time-limit` may not.
 */
export interface SolverStats {
  readonly firstCost: number;
  readonly finalCost: number;
  readonly lowerBound?: number;
  /** (final cost - bound) / bound: at most this far from the optimum. */
  readonly gap?: number;
  /** The final cost is proven minimal. */
  readonly optimal: boolean;
  /** `exact` (branch and bound over the whole placement), `neighbourhoods` (large neighbourhood search), or `none` (the first solution met the bound). */
  readonly method: 'none' | 'exact' | 'neighbourhoods';
  readonly nodes: number;
  readonly neighbourhoods: number;
  readonly improvements: number;
  /** Units of work spent, of the budget. */
  readonly work: number;
  readonly stoppedBy: 'finished' | 'work-budget' | 'time-limit';
}

export interface FeasiblePlan {
  readonly feasible: true;
  readonly actions: readonly PlannedAction[];
  /** Node power actions, when some node must boot or shut down; absent otherwise. */
  readonly nodeActions?: readonly NodeAction[];
  readonly steps: number;
  readonly makespan: number;
  readonly sumCompletion: number;
  /**
   * BtrPlace's minimizeMTTR objective: the sum of the end times of the actions BtrPlace knows
   * (every action but pause and unpause), in the plan's time unit. Absent in older plan files.
   */
  readonly mttr?: number;
  readonly solveMs: number;
  /** The placement search's statistics (absent in plans of older versions). */
  readonly stats?: SolverStats;
  /** Final host and state of every VM that is not terminated. */
  readonly target: Readonly<Record<string, { readonly state: VJobState; readonly host?: string }>>;
}

export interface InfeasiblePlan {
  readonly feasible: false;
  readonly reason: string;
  readonly solveMs: number;
}

export type Plan = FeasiblePlan | InfeasiblePlan;

/**
 * How long the plan lasts run step by step, each step waiting for its slowest action: the sum of
 * each step's longest action. At least the makespan, which lets an action start as soon as its
 * dependencies are done.
 */
export function barrierMakespan(actions: readonly Pick<PlannedAction, 'step' | 'start' | 'end'>[]): number {
  const longest = new Map<number, number>();
  for (const a of actions) longest.set(a.step, Math.max(longest.get(a.step) ?? 0, a.end - a.start));
  let total = 0;
  for (const d of longest.values()) total += d;
  return total;
}
