import type { Violation } from '../verifier/index.ts';

/** Stable codes of the errors the executor throws before it sends anything. */
export const PlanErrorCode = {
  /** The verifier found a violation: the executor never runs such a plan. */
  Refused: 'ENTROPY_PLAN_REFUSED',
  InvalidPlanId: 'ENTROPY_INVALID_PLAN_ID',
  /** The plan holds actions no agent can execute (node power actions). */
  Unsupported: 'ENTROPY_PLAN_UNSUPPORTED',
} as const;
export type PlanErrorCode = (typeof PlanErrorCode)[keyof typeof PlanErrorCode];

export class PlanRefusedError extends Error {
  override name = 'PlanRefusedError';
  readonly code = PlanErrorCode.Refused;
  constructor(
    readonly planId: string,
    readonly violation: Violation,
  ) {
    super(`plan ${planId} refused: ${violation.kind}: ${violation.message}`);
  }
}

export class InvalidPlanIdError extends Error {
  override name = 'InvalidPlanIdError';
  readonly code = PlanErrorCode.InvalidPlanId;
  constructor(readonly planId: string) {
    super(`plan id ${JSON.stringify(planId)} is not a subject token (letters, digits, '-', '_'; at most 64)`);
  }
}

export class UnsupportedPlanError extends Error {
  override name = 'UnsupportedPlanError';
  readonly code = PlanErrorCode.Unsupported;
  constructor(
    readonly planId: string,
    message: string,
  ) {
    super(`plan ${planId} cannot be executed: ${message}`);
  }
}
