import type { NodeActionType, Violation } from '@entropy/engine';
import { EntropyError, PlanErrorCode } from '@entropy/protocol';

export { PlanErrorCode };

export class PlanRefusedError extends EntropyError {
  override name = 'PlanRefusedError';
  constructor(
    readonly planId: string,
    readonly violation: Violation,
  ) {
    super(PlanErrorCode.Refused, `plan ${planId} refused: ${violation.kind}: ${violation.message}`, {
      context: { planId, violation },
    });
  }
}

export class InvalidPlanIdError extends EntropyError {
  override name = 'InvalidPlanIdError';
  constructor(readonly planId: string) {
    super(
      PlanErrorCode.InvalidPlanId,
      `plan id ${JSON.stringify(planId)} is not a subject token (letters, digits, '-', '_'; at most 64)`,
      { context: { planId } },
    );
  }
}

export class UnsupportedPlanError extends EntropyError {
  override name = 'UnsupportedPlanError';
  constructor(
    readonly planId: string,
    message: string,
  ) {
    super(PlanErrorCode.Unsupported, `plan ${planId} cannot be executed: ${message}`, { context: { planId } });
  }
}

/** A node power action the controller cannot run; the message names what would enable it. */
export class NodePowerUnsupportedError extends EntropyError {
  override name = 'NodePowerUnsupportedError';
  constructor(
    readonly planId: string,
    readonly actionType: NodeActionType,
    readonly node: string,
    readonly reason: string,
  ) {
    super(PlanErrorCode.NodePowerUnsupported, `plan ${planId} cannot be executed: ${actionType} ${node}: ${reason}`, {
      context: { planId, actionType, node },
    });
  }
}
