import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { type ApplyReply, ControlErrorCode, decode, encodeControl, type PlanProgress, subjects } from '@entropy/protocol';
import { newPlanId } from '../controller/controller.ts';
import { askController, connectNats, DEFAULT_NATS_URL } from '../controller/nats-connect.ts';
import { formatGroupSkew, pauseGroupSkews, type TimedAction } from '../executor/group-skew.ts';
import type { FeasiblePlan } from '../model/plan.ts';
import { readApplySource } from './apply-source.ts';
import { formatPlan, seconds } from './format-plan.ts';
import type { CommandResult } from './io.ts';

/** Exit codes of `entropy apply`; 1 (bad input, no controller) is main.ts's for every user-reachable error. */
export const ApplyExit = { Ok: 0, BadInput: 1, Infeasible: 2, Failed: 4 } as const;

export const APPLY_HELP = `
TARGET is an instance file (its decision is applied; its VMs and vjobs are registered with the
controller), a decision file ({"j1": "sleeping"}), or an inline decision (j1=sleeping,j2=running).
The plan starts from the configuration the controller observes now, not from the instance's.

Exit codes:
  0  the plan completed (or there was nothing to do, or --dry-run)
  1  bad input, no controller, or the controller refused the decision
  2  no plan reaches the decision
  4  the plan failed or was stopped (the summary says which action, and what was undone)`;

export interface ApplyCommandOptions {
  readonly nats?: string;
  readonly prefix?: string;
  readonly mode?: 'barrier' | 'asap';
  readonly timeLimit?: number;
  readonly dryRun?: boolean;
  /** Give up waiting for the end of the plan after this long (default: 3 x makespan + 2 min). */
  readonly timeout?: number;
}

export interface ApplyIo {
  /** Text shown before the end (the plan); the summary is the returned output. */
  write(text: string): void;
  /** Draw progress bars (on a terminal); otherwise one line per step on `log`. */
  readonly bars: boolean;
  log(line: string): void;
}

const defaultIo: ApplyIo = {
  write: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  bars: process.stderr.isTTY === true,
  log: (line) => process.stderr.write(`${line}\n`),
};


/** `entropy apply TARGET`: plan on the controller, print the plan, follow its execution, summarize. */
export async function applyCommand(target: string, options: ApplyCommandOptions = {}, io: ApplyIo = defaultIo): Promise<CommandResult> {
  const source = readApplySource(target);
  const url = options.nats ?? DEFAULT_NATS_URL;
  const nc = await connectNats(url, 'entropy-apply');
  try {
    const s = subjects(options.prefix);
    const planId = newPlanId('apply');
    // Subscribe first: the controller starts publishing progress right after its reply.
    const progress = nc.subscribe(s.planProgress(planId));
    await nc.flush();
    const request = {
      planId,
      ...source,
      ...(options.mode ? { mode: options.mode } : {}),
      ...(options.timeLimit ? { timeLimitMs: options.timeLimit } : {}),
      ...(options.dryRun ? { dryRun: true } : {}),
    };
    // The reply lists every action of the plan and every VM's target: chunked on a large cluster.
    const reply: ApplyReply = await askController(nc, { subjects: s, url }, 'apply', encodeControl('applyRequest', request), 'applyReply', 60_000 + (options.timeLimit ?? 0));
    if (!reply.ok) {
      if (reply.error.code === ControlErrorCode.Infeasible) return { output: `infeasible: ${reply.error.message}`, exitCode: ApplyExit.Infeasible };
      return { output: `apply refused (${reply.error.code}): ${reply.error.message}`, exitCode: ApplyExit.BadInput };
    }
    const plan: FeasiblePlan = { feasible: true, actions: reply.actions, steps: reply.steps, makespan: reply.makespan, sumCompletion: reply.sumCompletion, solveMs: reply.solveMs, target: {} };
    io.write(`plan ${planId}\n${formatPlan(plan)}`);
    if (reply.excluded.length > 0) io.write(`left out of planning: ${reply.excluded.map((e) => `${e.vm} (${e.reason})`).join(', ')}`);
    for (const note of reply.notes ?? []) io.write(`note: ${note}`);
    if (!reply.executing) {
      progress.unsubscribe();
      return { output: options.dryRun ? 'dry run: nothing executed' : 'nothing to do: the cluster is already in the wanted state', exitCode: ApplyExit.Ok };
    }
    const timeoutMs = options.timeout ?? 3 * plan.makespan + 120_000;
    const executor = async (): Promise<string | undefined> => {
      try {
        const st = await askController(nc, { subjects: s, url }, 'status', encodeControl('statusRequest', {}), 'statusReply', LIVENESS_TIMEOUT_MS);
        return st.running === planId ? undefined : `controller ${st.controller} leads and does not run plan ${planId} any more: it was interrupted; the leader plans from what the agents report`;
      } catch {
        return `the controller executing plan ${planId} is gone: no controller answers on prefix ${s.prefix}`;
      }
    };
    return await follow(plan, planId, progress, timeoutMs, io, executor);
  } finally {
    await nc.close();
  }
}

interface Followed {
  /** The executor's estimate for its mode, from plan-started. */
  estimatedMs?: number;
  /** Each done action's agent-side timestamps, for the pause and unpause skews. */
  readonly timed: (TimedAction & { type: string; vjob: string })[];
  readonly end?: PlanProgress;
  readonly failures: PlanProgress[];
  readonly undone: PlanProgress[];
}

/** With no progress for this long, `apply` asks whether the controller still runs its plan. */
const LIVENESS_PERIOD_MS = 3000;
const LIVENESS_TIMEOUT_MS = 3000;

async function follow(
  plan: FeasiblePlan,
  planId: string,
  sub: AsyncIterable<{ data: Uint8Array }> & { unsubscribe(): void },
  timeoutMs: number,
  io: ApplyIo,
  executorGone: () => Promise<string | undefined>,
): Promise<CommandResult> {
  const byWireId = new Map(plan.actions.map((a) => [`${planId}:${a.id}`, a]));
  const bars = io.bars ? new MultiBar({ clearOnComplete: false, hideCursor: true, format: '{name} |{bar}| {value}/{total} {detail}' }, Presets.shades_classic) : undefined;
  const stepBar: SingleBar | undefined = bars?.create(plan.steps, 0, { name: 'steps  ', detail: '' });
  const actionBar: SingleBar | undefined = bars?.create(plan.actions.length, 0, { name: 'actions', detail: '' });
  const timer = setTimeout(() => sub.unsubscribe(), timeoutMs);
  const seen: Followed = { failures: [], undone: [], timed: [] };
  let end: PlanProgress | undefined;
  let stepsDone = 0;
  let gone: string | undefined;
  let lastProgress = Date.now();
  // A controller killed mid-plan publishes nothing more: look for it when the plan falls silent.
  const liveness = setInterval(() => {
    if (Date.now() - lastProgress < LIVENESS_PERIOD_MS) return;
    lastProgress = Date.now();
    void executorGone().then((why) => {
      if (why === undefined || end) return;
      gone = why;
      sub.unsubscribe();
    });
  }, LIVENESS_PERIOD_MS / 3);
  try {
    for await (const m of sub) {
      lastProgress = Date.now();
      const r = decode('progress', m.data);
      if (!r.ok) continue;
      const p = r.msg;
      const a = p.actionId ? byWireId.get(p.actionId) : undefined;
      const undo = p.actionId?.startsWith(`${planId}:undo-`) ?? false;
      switch (p.kind) {
        case 'plan-started':
          seen.estimatedMs = p.durationMs;
          break;
        case 'action-started':
          actionBar?.update(p.counts.done + p.counts.failed, { detail: a ? `${a.type} ${a.vm}` : undo ? 'undoing a pause' : '' });
          break;
        case 'action-done':
          if (a && p.startedAt !== undefined) seen.timed.push({ type: a.type, vjob: a.vjob, node: a.type === 'run' || a.type === 'resume' ? a.to : a.from, startedAt: p.startedAt, endedAt: p.endedAt });
          if (undo) seen.undone.push(p);
          else actionBar?.update(p.counts.done + p.counts.failed, { detail: a ? `${a.type} ${a.vm} ${seconds(p.durationMs ?? 0)}` : '' });
          break;
        case 'action-failed':
          seen.failures.push(p);
          actionBar?.update(p.counts.done + p.counts.failed, { detail: `FAILED ${a ? `${a.type} ${a.vm}` : p.actionId}` });
          if (!bars) io.log(`failed: ${a ? `${a.type} ${a.vm}` : p.actionId}: ${p.error?.message ?? ''}`);
          break;
        case 'step-done':
          stepsDone++;
          stepBar?.update(stepsDone, { detail: `step ${p.step} done` });
          if (!bars) io.log(`step ${p.step} done (${stepsDone}/${plan.steps} steps, ${p.counts.done}/${p.counts.total} actions)`);
          break;
        case 'plan-done':
        case 'plan-failed':
          end = p;
          break;
      }
      if (end) break;
    }
  } finally {
    clearTimeout(timer);
    clearInterval(liveness);
    bars?.stop();
    sub.unsubscribe();
  }
  if (!end && gone) return { output: `plan ${planId}: ${gone}`, exitCode: ApplyExit.Failed };
  if (!end) return { output: `no end of plan ${planId} within ${seconds(timeoutMs)}: see the controller's log`, exitCode: ApplyExit.Failed };
  return summarize(plan, planId, end, seen, byWireId);
}

function summarize(plan: FeasiblePlan, planId: string, end: PlanProgress, seen: Followed, byWireId: ReadonlyMap<string, FeasiblePlan['actions'][number]>): CommandResult {
  const measured = end.durationMs ?? 0;
  const estimated = seen.estimatedMs ?? plan.makespan;
  const delta = estimated > 0 ? ` (${measured >= estimated ? '+' : ''}${Math.round(((measured - estimated) / estimated) * 100)}%)` : '';
  // Step by step, each step waits for its slowest action: longer than the timed plan.
  const mode = estimated > plan.makespan ? ` step by step; ${seconds(plan.makespan)} as soon as possible (--mode asap)` : '';
  const lines = [''];
  const ok = end.kind === 'plan-done';
  lines.push(ok ? `plan ${planId} completed: ${plan.actions.length} actions in ${plan.steps} steps` : `plan ${planId} FAILED: ${end.error?.code ?? ''} ${end.error?.message ?? ''}`.trimEnd());
  lines.push(`measured ${seconds(measured)} vs estimated ${seconds(estimated)}${delta}${mode}`);
  // The agents' clocks around each hypervisor call: how together each vjob was paused and unpaused.
  for (const g of pauseGroupSkews(seen.timed)) lines.push(formatGroupSkew(g));
  if (!ok) {
    lines.push(`${end.counts.done} of ${end.counts.total} actions done, ${end.counts.failed} failed, ${end.counts.total - end.counts.done - end.counts.failed} not started`);
    for (const f of seen.failures) {
      const a = f.actionId ? byWireId.get(f.actionId) : undefined;
      lines.push(`  failed: ${a ? `${a.id} ${a.type} ${a.vm}` : f.actionId}: ${f.error?.code ?? ''} ${f.error?.message ?? ''}`);
    }
    if (seen.undone.length > 0) lines.push(`  undone: ${seen.undone.length} paused VMs unpaused (their vjob's pause was not complete)`);
  }
  return { output: lines.join('\n'), exitCode: ok ? ApplyExit.Ok : ApplyExit.Failed };
}
