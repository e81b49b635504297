export { verifyPlan, type VerifyOptions } from './verify-plan.ts';
export type { PlannedAllocation, VerifiablePlan } from './plan-context.ts';
export type { Verdict, Violation, ViolationKind } from './violation.ts';
