/** Stable codes of protocol errors and of failed action results; the controller and tests match on them. */
export const ProtocolErrorCode = {
  /** The bytes are not a msgpack value. */
  Decode: 'ENTROPY_DECODE',
  /** The message has no `v` field or another protocol version. */
  ProtocolVersion: 'ENTROPY_PROTOCOL_VERSION',
  /** The message decodes but a field is missing or wrong. */
  InvalidMessage: 'ENTROPY_INVALID_MESSAGE',
  /** The message is larger than the receiver takes (refused before it is decoded). */
  TooLarge: 'ENTROPY_MESSAGE_TOO_LARGE',
  /** A subject token (prefix, node id, plan id) is not allowed in a subject. */
  InvalidSubject: 'ENTROPY_INVALID_SUBJECT',
} as const;
export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

/** Codes an agent puts in `ActionResult.error.code`. */
export const ActionErrorCode = {
  /** The request could not be decoded or validated; `field` names the offending field. */
  BadRequest: 'ENTROPY_BAD_REQUEST',
  /** The action was sent to an agent that is not the node executing it. */
  WrongNode: 'ENTROPY_WRONG_NODE',
  /** An action id already seen with a different type or VM. */
  ActionIdReused: 'ENTROPY_ACTION_ID_REUSED',
  /** The hypervisor refuses the action in the VM's current state (e.g. pause of a VM that is not running). */
  InvalidState: 'ENTROPY_INVALID_STATE',
  /** The node lacks room for the VM (sim driver). */
  NoRoom: 'ENTROPY_NO_ROOM',
  /** The hypervisor command failed (non-zero exit status, or it could not start). */
  DriverFailed: 'ENTROPY_DRIVER_FAILED',
  /** The hypervisor command ran longer than the request's `timeoutMs` and was killed. */
  DriverTimeout: 'ENTROPY_DRIVER_TIMEOUT',
  /** A failure asked for by the sim driver's fail list (tests). */
  InjectedFailure: 'ENTROPY_INJECTED_FAILURE',
  /** The agent is shutting down and takes no new action. */
  ShuttingDown: 'ENTROPY_SHUTTING_DOWN',
  /** The agent restarted while the action ran: it is never run again; the VM's state is in the node's status. */
  Interrupted: 'ENTROPY_INTERRUPTED',
  /** The request's fencing token is older than the newest the agent has seen: it comes from a deposed controller. */
  StaleLeader: 'ENTROPY_STALE_LEADER',
  /** The agent cannot write its state directory, so it cannot promise to run the action once. */
  StateDir: 'ENTROPY_STATE_DIR',
  /** A shutdown sent to a node that still holds VMs, images or running actions: it is not powered off. */
  NodeNotEmpty: 'ENTROPY_NODE_NOT_EMPTY',
  /** The agent cannot power its node off: its driver has no simulated power-off and no `--shutdown-command` is configured. */
  PowerUnsupported: 'ENTROPY_POWER_UNSUPPORTED',
} as const;
export type ActionErrorCode = (typeof ActionErrorCode)[keyof typeof ActionErrorCode];

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
export class ProtocolError extends Error {
  override name = 'ProtocolError';
  constructor(
    readonly code: ProtocolErrorCode,
    readonly field: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
