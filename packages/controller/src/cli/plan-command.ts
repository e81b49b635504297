import { entropyExportContext, exportContextOf, readBtrPlaceInstance, writeBtrPlacePlan, type PlanExportContext } from '../btrplace/index.ts';
import type { Constraint } from '../constraints/constraint.ts';
import { contextSwitch, type ContextSwitchOptions } from '../engine/context-switch.ts';
import { EntropyError, ErrorCode } from '../errors.ts';
import { parseInstance } from '../instance/parse-instance.ts';
import type { Configuration, Decision } from '../model/configuration.ts';
import type { CostModel } from '../model/cost-model.ts';
import { formatPlan } from './format-plan.ts';
import { readJsonFile, type CommandResult } from './io.ts';

/** Instance file formats `entropy plan` reads, and plan formats it writes. */
export const INPUT_FORMATS = ['entropy', 'btrplace'] as const;
export const OUTPUT_FORMATS = ['entropy', 'btrplace'] as const;

export interface PlanCommandOptions {
  readonly json?: boolean;
  readonly timeLimit?: number;
  /** The instance file's format: Entropy's own (default) or BtrPlace's instance JSON. */
  readonly format?: (typeof INPUT_FORMATS)[number];
  /** With `btrplace`, the plan is written as BtrPlace's plan JSON (implies JSON output). */
  readonly outputFormat?: (typeof OUTPUT_FORMATS)[number];
}

interface Loaded {
  readonly configuration: Configuration;
  readonly decision: Decision;
  readonly costModel: CostModel;
  readonly options: ContextSwitchOptions;
  readonly exportContext: () => PlanExportContext;
}

function load(file: string, format: PlanCommandOptions['format'] = 'entropy'): Loaded {
  const json = readJsonFile(file);
  if (format === 'btrplace') {
    const i = readBtrPlaceInstance(json, file);
    return { ...i, options: { constraints: i.constraints, durations: i.durations }, exportContext: () => exportContextOf(i) };
  }
  if (format !== 'entropy') throw new EntropyError(ErrorCode.InvalidInstance, `unknown format '${String(format)}' (expected ${INPUT_FORMATS.join(' or ')})`);
  const i = parseInstance(json, file);
  const constraints: readonly Constraint[] = [];
  return { ...i, options: {}, exportContext: () => entropyExportContext(i.configuration, constraints) };
}

/** `entropy plan FILE`: exit 0 with a plan, 2 when the instance is infeasible. */
export function planCommand(file: string, options: PlanCommandOptions = {}): CommandResult {
  const instance = load(file, options.format);
  const plan = contextSwitch(instance.configuration, instance.decision, instance.costModel, {
    ...instance.options,
    timeLimitMs: options.timeLimit,
  });
  const exitCode = plan.feasible ? 0 : 2;
  if (options.outputFormat === 'btrplace') {
    const out = plan.feasible ? writeBtrPlacePlan(plan, instance.exportContext()) : plan;
    return { output: JSON.stringify(out), exitCode };
  }
  const output = options.json ? JSON.stringify(plan, null, 2) : formatPlan(plan);
  return { output, exitCode };
}
