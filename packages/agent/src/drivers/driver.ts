import {
  type ActionErrorCode,
  type ActionRequest,
  AgentErrorCode,
  EntropyError,
  type WireVMState,
} from '@entropy/protocol';

/** One VM as the hypervisor reports it; the agent adds host, vjob and demand. */
export interface DriverVM {
  readonly id: string;
  readonly state: WireVMState;
  /** Measured use when the hypervisor tells it: cores and MiB. */
  readonly cpu?: number;
  readonly mem?: number;
}

/** What a migration leaves: the VM keeps its state (a paused VM stays paused), as the driver observed it. */
export interface MigrateOutcome {
  readonly state: WireVMState;
}

/**
 * The agent's only access to a hypervisor: one method per action, and `list()` for status.
 * A method resolves when the hypervisor has done the action and rejects with a `DriverError`
 * otherwise; the agent measures durations, deduplicates and replies.
 */
export interface HypervisorDriver {
  readonly name: string;
  list(): Promise<DriverVM[]>;
  run(req: ActionRequest): Promise<void>;
  stop(req: ActionRequest): Promise<void>;
  suspend(req: ActionRequest): Promise<void>;
  resume(req: ActionRequest): Promise<void>;
  migrate(req: ActionRequest): Promise<MigrateOutcome>;
  pause(req: ActionRequest): Promise<void>;
  unpause(req: ActionRequest): Promise<void>;
  /** Releases what the driver holds (subscriptions of the sim link, timers). */
  close?(): Promise<void>;
}

export class DriverError extends EntropyError {
  override name = 'DriverError';
  declare readonly code: ActionErrorCode;
  /** Whether a retry cannot help; when absent, the code decides (isFinalActionError). */
  readonly final?: boolean;
  constructor(code: ActionErrorCode, message: string, options?: { cause?: unknown; final?: boolean }) {
    super(code, message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    if (options?.final !== undefined) this.final = options.final;
  }
}

/** A user-reachable configuration problem (bad shell config, unknown driver), naming the field. */
export class DriverConfigError extends EntropyError {
  override name = 'DriverConfigError';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(AgentErrorCode.DriverConfig, `${field}: ${message}`, { context: { field } });
  }
}
