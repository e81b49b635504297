import { EntropyError, ErrorCode, PolicyErrorCode } from '@entropy/protocol';

export { PolicyErrorCode };

/** An EntropyError, so that the CLI reports it in one line like any other user-reachable error. */
export class PolicyError extends EntropyError {
  override name = 'PolicyError';
  constructor(code: PolicyErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
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
    super(
      PolicyErrorCode.InvalidDecision,
      `policy '${policy}' returned an invalid decision: ${vjob !== undefined ? `vjob '${vjob}': ` : ''}${reason}`,
    );
  }
}
