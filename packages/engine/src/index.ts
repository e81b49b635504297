// The engine's public API: everything another package may import from @entropy/engine. No I/O
// anywhere below: the caller reads files and talks to NATS, the engine computes.

// The model: a cluster's configuration, the VM and vjob life cycle, plans, resources, costs.
export type { Configuration, Decision, Node, NodeState, VJob, VM } from './model/configuration.ts';
export {
  ACTION_TYPES,
  type ActionType,
  canReach,
  defaultTarget,
  holdsResources,
  type NodeActionType,
  type PlanActionType,
  REACHABLE_TARGETS,
  reachableTargets,
  stateAfter,
  VJOB_STATES,
  type VJobState,
  vjobStateOf,
  type VMState,
  vmTarget,
  wantedStates,
} from './model/lifecycle.ts';
export {
  barrierMakespan,
  type FeasiblePlan,
  type NodeAction,
  type Plan,
  type PlannedAction,
  type SolverStats,
} from './model/plan.ts';
export { dimensionsOf, type Resources } from './model/resources.ts';
export { TakenRoom } from './model/room.ts';
export {
  COST_KINDS,
  type CostKind,
  costKindOf,
  type CostModel,
  costModelOverrides,
  type CostModelOverrides,
  costModelWith,
  DEFAULT_COST_MODEL,
  durationOf,
  type LinearCost,
} from './model/cost-model.ts';
export { type CostSample, fitCostModel, type KindCalibration } from './model/calibrate.ts';

// The context switch: placement, action inference, planning.
export { contextSwitch } from './solver/context-switch.ts';
export {
  type ConflictExplanation,
  DEFAULT_MAX_PROBES,
  type ExplainOptions,
  explainInfeasible,
} from './solver/explain-conflict.ts';
export { inferActions } from './solver/actions.ts';
export { schedule } from './solver/planner.ts';
export { compileProblem, type Problem } from './model/problem.ts';
export { fixedPlacementCost, vmCostAt } from './solver/placement-cost.ts';
export { cautiousPlan } from './solver/cautious-plan.ts';

// The verifier and the constraint catalog (BtrPlace's names and meaning).
export { type VerifiablePlan, type VerifyOptions, verifyPlan, type Violation } from './verifier/index.ts';
export type { NetworkElement, NetworkModel, NetworkRoute } from './model/network.ts';
export { type Constraint, describeConstraint } from './constraints/constraint.ts';
export { checkConstraints } from './constraints/check-constraints.ts';
export { buildPlanView } from './constraints/plan-view.ts';
export { prepareInstance } from './constraints/prepare.ts';
// Constraints in Entropy's own JSON (instance, vjob and constraints files), with the vjob shorthand.
export {
  CONSTRAINT_TYPE_NAMES,
  type ConstraintJson,
  constraintSchema,
  type ConstraintScope,
  constraintsSchema,
  resolveConstraint,
  resolveConstraints,
  resolvedConstraintsSchema,
} from './instance/constraint-schema.ts';
export { nodesOf, vmsOf as constraintVms } from './constraints/constraint.ts';

// Input formats: Entropy's instance and plan JSON, cost-model files, BtrPlace's instance and plan JSON.
export { type Instance, parseInstance } from './instance/parse-instance.ts';
// The instance schema's building blocks, for other inputs that carry quantities (the vjob file).
export {
  amount as quantitySchema,
  expected as expectedMessage,
  type InstanceJson,
} from './instance/instance-schema.ts';
export { parsePlan } from './instance/parse-plan.ts';
export { formatCostModelFile, parseCostModelFile } from './instance/cost-model-file.ts';
export { inputIssues } from './instance/input-issues.ts';
export {
  btrplaceImportContext,
  entropyExportContext,
  entropyImportContext,
  exportContextOf,
  type InstanceFormat,
  isBtrPlacePlan,
  readBtrPlacePlan,
  readInstanceAs,
  writeBtrPlacePlan,
} from './btrplace/index.ts';
export { readBtrPlaceInstance } from './btrplace/read-instance.ts';
export { generateWorkload, type WorkloadOptions } from './btrplace/generate-workload.ts';

// Scheduling policies (pure: a view in, a decision out) and the simulator that replays them in virtual time.
export {
  BUILTIN_POLICIES,
  buildPolicyView,
  decideSafely,
  InvalidDecisionError,
  type Policy,
  PolicyError,
  PolicyErrorCode,
  type PolicyFactory,
  type PolicyReason,
  type PolicyView,
  type Shortage,
  validateDecision,
} from './policy/index.ts';
export { consolidate } from './policy/consolidate.ts';
export { fcfs } from './policy/fcfs.ts';
export { fifoFfd } from './policy/fifo-ffd.ts';
export { parseScenario, type Scenario } from './simulator/scenario.ts';
export { simulate, type SimulationResult, type UseSegment } from './simulator/simulator.ts';

export { mulberry32, type Rng } from './prng.ts';
