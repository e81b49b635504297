import type { NatsConnection } from '@nats-io/transport-node';
import { encodeTyped, type PlanProgress, ProgressKind, type Subjects } from '@entropy/protocol';
import type { ExecutorEvent } from './events.ts';

/** The protocol's view of an executor event; events the protocol has no kind for map to undefined. */
export function toPlanProgress(e: ExecutorEvent): PlanProgress | undefined {
  const base = { planId: e.planId, ts: e.at, counts: e.counts };
  switch (e.kind) {
    case 'plan-started':
      return { ...base, kind: ProgressKind.PlanStarted, durationMs: e.estimatedMs };
    case 'step-started':
      return { ...base, kind: ProgressKind.StepStarted, step: e.step };
    case 'step-done':
      return { ...base, kind: ProgressKind.StepDone, step: e.step };
    case 'action-started':
      return { ...base, kind: ProgressKind.ActionStarted, actionId: e.wireId, ...stepOf(e.action.step) };
    case 'action-done':
      return { ...base, kind: ProgressKind.ActionDone, actionId: e.wireId, durationMs: e.durationMs, ...stepOf(e.action.step) };
    case 'action-failed':
      return { ...base, kind: ProgressKind.ActionFailed, actionId: e.wireId, error: e.error, ...stepOf(e.action.step) };
    case 'plan-done':
    case 'plan-failed': {
      const { outcome } = e;
      const error = outcome.failed?.error ?? (outcome.abortReason !== undefined ? { code: 'ENTROPY_ABORTED', message: outcome.abortReason } : undefined);
      return { ...base, kind: e.kind === 'plan-done' ? ProgressKind.PlanDone : ProgressKind.PlanFailed, durationMs: outcome.measuredMs, ...(error ? { error } : {}) };
    }
    default:
      return undefined;
  }
}

const stepOf = (step: number) => (step >= 0 ? { step } : {});

/** An `onEvent` that publishes each event on the plan's progress subject. */
export function progressPublisher(nc: NatsConnection, subjects: Subjects): (e: ExecutorEvent) => void {
  return (e) => {
    const msg = toPlanProgress(e);
    if (msg && !nc.isClosed()) nc.publish(subjects.planProgress(e.planId), encodeTyped<'progress'>(msg));
  };
}
