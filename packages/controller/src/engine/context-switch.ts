import type { Configuration, Decision } from '../model/configuration.ts';
import type { CostModel } from '../model/cost-model.ts';
import type { Plan } from '../model/plan.ts';

export interface ContextSwitchOptions {
  /** Budget for the optional improvement and exact phases; the heuristic always runs to the end. */
  readonly timeLimitMs?: number;
}

export const DEFAULT_TIME_LIMIT_MS = 2000;

/**
 * The cluster-wide context switch: a pure function from the current configuration and the
 * policy's decision to a plan whose every instant is viable. No I/O, no clock but solveMs.
 */
export function contextSwitch(
  configuration: Configuration,
  decision: Decision,
  costModel: CostModel,
  options: ContextSwitchOptions = {},
): Plan {
  void configuration; void decision; void costModel; void options;
  throw new Error('not implemented yet');
}
