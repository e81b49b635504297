import {
  type ApplyReply,
  type ControlError,
  ControlErrorCode,
  type ControlKind,
  decodeControl,
  encodeControl,
  type Logger,
} from '@entropy/protocol';
import type { FeasiblePlan } from '@entropy/engine';
import type { ReconcileLoop, ReviewedReply } from '../reconcile/reconcile-loop.ts';
import type { VJobQueue } from '../queue/vjob-queue.ts';
import { planFields, reviewedPlanMessage, reviewedPlanOf } from '../review/reviewed-plan.ts';

export interface ReviewRequestDeps {
  readonly name: string;
  readonly logger: Logger;
  /** The leader's loop, or undefined while standing by. */
  loop(): ReconcileLoop | undefined;
  readonly queue?: VJobQueue;
  readonly approve: boolean;
}

/** The `execute`, `plans`, `approve` and `reject` control requests: review before apply. */
export interface ReviewRequestHandlers {
  execute(data: Uint8Array): Promise<Uint8Array>;
  plans(data: Uint8Array): Uint8Array;
  approve(data: Uint8Array): Promise<Uint8Array>;
  reject(data: Uint8Array): Uint8Array;
}

type ReplyKind = 'executeReply' | 'plansReply' | 'approveReply' | 'rejectReply';

export function reviewRequestHandlers(deps: ReviewRequestDeps): ReviewRequestHandlers {
  const { logger } = deps;
  const refused = (kind: ReplyKind, error: ControlError) => encodeControl(kind, { ok: false, error });
  const notLeading = (kind: ReplyKind) =>
    refused(kind, {
      code: ControlErrorCode.Busy,
      message: `controller ${deps.name} is not the leader (or is stopping)`,
    });

  function decoded<K extends ControlKind>(kind: K, data: Uint8Array, replyKind: ReplyKind) {
    const r = decodeControl(kind, data);
    if (r.ok) return { msg: r.msg };
    logger.warn({ kind, ...r.error }, 'malformed control request');
    return {
      reply: refused(replyKind, {
        code: ControlErrorCode.BadRequest,
        message: `${r.error.field}: ${r.error.reason}`,
        field: r.error.field,
      }),
    };
  }

  /** A reviewed run's reply, as an apply's: the plan that runs (the skipped actions left out), or why not. */
  function applyReplyOf(planId: string, r: ReviewedReply): ApplyReply {
    if (r.ok) return planReply(planId, r.plan, r.executing);
    if ('busy' in r)
      return {
        ok: false,
        error: {
          code: ControlErrorCode.Busy,
          message: `${r.busy.startsWith('an agent') ? r.busy : `plan ${r.busy} is running`}; try again`,
        },
      };
    return { ok: false, error: { code: r.code, message: r.message } };
  }

  return {
    async execute(data) {
      const d = decoded('executeRequest', data, 'executeReply');
      if (d.reply) return d.reply;
      const loop = deps.loop();
      if (!loop) return notLeading('executeReply');
      const { msg } = d;
      const reviewed = reviewedPlanOf(msg.plan);
      const r = await loop.runReviewed({
        planId: msg.planId,
        reviewed,
        ...(msg.skip ? { skip: msg.skip } : {}),
        ...(msg.mode ? { mode: msg.mode } : {}),
      });
      // The operator's vjobs stay where the plan takes them: the loop would otherwise take them back to what was wanted before.
      if (r.ok && r.executing && deps.queue) {
        const moved = new Set(r.plan.actions.map((a) => a.vjob));
        for (const [vjob, state] of Object.entries(reviewed.decision))
          if (moved.has(vjob) && !deps.queue.isPolicyVjob(vjob) && deps.queue.get(vjob) !== undefined)
            await deps.queue.want(vjob, state);
      }
      return encodeControl('executeReply', applyReplyOf(msg.planId, r));
    },
    plans(data) {
      const d = decoded('plansRequest', data, 'plansReply');
      if (d.reply) return d.reply;
      const loop = deps.loop();
      if (!loop) return notLeading('plansReply');
      const { pending, rejected } = loop.proposals();
      return encodeControl('plansReply', {
        ok: true,
        controller: deps.name,
        approve: deps.approve,
        proposals: pending.map((p) => ({ ...reviewedPlanMessage(p), proposedAt: p.proposedAt })),
        rejected: rejected.map((r) => ({ id: r.id, at: r.rejectedAt })),
      });
    },
    async approve(data) {
      const d = decoded('approveRequest', data, 'approveReply');
      if (d.reply) return d.reply;
      const loop = deps.loop();
      if (!loop) return notLeading('approveReply');
      const r = await loop.approve(d.msg.id, d.msg.mode);
      if (!r.ok && 'unknown' in r)
        return refused('approveReply', { code: ControlErrorCode.UnknownPlan, message: r.unknown, field: 'id' });
      return encodeControl('approveReply', applyReplyOf(d.msg.id, r));
    },
    reject(data) {
      const d = decoded('rejectRequest', data, 'rejectReply');
      if (d.reply) return d.reply;
      const loop = deps.loop();
      if (!loop) return notLeading('rejectReply');
      if (!loop.reject(d.msg.id))
        return refused('rejectReply', {
          code: ControlErrorCode.UnknownPlan,
          message: `no proposed plan ${d.msg.id}`,
          field: 'id',
        });
      return encodeControl('rejectReply', { ok: true, id: d.msg.id });
    },
  };
}

/** The reply of a plan that runs (or has nothing to run) under `planId`. */
export function planReply(planId: string, plan: FeasiblePlan, executing: boolean): ApplyReply {
  return {
    ok: true,
    planId,
    ...planFields(plan),
    solveMs: plan.solveMs,
    excluded: [],
    executing,
  };
}
