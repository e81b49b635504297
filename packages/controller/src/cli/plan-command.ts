import {
  contextSwitch,
  type CostModelOverrides,
  costModelWith,
  entropyExportContext,
  explainInfeasible,
  exportContextOf,
  type InstanceFormat,
  readInstanceAs,
  writeBtrPlacePlan,
} from '@entropy/engine';
import { readCostModelFile } from './cost-model-option.ts';
import { formatPlan } from './format-plan.ts';
import { readJsonFile, type CommandResult } from '../command-io/io.ts';
import type { OUTPUT_FORMATS } from './help-texts.ts';

export interface PlanCommandOptions {
  readonly json?: boolean;
  readonly timeLimit?: number;
  /** Search nodes the placement improvement may explore (deterministic). */
  readonly workBudget?: number;
  /** The instance file's format: Entropy's own (default) or BtrPlace's instance JSON. */
  readonly format?: InstanceFormat;
  /** With `btrplace`, the plan is written as BtrPlace's plan JSON (implies JSON output). */
  readonly outputFormat?: (typeof OUTPUT_FORMATS)[number];
  /** A cost-model file: the model to plan with; an Entropy instance's own `costModel` overrides still apply over it. */
  readonly costModel?: string;
}

/** `entropy plan FILE`: exit 0 with a plan, 2 when the instance is infeasible. */
export function planCommand(file: string, options: PlanCommandOptions = {}): CommandResult {
  const json = readJsonFile(file);
  const instance = readInstanceAs(options.format ?? 'entropy', json, file);
  const { btrplace } = instance;
  const costModel = options.costModel
    ? costModelWith(btrplace ? {} : ownOverrides(json), readCostModelFile(options.costModel))
    : instance.costModel;
  const plan = contextSwitch(instance.configuration, instance.decision, costModel, {
    ...(btrplace ? { durations: btrplace.durations } : {}),
    ...(btrplace?.network ? { network: btrplace.network } : {}),
    ...(instance.constraints.length > 0 ? { constraints: instance.constraints } : {}),
    ...(options.timeLimit !== undefined ? { timeLimitMs: options.timeLimit } : {}),
    ...(options.workBudget !== undefined ? { workBudget: options.workBudget } : {}),
  });
  const exitCode = plan.feasible ? 0 : 2;
  // No plan: the minimal set of constraints and starts that has none, so that a lack of room is not blamed for it.
  const conflict = plan.feasible
    ? undefined
    : explainInfeasible(instance.configuration, instance.decision, costModel, {
        constraints: instance.constraints,
        ...(btrplace ? { durations: btrplace.durations } : {}),
        ...(btrplace?.network ? { network: btrplace.network } : {}),
        ...(options.timeLimit !== undefined ? { timeLimitMs: options.timeLimit } : {}),
      });
  if (!plan.feasible && conflict) {
    const explained = { ...plan, conflict };
    if (options.outputFormat === 'btrplace' || options.json)
      return { output: JSON.stringify(explained, null, options.json ? 2 : undefined), exitCode };
    return { output: `infeasible: ${conflict.sentence}\n  engine: ${plan.reason}`, exitCode };
  }
  if (options.outputFormat === 'btrplace') {
    const context = btrplace
      ? exportContextOf(btrplace)
      : entropyExportContext(instance.configuration, instance.constraints);
    const out = plan.feasible ? writeBtrPlacePlan(plan, context) : plan;
    return { output: JSON.stringify(out), exitCode };
  }
  const output = options.json ? JSON.stringify(plan, null, 2) : formatPlan(plan);
  return { output, exitCode };
}

/** An instance file's own cost-model overrides (already validated by readInstanceAs). */
function ownOverrides(json: unknown): CostModelOverrides {
  return (json as { costModel?: CostModelOverrides }).costModel ?? {};
}
