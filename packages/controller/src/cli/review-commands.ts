import { type ApplyReply, encodeControl, type PlansReply, subjects } from '@entropy/protocol';
import type { FeasiblePlan } from '@entropy/engine';
import { askController, connectNats } from '../controller/nats-connect.ts';
import type { CommandResult } from '../command-io/io.ts';
import { type ApplyCommandOptions, type ApplyIo, defaultIo, followReply, refusal } from './apply-command.ts';
import { formatPlan } from './format-plan.ts';
import { type ControlClientOptions, controlRequest } from './queue-request.ts';

/** `entropy plans`: the plan a controller in `--approve` mode proposes (with its action ids), and the rejected ones. */
export async function plansCommand(
  options: ControlClientOptions & { readonly json?: boolean },
): Promise<CommandResult> {
  const reply: PlansReply = await controlRequest('plans', { kind: 'plansRequest', msg: {} }, 'plansReply', options);
  if (!reply.ok) return { output: `plans refused (${reply.error.code}): ${reply.error.message}`, exitCode: 1 };
  if (options.json) return { output: JSON.stringify(reply, null, 2), exitCode: 0 };
  const lines: string[] = [];
  if (!reply.approve)
    lines.push(`controller ${reply.controller} executes its plans (start it with --approve to review them first)`);
  if (reply.proposals.length === 0 && reply.approve) lines.push('no plan waits for approval');
  for (const p of reply.proposals) {
    const plan: FeasiblePlan = { feasible: true, ...p, solveMs: 0 };
    const wanted = Object.entries(p.decision)
      .map(([j, st]) => `${j}=${st}`)
      .join(',');
    lines.push(
      `plan ${p.id}, proposed ${new Date(p.proposedAt).toISOString()}, reaches ${wanted || 'the observed states'}:`,
      formatPlan(plan),
      `entropy approve ${p.id}  |  entropy reject ${p.id}`,
    );
  }
  for (const r of reply.rejected)
    lines.push(`plan ${r.id} rejected ${new Date(r.at).toISOString()}: not proposed again until something changes`);
  return { output: lines.join('\n'), exitCode: 0 };
}

/** `entropy approve ID`: the controller checks the proposal against the cluster, executes it, and this follows it as apply does. */
export async function approveCommand(
  id: string,
  options: Pick<ApplyCommandOptions, 'nats' | 'prefix' | 'mode' | 'timeout' | 'gantt' | 'results'> &
    ApplyCommandOptions,
  io: ApplyIo = defaultIo,
): Promise<CommandResult> {
  const nc = await connectNats(options, 'entropy-approve');
  const url = options.nats ?? nc.getServer();
  try {
    const s = subjects(options.prefix);
    const progress = nc.subscribe(s.planProgress(id));
    await nc.flush();
    const reply: ApplyReply = await askController(
      nc,
      { subjects: s, url },
      'approve',
      encodeControl('approveRequest', { id, ...(options.mode ? { mode: options.mode } : {}) }),
      'approveReply',
      60_000,
    );
    if (!reply.ok) {
      progress.unsubscribe();
      return refusal('approve', reply.error);
    }
    return await followReply(nc, { subjects: s, url }, id, reply, progress, options, io);
  } finally {
    await nc.close();
  }
}

/** `entropy reject ID`: the proposal is dropped and not proposed again until what is wanted or observed changes. */
export async function rejectCommand(id: string, options: ControlClientOptions): Promise<CommandResult> {
  const reply = await controlRequest('reject', { kind: 'rejectRequest', msg: { id } }, 'rejectReply', options);
  if (!reply.ok) return { output: `reject refused (${reply.error.code}): ${reply.error.message}`, exitCode: 1 };
  return {
    output: `plan ${reply.id} rejected: nothing executed; not proposed again until what is wanted or observed changes`,
    exitCode: 0,
  };
}
