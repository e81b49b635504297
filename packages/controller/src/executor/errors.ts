import type { NodeActionType, Violation } from '@entropy/engine';

/** Stable codes of the errors the executor throws before it sends anything. */
export const PlanErrorCode = {
  /** The verifier found a violation: the executor never runs such a plan. */
  Refused: 'ENTROPY_PLAN_REFUSED',
  InvalidPlanId: 'ENTROPY_INVALID_PLAN_ID',
  /** The plan holds actions the executor was given no way to run (node power actions without a NodePower). */
  Unsupported: 'ENTROPY_PLAN_UNSUPPORTED',
  /** The plan boots or shuts down a node and the controller cannot (no `--boot-command` for a boot). */
  NodePowerUnsupported: 'ENTROPY_NODE_POWER_UNSUPPORTED',
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

/** A node power action the controller cannot run; the message names what would enable it. */
export class NodePowerUnsupportedError extends Error {
  override name = 'NodePowerUnsupportedError';
  readonly code = PlanErrorCode.NodePowerUnsupported;
  constructor(
    readonly planId: string,
    readonly actionType: NodeActionType,
    readonly node: string,
    readonly reason: string,
  ) {
    super(`plan ${planId} cannot be executed: ${actionType} ${node}: ${reason}`);
  }
}
