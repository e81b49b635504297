import type { Problem } from '../model/problem.ts';
import type { NodeState } from '../model/configuration.ts';
import type { PlanActionType, VJobState } from '../model/lifecycle.ts';
import type { Constraint, ConstraintOf, ConstraintType } from './constraint.ts';
import type { PlanView } from './plan-view.ts';

/**
 * One constraint, three small faces (BtrPlace's Ban.java / BanChecker.java / CBan.java):
 * - `prepare` turns what a constraint says about states, demands and capacities into the instance
 *   the engine and the verifier both see (a `running` constraint is a decision, `preserve` a demand);
 * - `compile` gives the engine its incremental rules: a placement rule the repair-mode placement
 *   consults for every candidate node, and for continuous constraints a schedule rule that gates
 *   when the planner may start an action;
 * - `check` is the verifier's: the first violation in a plan, replayed from its source, as a message.
 */
export interface ConstraintKind<T extends ConstraintType> {
  readonly type: T;
  prepare?(c: ConstraintOf<T>, draft: Draft): void;
  compile?(c: ConstraintOf<T>, p: Problem): EngineFace | undefined;
  check(c: ConstraintOf<T>, view: PlanView): string | undefined;
}

/** What `prepare` may change. Every change names the constraint, so conflicts can say who asked. */
export interface Draft {
  /** The VM ends in this state (a decision for its vjob). */
  wantVm(vm: string, state: VJobState, by: Constraint): void;
  /** The VM ends ready: waiting if it never ran, stopped otherwise. */
  wantReady(vm: string, by: Constraint): void;
  wantNode(node: string, state: NodeState, by: Constraint): void;
  /** The node's state at the end, as wanted so far (its current state when nothing asks). */
  nodeState(node: string): NodeState | undefined;
  /** Whether some constraint already wants the node in a state. */
  nodeWanted(node: string): boolean;
  /** What emptying the node would move: the memory of the VMs (running, or sleeping images) it holds now, plus one per VM. */
  loadOn(node: string): number;
  /** The VM's demand in `rc` is at least `amount` from now on. */
  raiseDemand(vm: string, rc: string, amount: number): void;
  /** The node offers `ratio` times its capacity in `rc`. */
  scaleCapacity(node: string, rc: string, ratio: number): void;
  /** A contradiction that makes the instance infeasible. */
  conflict(message: string): void;
}

/**
 * The engine face of one constraint, on the engine's indexes. Scope says which (VM, node) pairs the
 * rules care about, so that the placement only consults a rule where it can say no:
 * `vms` only for these VMs (undefined: every VM), `nodes` only for arrivals on these nodes.
 */
export interface EngineFace {
  readonly vms?: readonly number[];
  readonly nodes?: readonly number[];
  /** VMs that must stay where they are (root, quarantine). */
  readonly pinned?: readonly number[];
  /** Why no plan can satisfy the constraint (a continuous one the source configuration already breaks). */
  readonly infeasible?: string;
  /** A fresh placement rule (one per placement attempt: repair, repack, exact search). */
  placement?(): PlacementRule;
  /** A fresh schedule rule, for continuous constraints. */
  schedule?(): ScheduleRule;
}

/**
 * An incremental check for the placement: `allows` is asked about a VM that is not assigned, given
 * the VMs assigned so far (told through `assign` and `unassign`); it must be fast (it is asked for
 * many candidate nodes of many VMs).
 */
export interface PlacementRule {
  allows(vm: number, node: number): boolean;
  assign(vm: number, node: number): void;
  unassign(vm: number, node: number): void;
  /** A superset of the nodes `vm` may go to now, when it is much smaller than all nodes. */
  candidates?(vm: number): readonly number[] | undefined;
  /**
   * Once every running VM is assigned to its current node: VMs to take off their node so that the
   * rule can hold (BtrPlace's repair mode, `getMisPlacedVMs`). Cheapest to move first is best.
   */
  misplaced?(dest: Int32Array): readonly number[];
}

/**
 * An action as the schedule rules see it, on indexes (-1 for none). `to` is the node the VM starts
 * occupying at the action's start (run, resume, migrate), `from` the node it stops occupying at the
 * action's end (migrate, suspend, stop of a running VM); a pause occupies nothing new. Node actions
 * have `vm` -1: a boot has `to`, a shutdown `from`.
 */
export interface TaskRef {
  readonly type: PlanActionType;
  readonly vm: number;
  readonly from: number;
  readonly to: number;
}

/**
 * A continuous constraint in the planner's simulated time. `mayStart` is asked before an action
 * starts; `started` and `ended` keep the rule's view of who is where (a VM is on a node from the
 * start of the action that brings it to the end of the action that takes it away). `ended` may name
 * nodes whose waiting actions should be tried again (a pool that spans nodes).
 */
export interface ScheduleRule {
  mayStart(t: TaskRef): boolean;
  started(t: TaskRef): void;
  ended(t: TaskRef): readonly number[] | void;
}
