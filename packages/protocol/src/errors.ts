import { ActionErrorCode, ProtocolErrorCode } from './error-codes.ts';
import { EntropyError } from './entropy-error.ts';

export { ActionErrorCode, ProtocolErrorCode };

/**
 * Failures that a retry of the same request cannot cure: the request itself is wrong, it reached
 * the wrong agent, its id or leader is spent, the VM (or the node, for a shutdown) is not in a
 * state that allows it, or the agent has no way to power its node off. The
 * others (driver failures, timeouts, no room, shutting down) may pass on a retry. A driver may
 * say otherwise for one failure (`ActionResult.final` is what the agent reports).
 */
export const FINAL_ACTION_ERRORS: ReadonlySet<string> = new Set<ActionErrorCode>([
  ActionErrorCode.BadRequest,
  ActionErrorCode.WrongNode,
  ActionErrorCode.ActionIdReused,
  ActionErrorCode.InvalidState,
  ActionErrorCode.Interrupted,
  ActionErrorCode.StaleLeader,
  ActionErrorCode.NodeNotEmpty,
  ActionErrorCode.PowerUnsupported,
]);

export function isFinalActionError(code: string): boolean {
  return FINAL_ACTION_ERRORS.has(code);
}

/** A programming error at the protocol boundary (bad subject token, encoding an invalid message). */
export class ProtocolError extends EntropyError {
  override name = 'ProtocolError';
  declare readonly code: ProtocolErrorCode;
  constructor(
    code: ProtocolErrorCode,
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, { ...options, context: { field } });
  }
}
