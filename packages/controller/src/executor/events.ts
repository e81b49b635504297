import type { NodeAction, PlannedAction, VMState } from '@entropy/engine';
import type { ExecutionError, ExecutionMode, ExecutionOutcome } from './outcome.ts';

/** Plan-wide counters, carried by every event (progress bars read them); VM and node actions together. */
export interface ProgressCounts {
  readonly total: number;
  readonly done: number;
  readonly failed: number;
  readonly running: number;
}

interface Base {
  readonly planId: string;
  readonly at: number;
  readonly counts: ProgressCounts;
}

/**
 * What the executor reports while it runs. The NATS adapter publishes each one on the plan's
 * progress subject; `undo` marks the unpauses sent to undo a half-done vjob pause.
 */
export type ExecutorEvent =
  | (Base & {
      readonly kind: 'plan-started';
      readonly mode: ExecutionMode;
      readonly steps: number;
      readonly estimatedMs: number;
    })
  | (Base & { readonly kind: 'step-started'; readonly step: number; readonly actions: number })
  | (Base & { readonly kind: 'step-done'; readonly step: number })
  | (Base & {
      readonly kind: 'action-started';
      readonly action: PlannedAction;
      readonly wireId: string;
      readonly node: string;
      readonly undo?: boolean;
    })
  | (Base & {
      readonly kind: 'action-retried';
      readonly action: PlannedAction;
      readonly wireId: string;
      readonly attempt: number;
      readonly reason: string;
    })
  | (Base & {
      readonly kind: 'action-done';
      readonly action: PlannedAction;
      readonly wireId: string;
      readonly durationMs: number;
      /** The agent's clock around the hypervisor call (ActionResult), when it sent them. */
      readonly startedAt?: number;
      readonly endedAt?: number;
      /** Where the action left its VM, by the agent's result (or the life cycle table when the result does not say). */
      readonly after: { readonly state: VMState; readonly host?: string };
      readonly undo?: boolean;
    })
  | (Base & {
      readonly kind: 'action-failed';
      readonly action: PlannedAction;
      readonly wireId: string;
      readonly error: ExecutionError;
      readonly undo?: boolean;
    })
  // A node power action (boot, shutdown): its own kinds, so that consumers of VM actions keep `action.vm`.
  | (Base & { readonly kind: 'node-action-started'; readonly nodeAction: NodeAction; readonly wireId: string })
  | (Base & {
      readonly kind: 'node-action-done';
      readonly nodeAction: NodeAction;
      readonly wireId: string;
      readonly durationMs: number;
    })
  | (Base & {
      readonly kind: 'node-action-failed';
      readonly nodeAction: NodeAction;
      readonly wireId: string;
      readonly error: ExecutionError;
    })
  | (Base & { readonly kind: 'plan-done' | 'plan-failed'; readonly outcome: ExecutionOutcome });

export type ExecutorEventKind = ExecutorEvent['kind'];
