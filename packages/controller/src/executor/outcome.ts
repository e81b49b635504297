import type { Configuration, NodeAction, PlannedAction } from '@entropy/engine';
import { ExecutorErrorCode } from '@entropy/protocol';

export { ExecutorErrorCode };

export const ExecutionMode = { Barrier: 'barrier', Asap: 'asap' } as const;
export type ExecutionMode = (typeof ExecutionMode)[keyof typeof ExecutionMode];

export const ExecutionStatus = {
  /** Every action of the plan succeeded. */
  Completed: 'completed',
  /** An action (a VM's or a node's) failed or timed out; the executor stopped starting new ones. */
  Failed: 'failed',
  /** The caller's signal stopped the plan; no action failed. */
  Aborted: 'aborted',
  /**
   * A VM the plan was about to act on is not where the plan expects it (moved or stopped behind
   * the controller's back): no new action started; the next turn replans from what is observed.
   */
  Stale: 'stale',
} as const;
export type ExecutionStatus = (typeof ExecutionStatus)[keyof typeof ExecutionStatus];

export interface ExecutionError {
  readonly code: string;
  readonly message: string;
  /** The agent said retrying cannot help. */
  readonly final?: boolean;
}

export interface CompletedAction {
  readonly action: PlannedAction;
  /** The id sent to the agent: `<planId>:<action id>`, the same on every retry. */
  readonly wireId: string;
  readonly node: string;
  /** Measured by the agent, around the hypervisor call. */
  readonly durationMs: number;
  /** The hypervisor call's start and end on the agent's clock (epoch ms), when the agent sent them. */
  readonly startedAt?: number;
  readonly endedAt?: number;
  /** Measured by the executor, from the first send to the result. */
  readonly elapsedMs: number;
  readonly attempts: number;
}

export interface FailedAction {
  readonly action: PlannedAction;
  readonly wireId: string;
  readonly node: string;
  readonly error: ExecutionError;
  readonly elapsedMs: number;
  readonly attempts: number;
  /** True when the VM's state is unknown afterwards (timeout, node lost, transport error). */
  readonly uncertain: boolean;
}

/** A node power action that ended; `node` is the node booted or shut down. */
export interface CompletedNodeAction {
  readonly action: NodeAction;
  readonly wireId: string;
  /** Measured by the executor, from the call to the node power port to its end (a boot: until the agent reported). */
  readonly elapsedMs: number;
}

export interface FailedNodeAction {
  readonly action: NodeAction;
  readonly wireId: string;
  readonly error: ExecutionError;
  readonly elapsedMs: number;
  /** True when the node's state is unknown afterwards (a timeout, an abort, a lost reply). */
  readonly uncertain: boolean;
}

/** An unpause sent to undo a half-done vjob pause. */
export interface UndoAction {
  readonly wireId: string;
  readonly vm: string;
  readonly vjob: string;
  readonly node: string;
  readonly ok: boolean;
  readonly error?: ExecutionError;
  readonly durationMs: number;
}

/** What happened, and the state the next control-loop turn should start from. */
export interface ExecutionOutcome {
  readonly planId: string;
  readonly mode: ExecutionMode;
  readonly status: ExecutionStatus;
  readonly completed: readonly CompletedAction[];
  /** The failure that stopped the plan, if any. */
  readonly failed?: FailedAction;
  /** Every failed action, the first one included (running actions may fail after it). */
  readonly failures: readonly FailedAction[];
  readonly undone: readonly UndoAction[];
  readonly notStarted: readonly PlannedAction[];
  /** Node power actions that ended, failed, or never started (empty for a plan without any). */
  readonly nodeActions: {
    readonly completed: readonly CompletedNodeAction[];
    readonly failures: readonly FailedNodeAction[];
    readonly notStarted: readonly NodeAction[];
  };
  /** VMs this plan left paused (a resume whose unpause never ran, an undo that failed). */
  readonly leftPaused: readonly string[];
  /** VMs whose state the executor cannot tell; the observed configuration leaves them out. */
  readonly uncertainVms: readonly string[];
  /** The source configuration with every known effect applied, node power actions included. */
  readonly observed: Configuration;
  readonly abortReason?: string;
  /** The plan's duration under the cost model in this mode: its makespan for asap, the sum of each step's longest action for barrier. */
  readonly estimatedMs: number;
  /** Why a stale plan was stopped: the first VM found elsewhere than the plan expects. */
  readonly staleReason?: string;
  /** Wall-clock duration of the execution, undo included. */
  readonly measuredMs: number;
}
