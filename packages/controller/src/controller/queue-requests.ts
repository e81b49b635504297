import {
  type ControlError,
  ControlErrorCode,
  type ControlKind,
  decodeControl,
  encodeControl,
  type Logger,
  type QueuedVjobMessage,
  type QueueReply,
} from '@entropy/protocol';
import type { Policy, VM } from '@entropy/engine';
import { type MonitorView, vjobIndexOf } from '../monitor/index.ts';
import type { StoredVJob } from '../queue/queue-store.ts';
import { submittedVjobConstraints } from '../queue/vjob-file.ts';
import { type QueueResult, type VJobQueue, observeVJob } from '../queue/vjob-queue.ts';
import type { LastTurn } from '../reconcile/reconcile-loop.ts';
import { explainVjob } from '../reconcile/vjob-explanation.ts';

export interface QueueRequestDeps {
  readonly name: string;
  readonly logger: Logger;
  /** Absent when the controller runs without a queue (no policy): every request is refused, and says so. */
  readonly queue?: VJobQueue;
  readonly policy?: Policy;
  view(): MonitorView;
  planRunning(): boolean;
  trigger(reason: string): void;
  readonly now?: () => number;
  /** The loop's last turn: each vjob's short reason (`entropy queue`'s reason column) comes from it. */
  readonly lastTurn?: () => LastTurn | undefined;
}

export interface QueueRequestHandlers {
  submit(data: Uint8Array): Promise<Uint8Array>;
  queue(data: Uint8Array): Promise<Uint8Array>;
  cancel(data: Uint8Array): Promise<Uint8Array>;
}

const NO_QUEUE: ControlError = {
  code: ControlErrorCode.BadRequest,
  message: 'this controller runs no vjob queue: start it with entropy controller --policy NAME_OR_PATH',
};

/**
 * The `submit`, `queue` and `cancel` control requests. Each is validated on receipt; a malformed
 * one is answered with ENTROPY_BAD_REQUEST naming the field, never a crash.
 */
export function queueRequestHandlers(deps: QueueRequestDeps): QueueRequestHandlers {
  const now = deps.now ?? Date.now;
  const { logger, queue } = deps;

  function decoded<K extends ControlKind>(
    kind: K,
    data: Uint8Array,
    replyKind: 'submitReply' | 'cancelReply' | 'queueReply',
  ) {
    const r = decodeControl(kind, data);
    if (r.ok) return { msg: r.msg };
    logger.warn({ kind, ...r.error }, 'malformed control request');
    const error = {
      code: ControlErrorCode.BadRequest,
      message: `${r.error.field}: ${r.error.reason}`,
      field: r.error.field,
    };
    return { reply: encodeControl(replyKind, { ok: false, error }) };
  }

  const withReason = (q: QueuedVjobMessage): QueuedVjobMessage => {
    if (!deps.lastTurn) return q;
    q.reason = explainVjob(q, deps.lastTurn(), deps.policy).summary;
    return q;
  };

  const vjobReply = (kind: 'submitReply' | 'cancelReply', r: QueueResult) =>
    encodeControl(kind, r.ok ? { ok: true, vjob: queuedVjobOf(r.vjob, deps.view(), deps.policy, now()) } : r);

  return {
    async submit(data) {
      const d = decoded('submitRequest', data, 'submitReply');
      if (!d.msg) return d.reply;
      if (!queue) return encodeControl('submitReply', { ok: false, error: NO_QUEUE });
      const checked = submittedVjobConstraints(d.msg.vjob);
      if ('issue' in checked) {
        const error = {
          code: ControlErrorCode.BadRequest,
          message: `${checked.issue.path}: ${checked.issue.reason}`,
          field: checked.issue.path,
        };
        logger.warn({ vjob: d.msg.vjob.id, ...error }, 'submit refused');
        return encodeControl('submitReply', { ok: false, error });
      }
      const r = await queue.submit({ ...d.msg.vjob, constraints: checked.constraints }, now(), deps.view());
      if (r.ok) deps.trigger('submit');
      else logger.warn({ vjob: d.msg.vjob.id, ...r.error }, 'submit refused');
      return vjobReply('submitReply', r);
    },
    async queue(data) {
      const d = decoded('queueRequest', data, 'queueReply');
      if (!d.msg) return d.reply;
      if (!queue) return encodeControl('queueReply', { ok: false, error: NO_QUEUE });
      const view = deps.view();
      const reply: QueueReply = {
        ok: true,
        controller: deps.name,
        ts: now(),
        ...(deps.policy ? { policy: deps.policy.name } : {}),
        store: queue.store.kind,
        vjobs: queue.list().map((v) => withReason(queuedVjobOf(v, view, deps.policy, now()))),
      };
      return encodeControl('queueReply', reply);
    },
    async cancel(data) {
      const d = decoded('cancelRequest', data, 'cancelReply');
      if (!d.msg) return d.reply;
      if (!queue) return encodeControl('cancelReply', { ok: false, error: NO_QUEUE });
      const r = await queue.cancel(d.msg.id, deps.view(), deps.planRunning(), now());
      if (r.ok) deps.trigger('cancel');
      return vjobReply('cancelReply', r);
    },
  };
}

/** A stored vjob with what the agents report now: each VM's state and host, the vjob's observed state. */
export function queuedVjobOf(
  v: StoredVJob,
  view: MonitorView,
  policy: Policy | undefined,
  now: number,
): QueuedVjobMessage {
  const live = new Map<string, VM>();
  for (const vm of vjobIndexOf(view).vms.get(v.id) ?? []) live.set(vm.id, vm);
  const seen = v.state === 'terminated' ? 'terminated' : observeVJob(v, view);
  const state = seen === 'gone' || seen === 'unknown' ? v.state : seen;
  // Built field by field: `entropy queue` lists every VM of the cluster's vjobs.
  const vms = v.vms.map((vm) => {
    const shown: QueuedVjobMessage['vms'][number] = { id: vm.id, demand: { ...vm.demand } };
    const l = live.get(vm.id);
    if (l !== undefined) shown.state = l.state;
    if (l?.host) shown.host = l.host;
    return shown;
  });
  let effectivePriority: number | undefined;
  if (policy?.effectivePriority && state !== 'terminated') {
    try {
      const p = policy.effectivePriority(
        {
          id: v.id,
          priority: v.priority,
          submittedAt: v.submittedAt,
          state,
          vms: v.vms.map((vm) => ({ id: vm.id, demand: vm.demand })),
        },
        now,
      );
      if (Number.isFinite(p)) effectivePriority = p;
    } catch {
      // A user policy's optional display hook must not break `entropy queue`.
    }
  }
  const queued: QueuedVjobMessage = { id: v.id, state, priority: v.priority, submittedAt: v.submittedAt, vms };
  if (effectivePriority !== undefined) queued.effectivePriority = effectivePriority;
  if (v.cancelRequestedAt !== undefined) queued.cancelRequestedAt = v.cancelRequestedAt;
  if (v.end) queued.end = v.end;
  if (v.endedAt !== undefined) queued.endedAt = v.endedAt;
  return queued;
}
