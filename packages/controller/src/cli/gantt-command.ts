import { EntropyError, ErrorCode, silentLogger, TOKEN_RE } from '@entropy/protocol';
import { connectNats, type NatsAuthFlags } from '../controller/nats-connect.ts';
import { type GanttPlan, ganttSvg } from '../gantt/gantt-svg.ts';
import { planFromJournal } from '../gantt/journal-plan.ts';
import type { MeasuredAction } from '../gantt/measured-actions.ts';
import { parsePlan } from '@entropy/engine';
import { StreamJournal } from '../journal/stream-journal.ts';
import { readJsonFile, type CommandResult, writeTextFile } from '../command-io/io.ts';

export interface GanttCommandOptions extends NatsAuthFlags {
  readonly out: string;
  /** A plan's id in the journal (JetStream stream PREFIX_journal), instead of a plan file. */
  readonly plan?: string;
  readonly prefix?: string;
}

/** `entropy gantt PLAN | --plan ID`: writes a Gantt chart (SVG) of a plan, planned and, from the journal, measured. */
export async function ganttCommand(file: string | undefined, options: GanttCommandOptions): Promise<CommandResult> {
  if ((file === undefined) === (options.plan === undefined))
    throw new EntropyError(
      ErrorCode.InvalidPlan,
      'gantt: give a plan file or --plan ID (a plan in the journal), not both',
    );
  const { plan, measured, title } = file !== undefined ? fromFile(file) : await fromJournal(options.plan!, options);
  const svg = ganttSvg(plan, measured, { title });
  writeTextFile(options.out, svg);
  const count = plan.actions.length + (plan.nodeActions?.length ?? 0);
  return {
    output: `wrote ${options.out}: ${count} actions${measured ? `, ${measured.length} measured` : ''}`,
    exitCode: 0,
  };
}

function fromFile(file: string): { plan: GanttPlan; measured?: MeasuredAction[]; title: string } {
  const plan = parsePlan(readJsonFile(file, ErrorCode.InvalidPlan), file);
  if (!plan.feasible)
    throw new EntropyError(
      ErrorCode.InvalidPlan,
      `${file}: $.feasible: the plan is infeasible (${plan.reason}): nothing to draw`,
    );
  return { plan, title: `plan ${file}` };
}

async function fromJournal(
  planId: string,
  options: GanttCommandOptions,
): Promise<{ plan: GanttPlan; measured: MeasuredAction[]; title: string }> {
  const prefix = options.prefix ?? 'entropy';
  if (!TOKEN_RE.test(planId))
    throw new EntropyError(
      ErrorCode.InvalidPlan,
      `--plan: ${JSON.stringify(planId)} is not a plan id (${TOKEN_RE.source})`,
    );
  const nc = await connectNats(options, 'entropy-gantt');
  try {
    const journal = await StreamJournal.existing(nc, { prefix, logger: silentLogger });
    const records = await journal.read(planId);
    if (records.length === 0)
      throw new EntropyError(ErrorCode.InvalidPlan, `--plan: no plan ${planId} in the journal of prefix ${prefix}`);
    const { plan, measured } = planFromJournal(records);
    return { plan, measured, title: `plan ${planId}` };
  } finally {
    await nc.close();
  }
}
