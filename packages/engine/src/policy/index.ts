export type {
  Policy,
  PolicyFactory,
  PolicyHints,
  PolicyReason,
  PolicyView,
  QueuedVJob,
  QueuedVM,
  Shortage,
} from './policy.ts';
export { buildPolicyView, MAX_NAMED_AHEAD, Sizing } from './policy.ts';
export { vjobStateOf } from '../model/lifecycle.ts';
export { InvalidDecisionError, PolicyError, PolicyErrorCode } from './policy-errors.ts';
export { currentStates, validateDecision } from './validate-decision.ts';
export { decideSafely, type SafeDecision } from './decide-safely.ts';
export { BUILTIN_POLICIES } from './builtin-policies.ts';
export { fcfs } from './fcfs.ts';
export { fifoFfd, estimatedUse, DEFAULT_AGING_PERIOD_MS, type FifoFfdOptions } from './fifo-ffd.ts';
export { consolidate } from './consolidate.ts';
