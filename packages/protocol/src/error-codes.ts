/**
 * Every error code of Entropy's packages, in one place: a code is stable (tests, logs and users match
 * on it) and means one thing. The groups say where errors arise; a code may sit in two groups (an
 * agent's state directory, a policy's bad decision) and means the same in both. ERROR_CODES lists
 * them all; src/error-codes.test.ts checks that no source file uses a code missing here.
 */

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

/** Codes the controller puts in a control reply's error. */
export const ControlErrorCode = {
  /** The request does not decode or fails validation; `field` names the offending field. */
  BadRequest: 'ENTROPY_BAD_REQUEST',
  /** A plan is running; the controller runs one at a time. */
  Busy: 'ENTROPY_BUSY',
  /** No plan reaches the decision from the current configuration. */
  Infeasible: 'ENTROPY_INFEASIBLE',
  /** The decision is invalid for the current configuration (unknown vjob, forbidden transition). */
  InvalidDecision: 'ENTROPY_INVALID_DECISION',
  /** A submitted vjob or VM id is already known to the controller. */
  Conflict: 'ENTROPY_CONFLICT',
  /** No vjob of the queue has this id. */
  UnknownVJob: 'ENTROPY_UNKNOWN_VJOB',
  /** No node of the cluster has this id. */
  UnknownNode: 'ENTROPY_UNKNOWN_NODE',
  /** The controller cannot power nodes that way (no `--boot-command` for a boot). */
  NodePowerUnsupported: 'ENTROPY_NODE_POWER_UNSUPPORTED',
  Internal: 'ENTROPY_INTERNAL',
  /** A saved or proposed plan no longer matches the cluster (a VM it touches or a node it uses changed). */
  PlanStale: 'ENTROPY_PLAN_STALE',
  /** A saved plan without the skipped actions fails verification (viability, a vjob's VMs in different states). */
  SkipRefused: 'ENTROPY_SKIP_REFUSED',
  /** No proposed plan has this id. */
  UnknownPlan: 'ENTROPY_UNKNOWN_PLAN',
} as const;
export type ControlErrorCode = (typeof ControlErrorCode)[keyof typeof ControlErrorCode];

/** Errors of inputs and commands a user can reach (files, options, policies, the lab). */
export const ErrorCode = {
  InvalidInstance: 'ENTROPY_INVALID_INSTANCE',
  InvalidPlan: 'ENTROPY_INVALID_PLAN',
  InvalidVJob: 'ENTROPY_INVALID_VJOB',
  /** A constraints file (`entropy controller --constraints`) is malformed. */
  InvalidConstraints: 'ENTROPY_INVALID_CONSTRAINTS',
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
  /** A command template (`--boot-command`, `--shutdown-command`) does not parse; the message names the option. */
  CommandTemplate: 'ENTROPY_COMMAND_TEMPLATE',
  /** A NATS connection setting (servers, credentials file, nkey, TLS files) is unusable; the message names the option. */
  NatsAuth: 'ENTROPY_NATS_AUTH',
  /** An action timeout setting is out of range; the message names the field. */
  InvalidTimeouts: 'ENTROPY_INVALID_TIMEOUTS',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The codes of the errors a policy can cause; tests assert them. */
export const PolicyErrorCode = {
  InvalidDecision: ErrorCode.InvalidDecision,
  PolicyFailed: ErrorCode.PolicyFailed,
  PolicyLoad: ErrorCode.PolicyLoad,
} as const;
export type PolicyErrorCode = (typeof PolicyErrorCode)[keyof typeof PolicyErrorCode];

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

/** Codes the executor itself puts on a failed action, beside the agents' `ActionErrorCode`s. */
export const ExecutorErrorCode = {
  /** No result within the action's timeout (plus grace). */
  Timeout: 'ENTROPY_ACTION_TIMEOUT',
  /** The node of the action went offline while the action was running. */
  NodeLost: 'ENTROPY_NODE_LOST',
  /** The transport failed in a way that is not worth a retry. */
  Transport: 'ENTROPY_TRANSPORT',
  /** The plan went stale (the observed configuration changed under it) or was aborted: it stopped. */
  PlanStale: 'ENTROPY_PLAN_STALE',
  Aborted: 'ENTROPY_ABORTED',
  /** The agent's reply does not match the request (another action id). */
  BadResult: 'ENTROPY_BAD_RESULT',
  /** The action's intent could not be written to the plan journal: it was not sent. */
  Journal: 'ENTROPY_JOURNAL',
} as const;
export type ExecutorErrorCode = (typeof ExecutorErrorCode)[keyof typeof ExecutorErrorCode];

/** The controller's node power actions. */
export const NodePowerErrorCode = {
  /** The boot command could not start or exited with a non-zero status. */
  BootFailed: 'ENTROPY_BOOT_FAILED',
  /** The node's agent did not say hello and report within the boot timeout. */
  BootTimeout: 'ENTROPY_BOOT_TIMEOUT',
  /** No agent serves the node's power subject: the node is down already, or its agent is older than this controller. */
  NoAgent: 'ENTROPY_NO_AGENT',
  /** The plan was stopped while the node action ran; what became of the node is seen in the next turn. */
  Aborted: 'ENTROPY_ABORTED',
} as const;
export type NodePowerErrorCode = (typeof NodePowerErrorCode)[keyof typeof NodePowerErrorCode];

/** The controller's leader lease. */
export const LeaseErrorCode = {
  /** An option of startLeaderLease is missing or out of range; `field` names it. */
  InvalidOptions: 'ENTROPY_INVALID_LEASE_OPTIONS',
  /** The lease bucket cannot be created or opened, or its max age is not the lease period; `bucket` names it. */
  Bucket: 'ENTROPY_LEASE_BUCKET',
} as const;
export type LeaseErrorCode = (typeof LeaseErrorCode)[keyof typeof LeaseErrorCode];

/** The codes of `entropy lab`'s errors (from ErrorCode); tests assert them. */
export const LabErrorCode = {
  Unavailable: ErrorCode.LabUnavailable,
  DirBusy: ErrorCode.LabDirBusy,
  State: ErrorCode.LabState,
  StartFailed: ErrorCode.LabStartFailed,
  Teardown: ErrorCode.LabTeardown,
  UnknownHost: ErrorCode.LabUnknownHost,
  HostPower: ErrorCode.LabHostPower,
} as const;
export type LabErrorCode = (typeof LabErrorCode)[keyof typeof LabErrorCode];

/** The agent's own errors, before any action: its options, its driver's configuration, its state directory. */
export const AgentErrorCode = {
  Option: 'ENTROPY_AGENT_OPTION',
  DriverConfig: 'ENTROPY_DRIVER_CONFIG',
  StateDir: ActionErrorCode.StateDir,
} as const;
export type AgentErrorCode = (typeof AgentErrorCode)[keyof typeof AgentErrorCode];

/** `entropy deploy install`: SSH sessions and the steps run over them. */
export const DeployErrorCode = {
  SshAuth: 'ENTROPY_SSH_AUTH',
  SshConnect: 'ENTROPY_SSH_CONNECT',
  SshTimeout: 'ENTROPY_SSH_TIMEOUT',
  Ssh: 'ENTROPY_SSH',
  /** The host's key is not in known_hosts (accept it with --accept-new after checking its fingerprint). */
  SshHostKeyUnknown: 'ENTROPY_SSH_HOST_KEY_UNKNOWN',
  /** The host's key differs from the one known_hosts holds for it: refused, whatever the options. */
  SshHostKeyChanged: 'ENTROPY_SSH_HOST_KEY_CHANGED',
  /** known_hosts marks the host's key @revoked. */
  SshHostKeyRevoked: 'ENTROPY_SSH_HOST_KEY_REVOKED',
  /** A step of an installation (copy, unit, start) failed on the host; the message names the step. */
  InstallStep: 'ENTROPY_INSTALL_STEP',
} as const;
export type DeployErrorCode = (typeof DeployErrorCode)[keyof typeof DeployErrorCode];

const GROUPS = [
  ProtocolErrorCode,
  ActionErrorCode,
  ControlErrorCode,
  ErrorCode,
  PolicyErrorCode,
  PlanErrorCode,
  ExecutorErrorCode,
  NodePowerErrorCode,
  LeaseErrorCode,
  LabErrorCode,
  AgentErrorCode,
  DeployErrorCode,
] as const;

type CodeOf<Group> = Group extends unknown ? Group[keyof Group] : never;
/** Any code of the registry. */
export type EntropyErrorCode = CodeOf<(typeof GROUPS)[number]>;

/** Every code, once. */
export const ERROR_CODES: ReadonlySet<EntropyErrorCode> = new Set(
  GROUPS.flatMap((g) => Object.values(g) as EntropyErrorCode[]),
);
