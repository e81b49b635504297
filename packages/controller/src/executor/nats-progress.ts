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

/**
 * An `onEvent` that publishes each event on the plan's progress subject, in order. Events are
 * published after the current turn of the event loop, all at once: building them must not delay
 * the action requests and results they describe (it was a tenth of a step's time). A plan's last
 * event goes out at once with everything before it, so nothing is pending once a plan has ended.
 */
export function progressPublisher(nc: NatsConnection, subjects: Subjects): (e: ExecutorEvent) => void {
  let queue: ExecutorEvent[] = [];
  let scheduled: NodeJS.Immediate | undefined;
  let subject = { planId: '', value: '' };
  const subjectOf = (planId: string) => (subject.planId === planId ? subject.value : (subject = { planId, value: subjects.planProgress(planId) }).value);

  function flush(): void {
    if (scheduled) clearImmediate(scheduled);
    scheduled = undefined;
    const events = queue;
    queue = [];
    if (nc.isClosed() || nc.isDraining()) return;
    for (const e of events) {
      const msg = toPlanProgress(e);
      if (msg) nc.publish(subjectOf(e.planId), encodeTyped<'progress'>(msg));
    }
  }

  return (e) => {
    queue.push(e);
    if (e.kind === 'plan-done' || e.kind === 'plan-failed') flush();
    else scheduled ??= setImmediate(flush);
  };
}
