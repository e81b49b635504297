import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import {
  type ApplyReply,
  type ControlError,
  ControlErrorCode,
  EntropyError,
  ErrorCode,
  decode,
  encodeControl,
  type PlanProgress,
  subjects,
} from '@entropy/protocol';
import { newPlanId } from '../controller/controller.ts';
import { formatResultLines, resultLines } from '../calibration/results-file.ts';
import {
  askController,
  connectNats,
  type ControllerAddress,
  type NatsAuthFlags,
  type NatsConnection,
} from '../controller/nats-connect.ts';
import type { Subscription } from '@nats-io/transport-node';
import { savedPlanJson } from '../review/saved-plan-file.ts';
import { ganttSvg } from '../gantt/gantt-svg.ts';
import { measuredFromProgress } from '../gantt/measured-actions.ts';
import { formatGroupSkew, pauseGroupSkews, type TimedAction } from '../executor/group-skew.ts';
import type { FeasiblePlan } from '@entropy/engine';
import { type ApplySource, readApplySource, withCostModel } from './apply-source.ts';
import { readCostModelFile } from './cost-model-option.ts';
import { formatPlan, seconds } from './format-plan.ts';
import { type CommandResult, writeTextFile } from '../command-io/io.ts';

/**
 * Exit codes of `entropy apply` (and `entropy approve`); 1 (bad input, no controller) is main.ts's for every
 * user-reachable error. 3: the plan without the skipped actions fails verification; 5: a saved or proposed
 * plan no longer matches the cluster.
 */
export const ApplyExit = { Ok: 0, BadInput: 1, Infeasible: 2, SkipRefused: 3, Failed: 4, Stale: 5 } as const;

export interface ApplyCommandOptions extends NatsAuthFlags {
  readonly prefix?: string;
  readonly mode?: 'barrier' | 'asap';
  readonly timeLimit?: number;
  readonly dryRun?: boolean;
  /** Give up waiting for the end of the plan after this long (default: 3 x makespan + 2 min). */
  readonly timeout?: number;
  /** A cost-model file to plan with (the target instance's own `costModel` still applies over it). */
  readonly costModel?: string;
  /** Write a Gantt chart (SVG) of the plan, planned and measured, once it ends. */
  readonly gantt?: string;
  /** Write each completed action, measured, as a results file (JSON lines, calibration/results-file.ts) once the plan ends. */
  readonly results?: string;
  /** Save the plan, with the configuration it was computed from, to this file and execute nothing (implies a dry run). */
  readonly out?: string;
  /** Execute this saved plan (`--out`'s file) if the cluster still matches it, rather than planning. */
  readonly plan?: string;
  /** Action ids of the saved plan to leave out (with `plan`). */
  readonly skip?: readonly string[];
}

export interface ApplyIo {
  /** Text shown before the end (the plan); the summary is the returned output. */
  write(text: string): void;
  /** Draw progress bars (on a terminal); otherwise one line per step on `log`. */
  readonly bars: boolean;
  log(line: string): void;
}

export const defaultIo: ApplyIo = {
  write: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  bars: process.stderr.isTTY === true,
  log: (line) => process.stderr.write(`${line}\n`),
};

/**
 * `entropy apply TARGET`: plan on the controller, print the plan, follow its execution, summarize;
 * `--out FILE` saves the plan instead. `entropy apply --plan FILE [--skip ID...]` is apply-saved.ts's.
 */
export async function applyCommand(
  target: string | undefined,
  options: ApplyCommandOptions = {},
  io: ApplyIo = defaultIo,
): Promise<CommandResult> {
  if (target === undefined)
    throw new EntropyError(
      ErrorCode.Io,
      'apply: give a target (instance file, decision file or inline decision such as j1=running) or --plan FILE',
    );
  const read = readApplySource(target);
  const source = options.costModel ? withCostModel(read, readCostModelFile(options.costModel)) : read;
  const nc = await connectNats(options, 'entropy-apply');
  const url = options.nats ?? nc.getServer();
  try {
    const s = subjects(options.prefix);
    const planId = newPlanId('apply');
    // The VMs' memory, for the results file: asked before the plan, while every VM it acts on is known.
    const memOf = options.results ? await vmMemory(nc, { subjects: s, url }, source) : undefined;
    // Subscribe first: the controller starts publishing progress right after its reply.
    const progress = nc.subscribe(s.planProgress(planId));
    await nc.flush();
    const request = {
      planId,
      ...source,
      ...(options.mode ? { mode: options.mode } : {}),
      ...(options.timeLimit ? { timeLimitMs: options.timeLimit } : {}),
      ...(options.dryRun || options.out !== undefined ? { dryRun: true } : {}),
    };
    // The reply lists every action of the plan and every VM's target: chunked on a large cluster.
    const reply: ApplyReply = await askController(
      nc,
      { subjects: s, url },
      'apply',
      encodeControl('applyRequest', request),
      'applyReply',
      60_000 + (options.timeLimit ?? 0),
    );
    if (!reply.ok) return refusal('apply', reply.error);
    if (options.out !== undefined) {
      progress.unsubscribe();
      io.write(`plan ${planId}\n${formatPlan(planOf(reply))}`);
      const saved = savedPlanJson(planId, planOf(reply), reply, new Date());
      writeTextFile(options.out, `${JSON.stringify(saved, null, 2)}\n`);
      return {
        output: `saved plan ${planId} to ${options.out}: nothing executed; entropy apply --plan ${options.out} [--skip ACTION_ID ...] executes it while the cluster still matches`,
        exitCode: ApplyExit.Ok,
      };
    }
    return await followReply(nc, { subjects: s, url }, planId, reply, progress, options, io, memOf);
  } finally {
    await nc.close();
  }
}

/** A refused request's output and exit code. */
export function refusal(what: string, error: ControlError): CommandResult {
  switch (error.code) {
    case ControlErrorCode.Infeasible:
      return { output: `infeasible: ${error.message}`, exitCode: ApplyExit.Infeasible };
    case ControlErrorCode.PlanStale:
      return { output: `${what} refused: ${error.message}`, exitCode: ApplyExit.Stale };
    case ControlErrorCode.SkipRefused:
      return { output: `${what} refused: ${error.message}`, exitCode: ApplyExit.SkipRefused };
    default:
      return { output: `${what} refused (${error.code}): ${error.message}`, exitCode: ApplyExit.BadInput };
  }
}

const planOf = (reply: Extract<ApplyReply, { ok: true }>): FeasiblePlan => ({
  feasible: true,
  actions: reply.actions,
  ...(reply.nodeActions ? { nodeActions: reply.nodeActions } : {}),
  steps: reply.steps,
  makespan: reply.makespan,
  sumCompletion: reply.sumCompletion,
  solveMs: reply.solveMs,
  target: reply.target,
});

/**
 * After the controller's reply to a plan that may run (apply, a saved plan, an approval): print the
 * plan, then follow its progress (subscribed before the request) to its end, and write the reports.
 */
export async function followReply(
  nc: NatsConnection,
  to: ControllerAddress,
  planId: string,
  reply: Extract<ApplyReply, { ok: true }>,
  progress: Subscription,
  options: Pick<ApplyCommandOptions, 'dryRun' | 'timeout' | 'gantt' | 'results'>,
  io: ApplyIo,
  memOf?: ReadonlyMap<string, number>,
): Promise<CommandResult> {
  const s = to.subjects;
  const url = to.url;
  const plan = planOf(reply);
  io.write(`plan ${planId}\n${formatPlan(plan)}`);
  if (reply.excluded.length > 0)
    io.write(`left out of planning: ${reply.excluded.map((e) => `${e.vm} (${e.reason})`).join(', ')}`);
  for (const note of reply.notes ?? []) io.write(`note: ${note}`);
  if (!reply.executing) {
    progress.unsubscribe();
    const written = writeReports(plan, planId, undefined, options, memOf);
    return {
      output: [
        options.dryRun ? 'dry run: nothing executed' : 'nothing to do: the cluster is already in the wanted state',
        ...written,
      ].join('\n'),
      exitCode: ApplyExit.Ok,
    };
  }
  const timeoutMs = options.timeout ?? 3 * plan.makespan + 120_000;
  const executor = async (): Promise<string | undefined> => {
    try {
      const st = await askController(
        nc,
        { subjects: s, url },
        'status',
        encodeControl('statusRequest', {}),
        'statusReply',
        LIVENESS_TIMEOUT_MS,
      );
      return st.running === planId
        ? undefined
        : `controller ${st.controller} leads and does not run plan ${planId} any more: it was interrupted; the leader plans from what the agents report`;
    } catch {
      return `the controller executing plan ${planId} is gone: no controller answers on prefix ${s.prefix}`;
    }
  };
  const { result, events } = await follow(plan, planId, progress, timeoutMs, io, executor);
  const written = writeReports(plan, planId, events, options, memOf);
  return written.length > 0 ? { ...result, output: [result.output, ...written].join('\n') } : result;
}

/** Each VM's memory (MiB) as the controller knows it, and as the target instance declares it. */
async function vmMemory(nc: NatsConnection, to: ControllerAddress, source: ApplySource): Promise<Map<string, number>> {
  const st = await askController(
    nc,
    to,
    'status',
    encodeControl('statusRequest', {}),
    'statusReply',
    LIVENESS_TIMEOUT_MS,
  );
  const mem = new Map<string, number>();
  for (const v of st.vms) if (v.demand.mem !== undefined) mem.set(v.id, v.demand.mem);
  for (const v of source.vms ?? []) mem.set(v.id, v.demand.mem);
  return mem;
}

/** The files `--gantt` and `--results` ask for, from the plan and its progress messages; one line per file written. */
function writeReports(
  plan: FeasiblePlan,
  planId: string,
  events: readonly PlanProgress[] | undefined,
  options: Pick<ApplyCommandOptions, 'gantt' | 'results'>,
  memOf: ReadonlyMap<string, number> | undefined,
): string[] {
  const measured = events ? measuredFromProgress(planId, events) : undefined;
  const lines: string[] = [];
  if (options.gantt) {
    writeTextFile(options.gantt, ganttSvg(plan, measured, { title: `plan ${planId}` }));
    lines.push(`wrote ${options.gantt}`);
  }
  if (options.results && memOf) {
    const done = (measured ?? []).flatMap((m) =>
      m.ok && m.end !== undefined && m.durationMs !== undefined
        ? [{ id: m.id, durationMs: m.durationMs, start: m.start, end: m.end }]
        : [],
    );
    const results = resultLines(planId, plan.actions, done, (vm) => memOf.get(vm));
    writeTextFile(options.results, formatResultLines(results));
    lines.push(`wrote ${options.results}: ${results.length} completed actions`);
  }
  return lines;
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
): Promise<{ result: CommandResult; events: PlanProgress[] }> {
  const events: PlanProgress[] = [];
  const byWireId = new Map(plan.actions.map((a) => [`${planId}:${a.id}`, a]));
  const bars = io.bars
    ? new MultiBar(
        { clearOnComplete: false, hideCursor: true, format: '{name} |{bar}| {value}/{total} {detail}' },
        Presets.shades_classic,
      )
    : undefined;
  const stepBar: SingleBar | undefined = bars?.create(plan.steps, 0, { name: 'steps  ', detail: '' });
  const actionBar: SingleBar | undefined = bars?.create(plan.actions.length + (plan.nodeActions?.length ?? 0), 0, {
    name: 'actions',
    detail: '',
  });
  const nodeActionOf = new Map((plan.nodeActions ?? []).map((a) => [`${planId}:${a.id}`, a]));
  /** What a progress message is about: `migrate v1`, `shutdownNode n3`, or its id. */
  const what = (p: PlanProgress) => {
    const a = p.actionId ? byWireId.get(p.actionId) : undefined;
    if (a) return `${a.type} ${a.vm}`;
    const n = p.actionId ? nodeActionOf.get(p.actionId) : undefined;
    return n ? `${n.type} ${n.node}` : undefined;
  };
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
      events.push(p);
      const a = what(p);
      const undo = p.actionId?.startsWith(`${planId}:undo-`) ?? false;
      switch (p.kind) {
        case 'plan-started':
          seen.estimatedMs = p.durationMs;
          break;
        case 'action-started':
          actionBar?.update(p.counts.done + p.counts.failed, { detail: a ?? (undo ? 'undoing a pause' : '') });
          break;
        case 'action-done':
          {
            const va = p.actionId ? byWireId.get(p.actionId) : undefined;
            if (va && p.startedAt !== undefined)
              seen.timed.push({
                type: va.type,
                vjob: va.vjob,
                node: va.type === 'run' || va.type === 'resume' ? va.to : va.from,
                startedAt: p.startedAt,
                endedAt: p.endedAt,
              });
          }
          if (undo) seen.undone.push(p);
          else
            actionBar?.update(p.counts.done + p.counts.failed, {
              detail: a ? `${a} ${seconds(p.durationMs ?? 0)}` : '',
            });
          break;
        case 'action-failed':
          seen.failures.push(p);
          actionBar?.update(p.counts.done + p.counts.failed, { detail: `FAILED ${a ?? p.actionId}` });
          if (!bars) io.log(`failed: ${a ?? p.actionId}: ${p.error?.message ?? ''}`);
          break;
        case 'step-done':
          stepsDone++;
          stepBar?.update(stepsDone, { detail: `step ${p.step} done` });
          if (!bars)
            io.log(
              `step ${p.step} done (${stepsDone}/${plan.steps} steps, ${p.counts.done}/${p.counts.total} actions)`,
            );
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
  if (!end && gone) return { result: { output: `plan ${planId}: ${gone}`, exitCode: ApplyExit.Failed }, events };
  if (!end)
    return {
      result: {
        output: `no end of plan ${planId} within ${seconds(timeoutMs)}: see the controller's log`,
        exitCode: ApplyExit.Failed,
      },
      events,
    };
  return { result: summarize(plan, planId, end, seen, byWireId), events };
}

function summarize(
  plan: FeasiblePlan,
  planId: string,
  end: PlanProgress,
  seen: Followed,
  byWireId: ReadonlyMap<string, FeasiblePlan['actions'][number]>,
): CommandResult {
  const measured = end.durationMs ?? 0;
  const estimated = seen.estimatedMs ?? plan.makespan;
  const delta =
    estimated > 0
      ? ` (${measured >= estimated ? '+' : ''}${Math.round(((measured - estimated) / estimated) * 100)}%)`
      : '';
  // Step by step, each step waits for its slowest action: longer than the timed plan.
  const mode =
    estimated > plan.makespan ? ` step by step; ${seconds(plan.makespan)} as soon as possible (--mode asap)` : '';
  const lines = [''];
  const ok = end.kind === 'plan-done';
  lines.push(
    ok
      ? `plan ${planId} completed: ${plan.actions.length + (plan.nodeActions?.length ?? 0)} actions in ${plan.steps} steps`
      : `plan ${planId} FAILED: ${end.error?.code ?? ''} ${end.error?.message ?? ''}`.trimEnd(),
  );
  lines.push(`measured ${seconds(measured)} vs estimated ${seconds(estimated)}${delta}${mode}`);
  // The agents' clocks around each hypervisor call: how together each vjob was paused and unpaused.
  for (const g of pauseGroupSkews(seen.timed)) lines.push(formatGroupSkew(g));
  if (!ok) {
    lines.push(
      `${end.counts.done} of ${end.counts.total} actions done, ${end.counts.failed} failed, ${end.counts.total - end.counts.done - end.counts.failed} not started`,
    );
    for (const f of seen.failures) {
      const a = f.actionId ? byWireId.get(f.actionId) : undefined;
      const n = f.actionId ? plan.nodeActions?.find((x) => `${planId}:${x.id}` === f.actionId) : undefined;
      lines.push(
        `  failed: ${a ? `${a.id} ${a.type} ${a.vm}` : n ? `${n.id} ${n.type} ${n.node}` : f.actionId}: ${f.error?.code ?? ''} ${f.error?.message ?? ''}`,
      );
    }
    if (seen.undone.length > 0)
      lines.push(`  undone: ${seen.undone.length} paused VMs unpaused (their vjob's pause was not complete)`);
  }
  return { output: lines.join('\n'), exitCode: ok ? ApplyExit.Ok : ApplyExit.Failed };
}
