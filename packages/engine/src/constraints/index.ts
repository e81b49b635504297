export type * from './constraint.ts';
export { describeConstraint, isContinuous, nodesOf, vmsOf } from './constraint.ts';
export { checkConstraints, type ConstraintViolation } from './check-constraints.ts';
export { buildPlanView, type PlanView } from './plan-view.ts';
export { prepareInstance, type PreparedInstance } from './prepare.ts';
export { CATALOG, CONSTRAINT_TYPES } from './registry.ts';
export type { EngineFace, PlacementRule, ScheduleRule, TaskRef } from './face.ts';
