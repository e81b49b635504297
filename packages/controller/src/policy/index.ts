export type { Policy, PolicyFactory, PolicyHints, PolicyView, QueuedVJob, QueuedVM } from './policy.ts';
export { buildPolicyView, Sizing, vjobStateOf } from './policy.ts';
export { InvalidDecisionError, PolicyError, PolicyErrorCode } from './policy-errors.ts';
export { currentStates, validateDecision } from './validate-decision.ts';
export { decideSafely, type SafeDecision } from './decide-safely.ts';
export { BUILTIN_POLICIES, loadPolicy } from './load-policy.ts';
export { fcfs } from './fcfs.ts';
export { fifoFfd, estimatedUse, DEFAULT_AGING_PERIOD_MS, type FifoFfdOptions } from './fifo-ffd.ts';
export { consolidate } from './consolidate.ts';
