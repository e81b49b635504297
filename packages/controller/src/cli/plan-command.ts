import { contextSwitch } from '../engine/context-switch.ts';
import { parseInstance } from '../instance/parse-instance.ts';
import { formatPlan } from './format-plan.ts';
import { readJsonFile, type CommandResult } from './io.ts';

export interface PlanCommandOptions {
  readonly json?: boolean;
  readonly timeLimit?: number;
}

/** `entropy plan FILE`: exit 0 with a plan, 2 when the instance is infeasible. */
export function planCommand(file: string, options: PlanCommandOptions = {}): CommandResult {
  const instance = parseInstance(readJsonFile(file), file);
  const plan = contextSwitch(instance.configuration, instance.decision, instance.costModel, {
    timeLimitMs: options.timeLimit,
  });
  const output = options.json ? JSON.stringify(plan, null, 2) : formatPlan(plan);
  return { output, exitCode: plan.feasible ? 0 : 2 };
}
