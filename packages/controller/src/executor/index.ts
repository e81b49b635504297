export {
  formatGroupSkew,
  groupSkew,
  type GroupSkew,
  pauseGroupSkews,
  type TimedAction,
  type VjobGroupSkew,
} from './group-skew.ts';
export { dispatchUnits, type DispatchUnit } from './dispatch-units.ts';
export {
  InvalidPlanIdError,
  NodePowerUnsupportedError,
  PlanErrorCode,
  PlanRefusedError,
  UnsupportedPlanError,
} from './errors.ts';
export { type NodePower, NodePowerError, NodePowerErrorCode, type NodePowerRequest } from './node-power.ts';
export type { ExecutorEvent, ExecutorEventKind, ProgressCounts } from './events.ts';
export {
  type ActionJournal,
  assertExecutable,
  estimatedDurationMs,
  executePlan,
  type ExecuteOptions,
  type ObservedPlace,
} from './execute-plan.ts';
export { MemoryTransport, type MemoryTransportOptions, type SendRecord } from './memory-transport.ts';
export {
  ExecutionMode,
  ExecutionStatus,
  ExecutorErrorCode,
  type CompletedAction,
  type CompletedNodeAction,
  type ExecutionError,
  type ExecutionOutcome,
  type FailedAction,
  type FailedNodeAction,
  type UndoAction,
} from './outcome.ts';
export {
  actionTimeoutMs,
  defaultTimeouts,
  InvalidTimeoutsError,
  parseTimeouts,
  type ActionTimeouts,
} from './timeouts.ts';
export { NodeLostError, TransientTransportError, type ActionTransport, type SendOptions } from './transport.ts';
export { progressPublisher, toPlanProgress } from './nats-progress.ts';
export { natsTransport, type NatsTransport, type NatsTransportOptions } from './nats-transport.ts';
