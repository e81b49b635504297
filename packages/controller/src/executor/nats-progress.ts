import type { NatsConnection } from '@nats-io/transport-node';
import { encodeTyped, ExecutorErrorCode, type PlanProgress, ProgressKind, type Subjects } from '@entropy/protocol';
import type { ExecutorEvent } from './events.ts';

/** The protocol's view of an executor event; events the protocol has no kind for map to undefined. */
export function toPlanProgress(e: ExecutorEvent): PlanProgress | undefined {
  // Each message spelled out: a spread followed by more properties is a slow path of V8 (about 2 µs a message here).
  const { planId, at: ts, counts } = e;
  switch (e.kind) {
    case 'plan-started':
      return { planId, ts, counts, kind: ProgressKind.PlanStarted, durationMs: e.estimatedMs };
    case 'step-started':
      return { planId, ts, counts, kind: ProgressKind.StepStarted, step: e.step };
    case 'step-done':
      return { planId, ts, counts, kind: ProgressKind.StepDone, step: e.step };
    case 'action-started':
      return { planId, ts, counts, kind: ProgressKind.ActionStarted, actionId: e.wireId, ...stepOf(e.action.step) };
    case 'action-done':
      return {
        planId,
        ts,
        counts,
        kind: ProgressKind.ActionDone,
        actionId: e.wireId,
        durationMs: e.durationMs,
        ...stepOf(e.action.step),
        ...(e.startedAt !== undefined && e.endedAt !== undefined ? { startedAt: e.startedAt, endedAt: e.endedAt } : {}),
      };
    case 'action-failed':
      return {
        planId,
        ts,
        counts,
        kind: ProgressKind.ActionFailed,
        actionId: e.wireId,
        error: e.error,
        ...stepOf(e.action.step),
      };
    case 'node-action-started':
      return {
        planId,
        ts,
        counts,
        kind: ProgressKind.ActionStarted,
        actionId: e.wireId,
        node: e.nodeAction.node,
        ...stepOf(e.nodeAction.step),
      };
    case 'node-action-done':
      return {
        planId,
        ts,
        counts,
        kind: ProgressKind.ActionDone,
        actionId: e.wireId,
        node: e.nodeAction.node,
        durationMs: e.durationMs,
        ...stepOf(e.nodeAction.step),
      };
    case 'node-action-failed':
      return {
        planId,
        ts,
        counts,
        kind: ProgressKind.ActionFailed,
        actionId: e.wireId,
        node: e.nodeAction.node,
        error: e.error,
        ...stepOf(e.nodeAction.step),
      };
    case 'plan-done':
    case 'plan-failed': {
      const { outcome } = e;
      const error =
        outcome.failed?.error ??
        outcome.nodeActions.failures[0]?.error ??
        (outcome.staleReason !== undefined
          ? { code: ExecutorErrorCode.PlanStale, message: outcome.staleReason }
          : undefined) ??
        (outcome.abortReason !== undefined
          ? { code: ExecutorErrorCode.Aborted, message: outcome.abortReason }
          : undefined);
      return {
        planId,
        ts,
        counts,
        kind: e.kind === 'plan-done' ? ProgressKind.PlanDone : ProgressKind.PlanFailed,
        durationMs: outcome.measuredMs,
        ...(error ? { error } : {}),
      };
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
  const subjectOf = (planId: string) =>
    subject.planId === planId ? subject.value : (subject = { planId, value: subjects.planProgress(planId) }).value;

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
