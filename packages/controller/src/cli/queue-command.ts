import type { QueueReply } from '@entropy/protocol';
import type { CommandResult } from '../command-io/io.ts';
import { controlRequest, type ControlClientOptions } from './queue-request.ts';
import { table } from '../command-io/text-table.ts';

export interface QueueCommandOptions extends ControlClientOptions {
  readonly json?: boolean;
}

/** `entropy queue`: the controller's vjob queue, as a table or JSON. */
export async function queueCommand(options: QueueCommandOptions = {}): Promise<CommandResult> {
  const reply = await controlRequest('queue', { kind: 'queueRequest', msg: {} }, 'queueReply', options);
  if (!reply.ok) return { output: `queue refused (${reply.error.code}): ${reply.error.message}`, exitCode: 1 };
  return { output: options.json ? JSON.stringify(reply, null, 2) : formatQueue(reply), exitCode: 0 };
}

const ago = (ms: number) =>
  ms < 60_000
    ? `${Math.round(ms / 1000)}s ago`
    : ms < 3_600_000
      ? `${Math.round(ms / 60_000)}m ago`
      : `${(ms / 3_600_000).toFixed(1)}h ago`;

export function formatQueue(q: Extract<QueueReply, { ok: true }>): string {
  const count = (state: string) => q.vjobs.filter((v) => v.state === state).length;
  const head = `controller ${q.controller}, policy ${q.policy ?? '-'}, queue in ${q.store === 'kv' ? 'JetStream KV' : 'memory'}: ${q.vjobs.length} vjobs (${['waiting', 'running', 'sleeping', 'terminated'].map((s) => `${count(s)} ${s}`).join(', ')})`;
  if (q.vjobs.length === 0) return head;
  const rows = q.vjobs.map((v) => {
    const running = v.vms.filter((vm) => vm.state === 'running').length;
    const state =
      v.state === 'terminated'
        ? `terminated (${v.end ?? '?'})`
        : v.cancelRequestedAt !== undefined
          ? `${v.state} (cancelling)`
          : v.state;
    return [
      v.id,
      state,
      String(v.priority),
      v.effectivePriority === undefined ? '-' : v.effectivePriority.toFixed(2),
      ago(Math.max(0, q.ts - v.submittedAt)),
      `${v.vms.length}${running > 0 && running < v.vms.length ? ` (${running} running)` : ''}`,
      [...new Set(v.vms.map((vm) => vm.host).filter((h) => h !== undefined))].join(',') || '-',
      shortened(v.reason ?? '-'),
    ];
  });
  return [
    head,
    '',
    ...table(['vjob', 'state', 'priority', 'effective', 'submitted', 'vms', 'hosts', 'reason'], rows),
  ].join('\n');
}

/** The reason column's width at most: `entropy explain VJOB` gives the whole of it. */
const REASON_WIDTH = 100;
const shortened = (reason: string) =>
  reason.length > REASON_WIDTH ? `${reason.slice(0, REASON_WIDTH - 3)}...` : reason;
