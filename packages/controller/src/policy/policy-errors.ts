/** Stable codes of the errors a policy can cause; tests assert them. */
export const PolicyErrorCode = {
  /** The decision names an unknown vjob or state, or a transition the life cycle forbids. */
  InvalidDecision: 'ENTROPY_INVALID_DECISION',
  /** `decide` threw or returned something that is not a decision. */
  PolicyFailed: 'ENTROPY_POLICY_FAILED',
  /** The policy could not be found or its module does not export a policy. */
  PolicyLoad: 'ENTROPY_POLICY_LOAD',
} as const;
export type PolicyErrorCode = (typeof PolicyErrorCode)[keyof typeof PolicyErrorCode];

export class PolicyError extends Error {
  override name = 'PolicyError';
  constructor(
    readonly code: PolicyErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A decision that cannot be applied: `vjob` names the offending entry (absent when the whole value is wrong). */
export class InvalidDecisionError extends PolicyError {
  override name = 'InvalidDecisionError';
  constructor(
    readonly policy: string,
    readonly reason: string,
    readonly vjob?: string,
  ) {
    super(PolicyErrorCode.InvalidDecision, `policy '${policy}' returned an invalid decision: ${vjob !== undefined ? `vjob '${vjob}': ` : ''}${reason}`);
  }
}
