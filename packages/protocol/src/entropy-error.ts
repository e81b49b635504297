/** Stable codes for errors a user can reach; tests assert them. */
export const ErrorCode = {
  InvalidInstance: 'ENTROPY_INVALID_INSTANCE',
  InvalidPlan: 'ENTROPY_INVALID_PLAN',
  InvalidVJob: 'ENTROPY_INVALID_VJOB',
  Infeasible: 'ENTROPY_INFEASIBLE',
  Io: 'ENTROPY_IO',
  /** A policy's decision names an unknown vjob or state, or a transition the life cycle forbids. */
  InvalidDecision: 'ENTROPY_INVALID_DECISION',
  /** A policy's `decide` threw or returned something that is not a decision. */
  PolicyFailed: 'ENTROPY_POLICY_FAILED',
  /** A policy could not be found or its module does not export a policy. */
  PolicyLoad: 'ENTROPY_POLICY_LOAD',
  /** A cost-model file (`--cost-model`, `entropy calibrate --base`) is malformed. */
  InvalidCostModel: 'ENTROPY_INVALID_COST_MODEL',
  /** A results file (`entropy calibrate --results`) has a malformed line. */
  InvalidResults: 'ENTROPY_INVALID_RESULTS',
  /** A command-line option's value is unusable (a `--boot-command` that does not parse, say); the message names the option. */
  InvalidOption: 'ENTROPY_INVALID_OPTION',
  /** `entropy lab`: not root, or a package the lab needs is missing. */
  LabUnavailable: 'ENTROPY_LAB_UNAVAILABLE',
  /** `entropy lab up`: the directory already holds a lab (up or left by a crash), or something else. */
  LabDirBusy: 'ENTROPY_LAB_DIR_BUSY',
  /** `entropy lab`: the lab's state file cannot be read or is malformed. */
  LabState: 'ENTROPY_LAB_STATE',
  /** `entropy lab up`: a part of the lab did not start; what had started was removed. */
  LabStartFailed: 'ENTROPY_LAB_START_FAILED',
  /** `entropy lab down`: something could not be removed; the state file keeps what is left. */
  LabTeardown: 'ENTROPY_LAB_TEARDOWN',
  /** `entropy lab host-start|host-stop`: the lab has no such host. */
  LabUnknownHost: 'ENTROPY_LAB_UNKNOWN_HOST',
  /** `entropy lab host-start|host-stop`: the lab is not up (or going down), or a part of the host did not start or stop. */
  LabHostPower: 'ENTROPY_LAB_HOST_POWER',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export class EntropyError extends Error {
  override name = 'EntropyError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** One problem in an input file: the JSON path of the offending value and why it is wrong. */
export interface InputIssue {
  readonly path: string;
  readonly reason: string;
}

/** A malformed instance or plan file. `issues` lists every problem found, in file order. */
export class InvalidInputError extends EntropyError {
  override name = 'InvalidInputError';
  constructor(
    code: ErrorCode,
    readonly file: string,
    readonly issues: readonly InputIssue[],
  ) {
    super(code, `${file}: ${issues.map((i) => `${i.path}: ${i.reason}`).join('\n  ')}`);
  }
}

/** Formats a JSON path from its segments: ['vms', 3, 'host'] -> '$.vms[3].host'. */
export function jsonPath(segments: readonly PropertyKey[]): string {
  let out = '$';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : `.${String(s)}`;
  return out;
}
