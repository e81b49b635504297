import { ControlErrorCode, decodeControl, encodeControl, type ExplainReply, type Logger } from '@entropy/protocol';
import type { Policy } from '@entropy/engine';
import type { MonitorView } from '../monitor/index.ts';
import type { VJobQueue } from '../queue/vjob-queue.ts';
import type { LastTurn } from '../reconcile/reconcile-loop.ts';
import { explainVjob } from '../reconcile/vjob-explanation.ts';
import { queuedVjobOf } from './queue-requests.ts';

export interface ExplainRequestDeps {
  readonly name: string;
  readonly logger: Logger;
  readonly queue?: VJobQueue;
  readonly policy?: Policy;
  view(): MonitorView;
  lastTurn(): LastTurn | undefined;
  readonly now?: () => number;
}

/** The `explain` control request: why a vjob of the queue is in its state, as of the loop's last turn. Read-only. */
export function explainRequest(deps: ExplainRequestDeps, data: Uint8Array): Uint8Array {
  const refuse = (code: ControlErrorCode, message: string, field?: string): Uint8Array =>
    encodeControl('explainReply', { ok: false, error: { code, message, ...(field ? { field } : {}) } });
  const r = decodeControl('explainRequest', data);
  if (!r.ok) {
    deps.logger.warn({ kind: 'explainRequest', ...r.error }, 'malformed control request');
    return refuse(ControlErrorCode.BadRequest, `${r.error.field}: ${r.error.reason}`, r.error.field);
  }
  if (!deps.queue)
    return refuse(
      ControlErrorCode.BadRequest,
      'this controller runs no vjob queue: start it with entropy controller --policy NAME_OR_PATH',
    );
  const stored = deps.queue.get(r.msg.vjob);
  if (!stored) return refuse(ControlErrorCode.UnknownVJob, `no vjob '${r.msg.vjob}' in the queue`, 'vjob');
  const now = (deps.now ?? Date.now)();
  const vjob = queuedVjobOf(stored, deps.view(), deps.policy, now);
  const explained = explainVjob(vjob, deps.lastTurn(), deps.policy);
  const reply: ExplainReply = {
    ok: true,
    controller: deps.name,
    ts: now,
    ...(deps.policy ? { policy: deps.policy.name } : {}),
    vjob: { ...vjob, reason: explained.summary },
    ...explained,
  };
  return encodeControl('explainReply', reply);
}
