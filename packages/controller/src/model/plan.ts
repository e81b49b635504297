import type { ActionType, VJobState } from './lifecycle.ts';

/** One action of a plan, as written in the plan file. Times are in milliseconds from the plan's start. */
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

export interface FeasiblePlan {
  readonly feasible: true;
  readonly actions: readonly PlannedAction[];
  readonly steps: number;
  readonly makespan: number;
  readonly sumCompletion: number;
  readonly solveMs: number;
  /** Final host and state of every VM that is not terminated. */
  readonly target: Readonly<Record<string, { readonly state: VJobState; readonly host?: string }>>;
}

export interface InfeasiblePlan {
  readonly feasible: false;
  readonly reason: string;
  readonly solveMs: number;
}

export type Plan = FeasiblePlan | InfeasiblePlan;
