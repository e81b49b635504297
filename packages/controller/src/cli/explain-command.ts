import { ControlErrorCode, type ExplainReply } from '@entropy/protocol';
import type { CommandResult } from '../command-io/io.ts';
import { controlRequest, type ControlClientOptions } from './queue-request.ts';

export interface ExplainCommandOptions extends ControlClientOptions {
  readonly json?: boolean;
}

/** Exit code when the queue has no such vjob. */
export const UNKNOWN_VJOB_EXIT = 3;

/** `entropy explain VJOB`: why the vjob is in its state, as of the control loop's last turn. */
export async function explainCommand(vjob: string, options: ExplainCommandOptions = {}): Promise<CommandResult> {
  const reply = await controlRequest('explain', { kind: 'explainRequest', msg: { vjob } }, 'explainReply', options);
  if (!reply.ok) {
    if (reply.error.code === ControlErrorCode.UnknownVJob)
      return { output: `explain: ${reply.error.message}`, exitCode: UNKNOWN_VJOB_EXIT };
    return { output: `explain refused (${reply.error.code}): ${reply.error.message}`, exitCode: 1 };
  }
  return { output: options.json ? JSON.stringify(reply, null, 2) : formatExplanation(reply), exitCode: 0 };
}

const num = (x: number) => String(Number(x.toFixed(2)));
const ago = (ms: number) => (ms < 60_000 ? `${Math.round(ms / 1000)}s ago` : `${Math.round(ms / 60_000)}m ago`);

export function formatExplanation(e: Extract<ExplainReply, { ok: true }>): string {
  const v = e.vjob;
  const priority =
    e.effectivePriority !== undefined || v.effectivePriority !== undefined
      ? `priority ${num(v.priority)}, effective ${(e.effectivePriority ?? v.effectivePriority!).toFixed(2)}`
      : `priority ${num(v.priority)}`;
  const lines = [`vjob ${v.id}: ${v.state} (${priority}), submitted ${ago(Math.max(0, e.ts - v.submittedAt))}`];
  lines.push(`  why: ${e.summary}`);
  if (e.position !== undefined)
    lines.push(
      `  queue position: ${e.position} of ${e.queueLength ?? '?'} (policy ${e.policy ?? '-'})${
        e.aheadCount
          ? `, ${e.aheadCount} ahead: ${(e.ahead ?? []).join(', ')}${e.aheadCount > (e.ahead?.length ?? 0) ? ', ...' : ''}`
          : ', nobody ahead'
      }`,
    );
  if (e.policyReason !== undefined)
    lines.push(
      `  policy ${e.policy ?? ''} decided: ${e.policyDecided ?? 'nothing (it keeps its state)'}: ${e.policyReason}`,
    );
  else if (e.policyDecided !== undefined) lines.push(`  policy ${e.policy ?? ''} decided: ${e.policyDecided}`);
  if (e.short)
    lines.push(
      `  short of: ${e.short.resource}, needs ${num(e.short.needed)}, ${num(e.short.free)} free ${
        e.short.scope === 'cluster'
          ? 'in all'
          : e.short.scope === 'node'
            ? 'on the best node'
            : 'in all, but not in one packing'
      }`,
    );
  for (const h of e.held) lines.push(`  held${h.kind ? ` (${h.kind})` : ''}: ${h.reason}`);
  if (e.deferred) lines.push(`  deferred: ${e.deferred}`);
  if (e.conflict) {
    lines.push(`  conflict: ${e.conflict.sentence}`);
    for (const c of e.conflict.constraints) lines.push(`    constraint ${c}`);
    if (e.conflict.starts.length > 0) lines.push(`    starts: ${e.conflict.starts.join(', ')}`);
  }
  for (const n of e.notes) lines.push(`  note: ${n}`);
  if (e.turn)
    lines.push(
      `  last turn: ${ago(Math.max(0, e.ts - e.turn.at))}, ${e.turn.outcome}${e.wanted ? `; wanted ${e.wanted}` : ''}${
        e.planned ? `, planned ${e.planned}` : ''
      }`,
    );
  else lines.push('  no turn of the control loop yet');
  return lines.join('\n');
}
