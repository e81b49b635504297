import { type Constraint, describeConstraint, type Policy, type PolicyReason } from '@entropy/engine';
import type { ExplainReply, QueuedVjobMessage } from '@entropy/protocol';
import type { LastTurn } from './reconcile-loop.ts';
import type { ReconcileResult } from './reconcile.ts';

/** What `entropy explain` says of one vjob, beyond its queue record. */
export type VjobExplanation = Omit<Extract<ExplainReply, { ok: true }>, 'ok' | 'controller' | 'ts' | 'policy' | 'vjob'>;

/** Policy.explain's answer per turn result: computed once, when first asked; null when the policy has none or it threw. */
const policyReasons = new WeakMap<ReconcileResult, Readonly<Record<string, PolicyReason>> | null>();

function reasonsOf(result: ReconcileResult, policy: Policy | undefined): Readonly<Record<string, PolicyReason>> | null {
  let r = policyReasons.get(result);
  if (r !== undefined) return r;
  r = null;
  if (policy?.explain && result.policyView) {
    try {
      r = policy.explain(result.policyView);
    } catch {
      // A user policy's optional explanation must not break `entropy explain` or `entropy queue`.
    }
  }
  policyReasons.set(result, r);
  return r;
}

/**
 * Why a vjob is in its state, from the control loop's last turn: what the policy decided and why,
 * what held it (generic: any `held` entry, with its `kind` when it has one), a start put off for
 * room, the turn's conflict when it names the vjob, and the turn's other notes that name it. Pure.
 */
export function explainVjob(
  queued: QueuedVjobMessage,
  last: LastTurn | undefined,
  policy: Policy | undefined,
): VjobExplanation {
  const id = queued.id;
  if (!last) return { held: [], notes: [], summary: summaryOf(queued, undefined) };
  const { result } = last;
  const reason = reasonsOf(result, policy)?.[id];
  const held = result.held
    .filter((h) => h.vjob === id)
    .map((h) => {
      const kind = (h as { readonly kind?: unknown }).kind;
      return { reason: h.reason, ...(typeof kind === 'string' && kind.length > 0 ? { kind } : {}) };
    });
  const conflict = result.conflict;
  const names = conflict ? conflictNames(conflict.constraints, conflict.starts, queued) : false;
  const relevant = conflict !== undefined && (names || result.outcome === 'infeasible');
  const deferred = result.deferred.includes(id)
    ? conflict?.starts.includes(id) && conflict.constraints.length > 0
      ? `no room yet: ${conflict.sentence}`
      : 'no room yet at the demands the engine plans with: the start waits for a later turn'
    : undefined;
  const notes = result.reasons.filter((r) => mentions(r, id));
  const wanted = result.wanted.get(id);
  const planned = result.decision[id];
  const policyDecided = result.policyDecision?.[id];
  const body: VjobExplanation = {
    turn: { at: last.at, outcome: result.outcome },
    ...(wanted ? { wanted } : {}),
    ...(planned ? { planned } : {}),
    ...(policyDecided ? { policyDecided } : {}),
    ...(reason?.position !== undefined ? { position: reason.position } : {}),
    ...(reason?.position !== undefined ? { queueLength: result.policyView?.queue.length ?? 0 } : {}),
    ...(reason?.effectivePriority !== undefined && Number.isFinite(reason.effectivePriority)
      ? { effectivePriority: reason.effectivePriority }
      : {}),
    ...(reason ? { policyReason: reason.reason } : {}),
    ...(reason?.short ? { short: reason.short } : {}),
    ...(reason?.ahead ? { ahead: [...reason.ahead] } : {}),
    ...(reason?.aheadCount !== undefined ? { aheadCount: reason.aheadCount } : {}),
    held,
    ...(deferred ? { deferred } : {}),
    ...(relevant && conflict
      ? {
          conflict: {
            sentence: conflict.sentence,
            constraints: conflict.constraints.map(describeConstraint),
            starts: [...conflict.starts],
            minimal: conflict.minimal,
          },
        }
      : {}),
    notes,
    summary: '',
  };
  return { ...body, summary: summaryOf(queued, body) };
}

/** The short form (`entropy queue`'s reason column): the first of an end, a hold, a conflict, a deferral, the policy's reason. */
function summaryOf(queued: QueuedVjobMessage, e: VjobExplanation | undefined): string {
  if (queued.state === 'terminated') return queued.end ?? 'terminated';
  if (queued.cancelRequestedAt !== undefined) return 'cancel requested: the loop stops its VMs';
  if (!e) return 'no turn of the control loop yet';
  if (e.held.length > 0) return `held${e.held[0]!.kind ? ` (${e.held[0]!.kind})` : ''}: ${e.held[0]!.reason}`;
  if (e.conflict) return `no plan: ${e.conflict.sentence}`;
  if (e.deferred) return e.deferred;
  if (e.policyReason) return e.policyReason;
  if (e.planned && e.planned !== queued.state) return `planned: ${e.planned}`;
  return '-';
}

/** Whether a conflict's starts or constraints name the vjob or one of its VMs. */
function conflictNames(constraints: readonly Constraint[], starts: readonly string[], queued: QueuedVjobMessage) {
  if (starts.includes(queued.id)) return true;
  const vms = new Set(queued.vms.map((v) => v.id));
  return constraints.some((c) => ('vm' in c && vms.has(c.vm)) || ('vms' in c && c.vms.some((v) => vms.has(v))));
}

/** Whether a sentence names the id as a whole token (ids are `[A-Za-z0-9_-]`). */
function mentions(sentence: string, id: string): boolean {
  return sentence.split(/[^A-Za-z0-9_-]+/).includes(id);
}
